"""Every column a command writes is documented in docs/outputs.md.

The commands run with the bundled model on a few shipped molecules (small sizes, so the test
takes about a minute); the header of each output file is read back and each column must appear
in docs/outputs.md in backticks. Columns named after a latent dimension (``z0``...) or after the
properties and targets of the run (``logP``, ``logP_predicted``) are looked up in their
documented template form (``z0``…``z{d-1}``, ``<target>_predicted``, ``<property>``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.cli.runner import molvae
from tests.conftest import REPO, TEST_SAMPLE

OUTPUTS_DOC = REPO / "docs" / "outputs.md"
BAD_ROWS = REPO / "datasets" / "bad_rows.csv"
PARACETAMOL, ASPIRIN = "CC(=O)Nc1ccc(O)cc1", "CC(=O)Oc1ccccc1C(=O)O"


def documented_names(text: str) -> set[str]:
    """Everything written in backticks in the page."""
    return set(re.findall(r"`([^`\n]+)`", text))


def template(column: str, names: tuple[str, ...]) -> str:
    """The documented form of a column: latent dimensions and property-named columns folded."""
    if re.fullmatch(r"z\d+", column):
        return "z0"
    if re.fullmatch(r"sigma\d+", column):
        return "sigma0"
    if column.startswith("input_"):
        return "input_<name>"
    for name in sorted(names, key=len, reverse=True):
        if column == name:
            return "<property>"
        if column.startswith(f"{name}_"):
            return f"<target>_{column[len(name) + 1:]}"
    return column


def test_template_folds_generated_names():
    names = ("logP", "QED", "pIC50")
    assert template("z17", names) == "z0"
    assert template("logP_predicted", names) == "<target>_predicted"
    assert template("QED", names) == "<property>"
    assert template("objective", names) == "objective"
    assert {"z0", "<property>"} <= documented_names(OUTPUTS_DOC.read_text(encoding="utf-8"))


def _header(path: Path) -> list[str]:
    assert path.is_file(), f"{path.name} was not written"
    if path.suffix == ".parquet":
        return list(pd.read_parquet(path).columns)
    return list(pd.read_csv(path, nrows=0, sep="\t" if path.suffix == ".tsv" else ",").columns)


def _run(*args: str, cwd: Path) -> str | None:
    """Run a command; None on success, else what it printed on stderr."""
    out = molvae(*args, cwd=cwd)
    return None if out.returncode == 0 else f"molvae {' '.join(args)}:\n{out.stderr[-1500:]}"


@pytest.mark.slow
def test_every_output_column_is_documented(tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    pd.read_csv(TEST_SAMPLE).head(8).to_csv(small, index=False)
    messy = tmp_path / "messy.csv"  # good and bad rows, and a numeric column travelling along
    pd.concat([pd.read_csv(BAD_ROWS), pd.DataFrame({"smiles": [PARACETAMOL, ASPIRIN],
                                                    "pIC50": [6.0, 5.0]})]).to_csv(messy,
                                                                                  index=False)
    runs = {
        "sample": [("sample", "-n", "10", "--seed", "0", "--out", "samples.csv")],
        "encode": [("encode", str(messy), "--out", "latents.csv", "--sigma")],
        "decode": [("decode", "latents.csv", "--out", "decoded.csv")],
        "reconstruct": [("reconstruct", str(messy), "--out", "recon.csv")],
        "generate": [
            ("generate", "--target", "logP", "--target", "QED:min", "-n", "5", "--starts", "16",
             "--steps", "10", "--max-rounds", "1", "--similar-to", PARACETAMOL,
             "--min-similarity", "0", "--out", "generated.csv"),
            ("generate", "--target", "QED", "-n", "5", "--starts", "16", "--steps", "10",
             "--max-rounds", "1", "--screen", str(REPO / "configs" / "screen.toml"),
             "--out", "screened.csv"),
        ],
        "optimize": [("optimize", str(messy), "--target", "plogP", "--starts", "4", "--steps",
                      "5", "--refine-steps", "5", "--rescue-rounds", "0", "--out",
                      "optimized.csv")],
        "screen": [("screen", str(messy), "--out", "shortlist.csv", "--reference", str(small),
                    "--jobs", "1", "--no-progress")],
        "map": [("map", str(messy), "--color", "pIC50", "--out", "map.html", "--rejects",
                 "map_rejects.csv")],
        "interpolate": [("interpolate", PARACETAMOL, ASPIRIN, "--steps", "3", "--out",
                         "path.csv")],
        "neighbors": [("neighbors", PARACETAMOL, "-n", "3", "--points", "20", "--out",
                       "neighbours.csv")],
        "score": [("score", str(messy), "--out", "scores.csv")],
        "embed": [("embed", str(messy), "--out", "features.csv"),
                  ("embed", str(small), "--out", "features.npy")],
        "evaluate": [("evaluate", "--samples", "samples.csv", "--reference", str(small),
                      "--out", "eval.json")],
    }
    files = {
        "sample": ["samples.csv"],
        "encode": ["latents.csv"],
        "decode": ["decoded.csv"],
        "reconstruct": ["recon.csv"],
        "generate": ["generated.csv", "screened.csv", "screened.rejects.csv"],
        "optimize": ["optimized.csv"],
        "screen": ["shortlist.csv", "shortlist.rejects.csv"],
        "map": ["map_rejects.csv"],
        "interpolate": ["path.csv"],
        "neighbors": ["neighbours.csv"],
        "score": ["scores.csv"],
        "embed": ["features.csv", "features.rejects.csv", "features.rows.csv"],
    }
    failed = [e for commands in runs.values() for args in commands
              if (e := _run(*args, cwd=tmp_path)) is not None]
    names = ("logP", "QED", "SA", "plogP", "MW", "TPSA", "HBD", "HBA", "RotB", "Rings",
             "HeavyAtoms", "pIC50")
    documented = documented_names(OUTPUTS_DOC.read_text(encoding="utf-8"))
    missing = []
    seen = {}
    for command, names_of_files in files.items():
        for name in names_of_files:
            if not (tmp_path / name).is_file():
                continue  # its command failed (reported below)
            columns = _header(tmp_path / name)
            seen[name] = columns
            missing += [f"{command} {name}: {c}" for c in columns
                        if template(c, names) not in documented and c not in documented]
    if (tmp_path / "eval.json").is_file():
        report = json.loads((tmp_path / "eval.json").read_text())
        missing += [f"evaluate eval.json: {k}" for k in report if k not in documented]
    print(json.dumps(seen))
    assert not failed, "commands failed:\n" + "\n".join(failed)
    assert not missing, "output columns missing from docs/outputs.md:\n" + "\n".join(missing)


def test_replacing_an_output_is_said_once_per_file(tmp_path: Path) -> None:
    """A rerun says which files it replaced (tables, side files and pages alike), once each."""
    runs = [
        ("sample", "-n", "5", "--seed", "0", "--out", "samples.csv"),
        ("screen", str(BAD_ROWS), "--out", "clean.csv", "--jobs", "1", "--no-progress"),
        ("map", str(BAD_ROWS), "--color", "pIC50", "--out", "map.html"),
    ]
    replaced = {
        "sample": ["samples.csv"],
        "screen": ["clean.csv", "clean.rejects.csv"],
        "map": ["map.html"],
    }
    for args in runs:
        first = molvae(*args, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert "replaced" not in first.stderr
        again = molvae(*args, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        notes = [line for line in again.stderr.splitlines() if line.startswith("replaced ")]
        expected = [f"replaced {name} (it existed)" for name in replaced[args[0]]]
        assert sorted(notes) == sorted(expected), again.stderr


def test_screen_removes_an_earlier_grid_when_nothing_is_shortlisted(tmp_path: Path) -> None:
    grid = tmp_path / "top.png"
    grid.write_bytes(b"an earlier run's image")
    out = molvae("screen", str(BAD_ROWS), "--out", "none.csv", "--where", "MW<1", "--grid",
                 "top.png", "--jobs", "1", "--no-progress", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert not grid.exists()
    assert "removed top.png (it existed; nothing shortlisted to draw)" in out.stderr
    assert len(pd.read_csv(tmp_path / "none.csv")) == 0
