"""HTML pages (latent map, run report): safe embedding, content, and rendering in Chromium."""

import base64
import dataclasses
import gzip
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from molvae import chem
from molvae.latent.maps import LatentMap
from molvae.reporting.report import (
    REPORT_PROPERTIES,
    RunData,
    build_run_report,
    collect_run,
    embed_json,
    load_metrics,
    locate_run,
    map_page,
    render_run,
)
from tests.browser import render
from tests.conftest import TEST_SAMPLE

PNG = b"\x89PNG\r\n\x1a\n"


def synthetic_map(n: int = 40, extra_name: str = "pIC50") -> LatentMap:
    """A map of real molecules at random coordinates (no model needed), some without values."""
    smiles = pd.read_csv(TEST_SAMPLE)["SMILES"].head(n).map(chem.canonical_smiles).tolist()
    rng = np.random.default_rng(0)
    color = rng.normal(size=n)
    color[::7] = np.nan
    return LatentMap(
        xy=rng.normal(size=(n, 2)),
        smiles=smiles,
        rows=np.arange(1, n + 1) * 10,
        color_name="logP",
        color=color,
        method="pca",
        label="PCA",
        axes=("PC 1", "PC 2"),
        extra={extra_name: rng.uniform(4, 9, size=n)},
        n_input=n,
    )


def embedded_data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def structures(data: dict) -> list[str]:
    return json.loads(gzip.decompress(base64.b64decode(data["structures"])))


def test_embed_json_cannot_close_its_script_element():
    data = {"a": "</script><script>alert(1)</script>", "b": "<!-- x -->", "c": [1.5, float("nan")],
            "d": np.float32(2.5), "e": np.arange(3)}
    text = embed_json(data)
    assert "</" not in text and "<!--" not in text and "<" not in text
    assert json.loads(text) == {"a": data["a"], "b": data["b"], "c": [1.5, None], "d": 2.5,
                                "e": [0, 1, 2]}


def test_map_page_is_self_contained_and_caps_structures():
    lmap = synthetic_map(40)
    page = map_page(lmap, title="map <of> things", max_structures=25)
    assert "map &lt;of&gt; things" in page and "map <of> things" not in page
    # Nothing is fetched: no external script, style sheet, image or font.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page
    assert "structures embedded for 25 of 40 points" in page
    data = embedded_data(page)
    assert len(data["x"]) == 40 and data["rows"][:2] == [10, 20]
    assert data["nStructures"] == 25 and sum(i >= 0 for i in data["structureIndex"]) == 25
    svgs = structures(data)
    assert len(svgs) == 25 and all(s.startswith("<svg") for s in svgs)
    assert data["color"]["values"][0] is None  # NaN travels as null
    assert "<?xml" not in svgs[0] and " class=" not in svgs[0]


def test_map_page_escapes_column_names():
    page = map_page(synthetic_map(10, extra_name="</script><b>x"))
    assert "</script><b>x" not in page
    assert "</script><b>x" in embedded_data(page)["extra"]


def test_load_metrics_skips_a_torn_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"split": "train", "step": 5, "loss": 3}\n{"split": "train", "st')
    frame, bad = load_metrics(path)
    assert len(frame) == 1 and bad == 1


def test_locate_run(tiny_run, tmp_path):
    assert locate_run(tiny_run) == (tiny_run, tiny_run / "model")
    assert locate_run(tiny_run / "model") == (tiny_run, tiny_run / "model")
    copy = tmp_path / "model_only"
    shutil.copytree(tiny_run / "model", copy)
    assert locate_run(copy) == (None, copy)


def test_run_report_has_every_section(tiny_run):
    report = build_run_report(tiny_run, n_samples=100, map_points=20, device="cpu")
    assert report.missing == []
    assert report.sections == ["training curves", "metrics", "sample grid",
                               "property histograms", "latent map"]
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', report.html)
    assert len(pngs) == 3 and all(base64.b64decode(p).startswith(PNG) for p in pngs)
    assert "val_recon" in report.html and "logP" in report.html
    assert len(embedded_data(report.html)["x"]) == 20


def without_date(page: str) -> str:
    """The page without its "made on" time, which can change between two builds."""
    return re.sub(r"(Made by molvae \S+ on )[\d-]+ [\d:]+ UTC", r"\1DATE", page)


def test_collect_run_then_render_run_is_the_run_report(tiny_run):
    options = dict(n_samples=100, map_points=20, device="cpu")
    data = collect_run(tiny_run, **options)
    assert isinstance(data, RunData)
    assert (data.run_dir, data.model_dir) == (tiny_run, tiny_run / "model")
    assert data.title == f"molvae report: {tiny_run}" and data.seed == 0
    assert dict(data.info)["latent dimensions"] == 8
    assert data.metrics is not None and "step" in data.metrics and data.metrics_bad_lines == 0
    assert data.metrics_path == tiny_run / "metrics.jsonl"
    assert "val_recon" in data.validation_metrics
    assert dict(data.sample_stats)["decoded from the prior"] == 100
    assert 0 < len(data.grid_smiles) <= 20
    assert data.property_names == list(REPORT_PROPERTIES)
    assert data.sample_properties.shape[1] == len(REPORT_PROPERTIES)
    assert data.reference_label == "training set"
    n_train = len((tiny_run / "data" / "train.smi").read_text().split())
    assert data.reference_properties.shape == (n_train, len(REPORT_PROPERTIES))
    assert data.map_source == "validation molecules" and len(data.latent_map.smiles) == 20
    assert data.missing == {}

    report = render_run(data)
    built = build_run_report(tiny_run, **options)
    assert without_date(report.html) == without_date(built.html)
    assert (report.missing, report.sections) == (built.missing, built.sections)

    # Rendering uses the data alone: leave things out and the page says so.
    bare = dataclasses.replace(
        data,
        metrics=None,
        latent_map=None,
        missing={"training curves": "training curves: none <here>", "latent map": "no map"},
    )
    page = render_run(bare)
    assert page.sections == ["metrics", "sample grid", "property histograms"]
    assert page.missing == ["training curves: none <here>", "no map"]
    assert '<p class="missing">training curves: none &lt;here&gt;</p>' in page.html
    assert 'class="mv-map"' not in page.html


def test_report_of_a_model_directory_says_what_is_missing(tiny_run, tmp_path):
    copy = tmp_path / "model_only"
    shutil.copytree(tiny_run / "model", copy)
    report = build_run_report(copy, n_samples=50, map_points=10, device="cpu")
    assert any("no metrics.jsonl" in m for m in report.missing)
    assert any("--reference" in m for m in report.missing)
    assert "training curves" not in report.sections and "latent map" in report.sections
    with_reference = build_run_report(copy, reference=TEST_SAMPLE, n_samples=50, map_points=10,
                                      device="cpu")
    assert not any("--reference" in m for m in with_reference.missing)
    assert "moses_test_sample.csv" in with_reference.html


# ------------------------------------------------------------------ in a real browser


@pytest.mark.browser
def test_map_page_renders_in_chromium(chromium, tmp_path):
    lmap = synthetic_map(40, extra_name="</script><b>x")
    page = tmp_path / "map.html"
    page.write_text(map_page(lmap, max_structures=25))
    shown = render(chromium, page, tmp_path / "profile")
    assert shown.console == [] and shown.attribute("<body", "data-js-error") is None
    assert shown.attribute('class="mv-map"', "data-points-drawn") == "40"
    assert shown.attribute('class="mv-map"', "data-structures") == "25"
    assert int(shown.attribute('class="mv-map"', "data-structure-shown") or 0) > 0
    assert "data:image/svg+xml" in shown.dom  # the first point's structure, drawn lazily

    # #row=N pins that row through the same hit-testing as a click.
    index = embedded_data(page.read_text())["structureIndex"]
    with_structure = next(i for i, s in enumerate(index) if s >= 0 and i > 0)
    without = next(i for i, s in enumerate(index) if s < 0)
    row = int(lmap.rows[with_structure])
    pinned = render(chromium, page, tmp_path / "profile", fragment=f"row={row}")
    assert pinned.attribute('class="mv-map"', "data-selected-row") == str(row)
    assert lmap.smiles[with_structure] in pinned.dom and pinned.console == []
    bare = render(chromium, page, tmp_path / "profile", fragment=f"row={lmap.rows[without]}")
    assert "structure not embedded (only 25 of 40 points carry one)" in bare.dom


@pytest.mark.browser
def test_run_report_renders_in_chromium(chromium, tiny_run, tmp_path):
    report = build_run_report(tiny_run, n_samples=100, map_points=20, device="cpu")
    page = tmp_path / "report.html"
    page.write_text(report.html)
    shown = render(chromium, page, tmp_path / "profile")
    assert shown.console == [] and shown.attribute("<body", "data-js-error") is None
    assert shown.attribute("<body", "data-figures") == "3/3"
    assert shown.attribute('class="mv-map"', "data-points-drawn") == "20"
    assert int(shown.attribute('class="mv-map"', "data-structure-shown") or 0) > 0
