"""Self-contained HTML: the interactive latent map and the training-run report.

Pages work offline from a single file: no CDN, no external script, style sheet or font. Charts
are matplotlib PNGs embedded as base64 data URIs (:mod:`molvae.reporting.figures`); the latent
map is drawn by a small plain-JavaScript canvas plot (``assets/latent_map.js``) from JSON embedded
in the page.
Hovering or clicking a point shows its structure, drawn by RDKit as SVG when the page is made
and shown lazily. The SVGs are gzipped into one base64 string that the browser unpacks with its
built-in ``DecompressionStream`` (a few hundred structure drawings compress about 4x), so
thousands of structures keep the file to a few MB; ``max_structures`` caps them and the page
says so.

The run report is made in two stages: :func:`collect_run` gathers a :class:`RunData` (loads the
model, samples, encodes; no HTML) and :func:`render_run` draws the page from it alone;
:func:`build_run_report` does both.

All text from data (SMILES, column names, paths) is escaped with :func:`html.escape`; embedded
JSON has ``<``, ``>`` and ``&`` written as ``\\u003c``-style escapes, so no value can close the
``<script>`` element that holds it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import gzip
import html
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import pandas as pd

from molvae import chem
from molvae._version import __version__
from molvae.data.encoding import compute_property_matrix
from molvae.data.index import training_set_index
from molvae.data.tables import read_molecules
from molvae.errors import MolvaeError
from molvae.generation.model import MolVAE
from molvae.latent.maps import LatentMap, latent_map
from molvae.models.store import resolve_model_path
from molvae.reporting import figures
from molvae.settings import DecodeSettings
from molvae.training.verdicts import (
    Verdict,
    critic_verdict,
    model_verdict,
    property_verdicts,
    sample_stats,
)

__all__ = [
    "DEFAULT_MAX_STRUCTURES",
    "REPORT_PROPERTIES",
    "RunData",
    "RunReport",
    "build_run_report",
    "collect_run",
    "embed_json",
    "load_metrics",
    "locate_run",
    "map_page",
    "render_run",
]

DEFAULT_MAX_STRUCTURES = 2000
HOW_TO = (
    "Hover over a point to see its molecule, click to pin it; add #row=N to the address to open "
    "the page with input row N pinned."
)
REPORT_PROPERTIES = ("logP", "QED", "SA", "MW", "TPSA")


# --------------------------------------------------------------------------------------------
# Safe embedding
# --------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-ready copy of ``value``: numpy scalars and arrays to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray | pd.Series):
        return [_plain(v) for v in list(value)]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if value is pd.NA:
        return None
    return value


def embed_json(data: Any) -> str:
    """JSON text safe to place inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e``, ``\\u0026``: still the same JSON
    for ``JSON.parse``, but a value holding ``</script>`` or ``<!--`` cannot end the element.
    """
    text = json.dumps(_plain(data), allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _data_uri_png(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _round(values: np.ndarray, digits: int = 4) -> list[float | None]:
    return _plain(np.round(np.asarray(values, dtype=np.float64), digits))


# --------------------------------------------------------------------------------------------
# The interactive map (shared by ``molvae map`` pages and the run report)
# --------------------------------------------------------------------------------------------

def _asset(name: str) -> str:
    """Text of a file in ``molvae/assets`` (inlined into pages: they must work offline)."""
    return resources.files("molvae").joinpath("assets", name).read_text(encoding="utf-8")


# assets/latent_map.js is plain JavaScript, no library: a canvas scatter plot with axes, a
# viridis colour scale, nearest-point hover through a grid index, click to pin, and lazily
# drawn structures. It also marks the page with data-* attributes (points drawn, structure
# shown, figures decoded, JS errors) that let automated checks see what the page rendered.

_MAP_FRAGMENT = Template(
    """<div class="mv-map" data-source="$source_id">
<div class="mv-plot"><canvas></canvas>
<div class="mv-legend">$legend</div></div>
<div class="mv-info"><div class="mv-structure">loading...</div><div class="mv-smiles"></div>
<table class="mv-values"></table>
<div class="mv-hint">Hover over a point to see its molecule; click to pin it.</div></div>
</div>
<script type="application/json" id="$source_id">$data</script>"""
)

_PAGE = Template(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title><style>$css</style></head>
<body><main>
$content
<p class="sub">Made by molvae $version on $date. This file is self-contained and works offline.</p>
</main><script>$js</script></body></html>
"""
)


def _structures_blob(
    smiles: Sequence[str], max_structures: int, seed: int
) -> tuple[list[int], str]:
    """Per-point index into the embedded drawings (-1: none) and the gzipped JSON, base64."""
    n = len(smiles)
    chosen = np.arange(n)
    if n > max_structures:
        chosen = np.sort(np.random.default_rng(seed).choice(n, max_structures, replace=False))
    index = [-1] * n
    svgs: list[str] = []
    for i in chosen:
        svg = chem.mol_to_svg(smiles[i])
        if svg is not None:
            index[int(i)] = len(svgs)
            svgs.append(svg)
    if not svgs:
        return index, ""
    packed = gzip.compress(json.dumps(svgs).encode("utf-8"), compresslevel=9, mtime=0)
    return index, base64.b64encode(packed).decode("ascii")


def map_fragment(
    lmap: LatentMap,
    source_id: str = "mv-map-data",
    max_structures: int = DEFAULT_MAX_STRUCTURES,
    seed: int = 0,
) -> str:
    """HTML of an interactive map (plot, colour bar, info panel) with its data embedded.

    Pages including it must also inline ``assets/latent_map.js`` and ``assets/page.css``
    (as :func:`map_page` and the run report do).
    At most ``max_structures`` points (a seeded random subset) carry a structure drawing.
    """
    index, blob = _structures_blob(lmap.smiles, max(0, max_structures), seed)
    data = {
        "x": _round(lmap.xy[:, 0], 5),
        "y": _round(lmap.xy[:, 1], 5),
        "axes": list(lmap.axes),
        "color": None
        if lmap.color is None
        else {"name": lmap.color_name, "values": _round(lmap.color)},
        "smiles": list(lmap.smiles),
        "rows": [int(r) for r in lmap.rows],
        "extra": {k: _round(v) for k, v in lmap.extra.items()},
        "structureIndex": index,
        "nStructures": sum(i >= 0 for i in index),
        "structures": blob,
    }
    if lmap.color is not None:
        legend = (
            f'<span>{_e(lmap.color_name)}</span><span class="mv-min"></span>'
            '<span class="mv-bar"></span><span class="mv-max"></span>'
        )
        n_missing = int((~np.isfinite(lmap.color)).sum())
        if n_missing:
            legend += f"<span>grey: no value ({n_missing:,})</span>"
    else:
        legend = "<span>not coloured</span>"
    return _MAP_FRAGMENT.substitute(source_id=_e(source_id), legend=legend, data=embed_json(data))


def _page(title: str, content: str) -> str:
    return _PAGE.substitute(
        title=_e(title),
        css=_asset("page.css"),
        content=content,
        version=_e(__version__),
        date=_e(_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        js=_asset("latent_map.js"),
    )


def _map_notes(lmap: LatentMap, max_structures: int) -> list[str]:
    notes = []
    if lmap.note:
        notes.append(lmap.note)
    if len(lmap.smiles) > max_structures:
        notes.append(
            f"structures embedded for {max_structures:,} of {len(lmap.smiles):,} points "
            "(random subset, --max-structures) to keep the file small"
        )
    if len(lmap.rejects):
        notes.append(f"{len(lmap.rejects):,} molecules could not be encoded and are not shown")
    return notes


def map_page(
    lmap: LatentMap,
    title: str = "molvae latent map",
    subtitle: str = "",
    max_structures: int = DEFAULT_MAX_STRUCTURES,
    seed: int = 0,
) -> str:
    """A standalone HTML page holding one interactive latent map."""
    notes = "".join(f'<p class="sub">{_e(n)}</p>' for n in _map_notes(lmap, max_structures))
    colour = f", coloured by {lmap.color_name}" if lmap.color_name else ""
    content = (
        f"<h1>{_e(title)}</h1>"
        f'<p class="sub">{_e(subtitle)} {len(lmap.smiles):,} molecules, {_e(lmap.label)} '
        f"projection of the encoder means (mu){_e(colour)}. {_e(HOW_TO)}</p>{notes}"
        + map_fragment(lmap, max_structures=max_structures, seed=seed)
    )
    return _page(title, content)


# --------------------------------------------------------------------------------------------
# The run report
# --------------------------------------------------------------------------------------------


def locate_run(model: str | Path | None) -> tuple[Path | None, Path]:
    """``(run directory or None, model directory)`` for a run dir, model dir or bundled name.

    A model directory inside a run directory (``RUN/model``) is traced back to its run, so
    its training curves are found too.
    """

    model_dir = resolve_model_path(model)
    candidates = [model_dir.parent]
    if model is not None and Path(model).is_dir():
        candidates.insert(0, Path(model))
    for candidate in candidates:
        if (candidate / "metrics.jsonl").is_file() or (candidate / "run.json").is_file():
            return candidate, model_dir
    return None, model_dir


def load_metrics(path: Path) -> tuple[pd.DataFrame, int]:
    """Rows of a ``metrics.jsonl`` as a DataFrame, and how many lines could not be parsed.

    A run killed while writing leaves at most a torn last line; it is counted, not fatal.
    """
    rows, bad = [], 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad += 1
    frame = pd.DataFrame(rows)
    if len(frame) and "step" in frame:
        frame = frame.sort_values("step", kind="stable")
    return frame, bad


def _read_smiles_lines(path: Path) -> list[str]:
    return [s for s in path.read_text(encoding="utf-8").split("\n") if s.strip()]


def _subsample(items: list[str], n: int, seed: int) -> list[str]:
    if len(items) <= n:
        return items
    keep = np.sort(np.random.default_rng(seed).choice(len(items), n, replace=False))
    return [items[i] for i in keep]


@dataclass
class RunReport:
    """The report's HTML and what could not be included (each a one-line reason)."""

    html: str
    missing: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)


def _metrics_table(items: Sequence[tuple[str, object]]) -> str:
    cells = []
    for name, value in items:
        if isinstance(value, float):
            text = f"{value:.4g}"
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = str(value)
        cells.append(f'<tr><th>{_e(name)}</th><td class="num">{_e(text)}</td></tr>')
    return f'<table class="metrics">{"".join(cells)}</table>'


def _property_table(metrics: dict[str, dict]) -> str:
    head = "<tr><th>property</th><th>R^2</th><th>MAE</th><th>n</th></tr>"
    body = []
    for name, m in metrics.items():
        r2, mae, n = m.get("r2"), m.get("mae"), m.get("n")
        body.append(
            f"<tr><td>{_e(name)}</td>"
            f'<td class="num">{_e(f"{r2:.3f}" if isinstance(r2, int | float) else "n/a")}</td>'
            f'<td class="num">{_e(f"{mae:.4g}" if isinstance(mae, int | float) else "n/a")}</td>'
            f'<td class="num">{_e(f"{n:,}" if isinstance(n, int) else "n/a")}</td></tr>'
        )
    return f'<table class="metrics">{head}{"".join(body)}</table>'


def _figure(png: bytes, alt: str) -> str:
    return f'<img class="figure" alt="{_e(alt)}" src="{_data_uri_png(png)}">'


def _missing(text: str) -> str:
    return f'<p class="missing">{_e(text)}</p>'


@dataclass(kw_only=True)
class RunData:
    """Everything a run report shows, gathered from the model and its run directory; no HTML.

    :func:`collect_run` makes it (loading the model, sampling, encoding); :func:`render_run`
    turns it into the page without touching the model. ``missing`` holds why something could
    not be included, keyed by the page section that shows the note (the names of
    ``RunReport.sections``), in page order.
    """

    title: str
    model_dir: Path
    run_dir: Path | None  # None: a model directory or bundled model, not a training run
    seed: int
    info: list[tuple[str, object]]  # the model table at the top of the page

    # Training curves: the rows of the run's metrics.jsonl (None: nothing to plot) and how many
    # of its lines could not be read (None: no metrics.jsonl).
    metrics_path: Path | None
    metrics: pd.DataFrame | None
    metrics_bad_lines: int | None

    # Validation metrics of the best model, as its config.json records them (the page shows the
    # numeric ones), and the latent property predictor's per-property R^2 / MAE / n.
    validation_metrics: dict[str, Any]
    property_metrics: dict[str, dict]

    # Samples decoded from the prior: the statistics table and the molecules of the grid.
    sample_stats: list[tuple[str, object]]
    grid_smiles: list[str]

    # Property histograms: one column per name, rows are valid samples / reference molecules.
    property_names: list[str]
    sample_properties: np.ndarray
    reference_properties: np.ndarray | None
    reference_label: str

    # The latent map (None: fewer than 2 molecules to show) and what its points are.
    map_source: str
    latent_map: LatentMap | None

    missing: dict[str, str] = field(default_factory=dict)
    # Whether the model and each of its heads is usable yet (molvae.training.verdicts): the
    # model's first, judged from its validation metrics and the samples above.
    verdicts: list[Verdict] = field(default_factory=list)


def collect_run(
    model: str | Path | None,
    reference: str | Path | None = None,
    n_samples: int = 1000,
    map_points: int = 1000,
    properties: Sequence[str] = REPORT_PROPERTIES,
    seed: int = 0,
    device: str = "auto",
    status: Callable[[str], None] = lambda s: None,
) -> RunData:
    """Gather what the report of a training run shows (see :func:`build_run_report`).

    Loads the model, reads the run's files, samples ``n_samples`` molecules from the prior,
    computes their properties and those of the reference, and encodes up to ``map_points``
    molecules for the latent map. What cannot be gathered is noted in ``RunData.missing``.
    """

    if n_samples < 1:
        raise MolvaeError(f"--samples must be at least 1, got {n_samples}")
    try:
        names = [chem.get_property(p).name for p in properties]
    except KeyError as exc:
        raise MolvaeError(str(exc.args[0])) from None
    run_dir, model_dir = locate_run(model)
    status(f"model: {model_dir}" + (f" (run {run_dir})" if run_dir else ""))
    vae = MolVAE.load(model_dir, device=device)
    bundle = vae.bundle
    missing: dict[str, str] = {}

    cfg = vae.model.config
    info: list[tuple[str, object]] = [
        ("model directory", str(model_dir)),
        ("representation", bundle.representation),
        ("latent dimensions", cfg.latent_dim),
        ("vocabulary", len(bundle.vocabulary)),
        ("property heads", ", ".join(cfg.all_properties) or "none"),
    ]
    training = bundle.training or {}
    for key, label in (
        ("train_molecules", "training molecules"),
        ("steps", "steps"),
        ("wall_seconds", "training wall time (s)"),
        ("hardware", "hardware"),
        ("saved_at", "saved at"),
    ):
        if training.get(key) is not None:
            info.append((label, training[key]))

    # -- training curves
    metrics_path = run_dir / "metrics.jsonl" if run_dir else None
    metrics: pd.DataFrame | None = None
    bad: int | None = None
    if metrics_path is not None and metrics_path.is_file():
        frame, bad = load_metrics(metrics_path)
        if len(frame) and "step" in frame:
            metrics = frame
        else:
            missing["training curves"] = (
                f"training curves: {metrics_path} holds no metric rows yet"
            )
    else:
        where = run_dir or model_dir
        missing["training curves"] = (
            f"training curves: no metrics.jsonl ({where} is a model directory, not a training "
            "run directory; pass the directory given to `molvae train --out`)"
        )

    # -- validation metrics
    if not bundle.metrics:
        missing["metrics"] = "validation metrics: the model's config.json records none"

    # -- samples
    status(f"sampling {n_samples:,} molecules")
    # Raw draws (every string as decoded), so the report shows how often the model writes a
    # molecule the way its training data do: the share the default sampler keeps.
    samples = vae.decode(
        vae.sample_prior(n_samples, seed),
        DecodeSettings(strategy="sample"),
        seed=seed,
        check_form=True,
    )
    valid = samples.loc[samples["valid"], "canonical"].tolist()
    unique = list(dict.fromkeys(valid))
    in_form = samples.loc[samples["canonical_form"], "canonical"].tolist()
    stats: list[tuple[str, object]] = [
        ("decoded from the prior", len(samples)),
        ("valid", f"{len(valid) / len(samples):.1%}"),
        ("unique among valid", f"{len(unique) / max(len(valid), 1):.1%}"),
        ("in canonical form (kept by `molvae sample`)", f"{len(in_form) / len(samples):.1%}"),
    ]
    index = training_set_index(vae.path)
    if index is not None and unique:
        novel = ~index.contains(unique)
        stats.append(("novel among unique", f"{novel.mean():.1%}"))
    verdicts = [
        model_verdict(bundle.metrics, sample_stats(samples)),
        *property_verdicts(bundle.property_metrics),
    ]
    critic_auc = (vae.critic.info or {}).get("held_out_auc") if vae.critic is not None else None
    if isinstance(critic_auc, int | float):
        verdicts.append(critic_verdict(float(critic_auc)))
    # Molecules in canonical form first: those are what `molvae sample` returns.
    grid_smiles = list(dict.fromkeys(in_form + unique))[:20]
    if not grid_smiles:
        missing["sample grid"] = "sample grid: no valid molecule among the samples"

    # -- property histograms
    reference_smiles: list[str] = []
    reference_label = "training set"
    if reference is not None:
        table = read_molecules(reference)
        reference_smiles = table.records["canonical"].tolist()
        reference_label = f"reference ({Path(reference).name})"
    elif run_dir is not None and (run_dir / "data" / "train.smi").is_file():
        reference_smiles = _read_smiles_lines(run_dir / "data" / "train.smi")
    reference_smiles = _subsample(reference_smiles, max(n_samples, 2000), seed)
    status("computing properties")
    sample_props = compute_property_matrix(valid, names)
    ref_props = compute_property_matrix(reference_smiles, names) if reference_smiles else None
    if ref_props is None:
        missing["property histograms"] = (
            "training-set histograms: no training molecules found (the run's data/train.smi); "
            "pass --reference FILE"
        )

    # -- latent map
    lmap: LatentMap | None = None
    if run_dir is not None and (run_dir / "data" / "validation.smi").is_file():
        map_source = "validation molecules"
        map_smiles = _read_smiles_lines(run_dir / "data" / "validation.smi")
    elif reference_smiles:
        map_source = reference_label
        map_smiles = reference_smiles
    else:
        map_source = "valid samples (no validation or reference molecules available)"
        map_smiles = unique
    map_smiles = _subsample(map_smiles, map_points, seed)
    if len(map_smiles) >= 2:
        status(f"encoding and projecting {len(map_smiles):,} {map_source}")
        records = pd.DataFrame(
            {"row": np.arange(1, len(map_smiles) + 1), "smiles": map_smiles,
             "canonical": map_smiles}
        )
        color = names[0] if names else None
        lmap = latent_map(vae, records, color=color, method="pca", max_points=None, seed=seed)
        if len(lmap.smiles) < 2:
            lmap = None
            missing["latent map"] = "latent map: fewer than 2 encodable molecules"
    else:
        missing["latent map"] = "latent map: fewer than 2 molecules to encode"

    return RunData(
        title=f"molvae report: {run_dir or model_dir}",
        model_dir=model_dir,
        run_dir=run_dir,
        seed=seed,
        info=info,
        metrics_path=metrics_path,
        metrics=metrics,
        metrics_bad_lines=bad,
        validation_metrics=dict(bundle.metrics or {}),
        property_metrics=dict(bundle.property_metrics or {}),
        sample_stats=stats,
        grid_smiles=grid_smiles,
        property_names=names,
        sample_properties=sample_props,
        reference_properties=ref_props,
        reference_label=reference_label,
        map_source=map_source,
        latent_map=lmap,
        missing=missing,
        verdicts=verdicts,
    )


def render_run(data: RunData, max_structures: int = DEFAULT_MAX_STRUCTURES) -> RunReport:
    """The report page of :func:`collect_run`'s data: figures, tables and the latent map.

    Uses nothing but ``data`` (no model call); at most ``max_structures`` map points carry a
    structure drawing.
    """

    sections: list[str] = []
    parts: list[str] = [f"<h1>{_e(data.title)}</h1>"]
    if data.verdicts:
        # Not usable yet: the amber note box; usable: the grey sub-heading style.
        parts.append('<div class="verdicts">' + "".join(
            f'<p class="{"sub" if v.usable else "missing"} verdict" '
            f'data-usable="{"true" if v.usable else "false"}">{_e(v.line())}</p>'
            for v in data.verdicts
        ) + "</div>")
    parts.append(_metrics_table(data.info))

    def note(section: str) -> None:
        if section in data.missing:
            parts.append(_missing(data.missing[section]))

    # -- training curves
    parts.append("<h2>Training curves</h2>")
    if data.metrics is not None:
        parts.append(_figure(figures.training_curves_png(data.metrics), "training curves"))
        sections.append("training curves")
        if data.metrics_bad_lines:
            parts.append(
                _missing(f"{data.metrics_bad_lines} unreadable line(s) of {data.metrics_path} "
                         "skipped")
            )
    note("training curves")

    # -- metrics
    parts.append("<h2>Validation metrics (best model)</h2>")
    if data.validation_metrics:
        shown = [
            (k, v)
            for k, v in data.validation_metrics.items()
            if isinstance(v, int | float) and k not in ("epoch_complete",)
        ]
        parts.append(_metrics_table(shown))
        sections.append("metrics")
    note("metrics")
    if data.property_metrics:
        parts.append("<p>Latent property predictor on the validation split:</p>")
        parts.append(_property_table(data.property_metrics))

    # -- samples
    parts.append(f"<h2>Samples (seed {data.seed})</h2>")
    parts.append(_metrics_table(data.sample_stats))
    if data.grid_smiles:
        grid = chem.grid_image(
            data.grid_smiles,
            [f"sample {i + 1}" for i in range(len(data.grid_smiles))],
            mols_per_row=5,
            size=(220, 170),
        )
        parts.append(_figure(bytes(grid), "sample grid"))  # PNG (svg=False)
        sections.append("sample grid")
    note("sample grid")

    # -- property histograms
    names = data.property_names
    parts.append(f"<h2>Properties of samples against the {_e(data.reference_label)}</h2>")
    note("property histograms")
    ref = data.reference_properties
    png = figures.property_histograms_png(
        {n: data.sample_properties[:, j] for j, n in enumerate(names)},
        None if ref is None else {n: ref[:, j] for j, n in enumerate(names)},
        names,
        labels=("samples", data.reference_label),
    )
    parts.append(_figure(png, "property histograms"))
    sections.append("property histograms")

    # -- latent map
    parts.append("<h2>Latent space</h2>")
    lmap = data.latent_map
    if lmap is not None:
        parts.append(
            f'<p class="sub">{len(lmap.smiles):,} {_e(data.map_source)}, PCA of mu, coloured by '
            f"{_e(lmap.color_name)}. {_e(HOW_TO)}</p>"
        )
        parts.extend(f'<p class="sub">{_e(n)}</p>' for n in _map_notes(lmap, max_structures))
        parts.append(map_fragment(lmap, max_structures=max_structures, seed=data.seed))
        sections.append("latent map")
    note("latent map")

    return RunReport(
        html=_page(data.title, "\n".join(parts)),
        missing=list(data.missing.values()),
        sections=sections,
        verdicts=list(data.verdicts),
    )


def build_run_report(
    model: str | Path | None,
    reference: str | Path | None = None,
    n_samples: int = 1000,
    map_points: int = 1000,
    properties: Sequence[str] = REPORT_PROPERTIES,
    seed: int = 0,
    device: str = "auto",
    max_structures: int = DEFAULT_MAX_STRUCTURES,
    status: Callable[[str], None] = lambda s: None,
) -> RunReport:
    """Everything about a training run on one page: curves, metrics, samples, histograms, map.

    ``model`` is a run directory (``molvae train --out``), a model directory or a bundled model
    name. Training curves need the run's ``metrics.jsonl``; the training-set histograms need the
    run's ``data/train.smi`` or ``reference`` (a molecule file, which then replaces it). What is
    missing is listed in ``RunReport.missing`` and on the page; the rest is still built.

    Two stages: :func:`collect_run` gathers the data, :func:`render_run` draws the page.
    """

    data = collect_run(
        model,
        reference=reference,
        n_samples=n_samples,
        map_points=map_points,
        properties=properties,
        seed=seed,
        device=device,
        status=status,
    )
    return render_run(data, max_structures=max_structures)
