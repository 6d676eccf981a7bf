"""``molvae screen`` in-process (see runner.py), with a cache directory of its own."""

from __future__ import annotations

import pandas as pd
import pytest

from molvae.data.tables import read_molecules
from tests.conftest import REPO

from .runner import molvae

BAD_ROWS = REPO / "datasets" / "bad_rows.csv"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(tmp_path / "cache"))


def test_screen_writes_shortlist_sdf_grid_and_rejects(tmp_path):
    reference = tmp_path / "ref.smi"
    reference.write_text("CCO\nc1ccccc1C(=O)O\n")
    out, sdf, grid, rejects = (tmp_path / n for n in ("s.csv", "s.sdf", "top.svg", "rej.csv"))
    result = molvae(
        "screen", str(BAD_ROWS), "--out", str(out), "--sdf", str(sdf), "--grid", str(grid),
        "--rejects", str(rejects), "--where", "MW<190", "--filters", "pains,brenk",
        "--reference", str(reference), "--top", "3", "--jobs", "1", "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shortlist, rejected = pd.read_csv(out), pd.read_csv(rejects)
    n_rows = len(pd.read_csv(BAD_ROWS, skip_blank_lines=False))
    assert len(shortlist) + len(rejected) == n_rows
    assert sorted([*shortlist["row"], *rejected["row"]]) == list(range(1, n_rows + 1))
    assert len(shortlist) == 3 and list(shortlist["rank"]) == [1, 2, 3]
    reasons = dict(zip(rejected["row"], rejected["reason"], strict=True))
    assert reasons[1] == "in reference ref.smi"  # CCO
    assert reasons[9] == "in reference ref.smi"  # benzoic acid
    assert reasons[11].startswith("MW<190 failed")  # caffeine, MW 194
    assert "below top 3" in reasons.values()
    assert read_molecules(sdf).n_accepted == 3
    assert "<svg" in grid.read_text()
    for outcome in ("shortlist", "read", "novelty", "thresholds", "selection", "total"):
        assert outcome in result.stdout
    assert str(n_rows) in result.stdout


def test_screen_config_unknown_key_is_one_line_error(tmp_path):
    config = tmp_path / "screen.toml"
    config.write_text("[selection]\ntop_n = 5\n")
    result = molvae(
        "screen", str(BAD_ROWS), "--out", str(tmp_path / "s.csv"), "--config", str(config),
    )  # fmt: skip
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "top_n" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "s.csv").exists()


def test_screen_writes_its_rejects_beside_the_shortlist_by_default(tmp_path):
    out = tmp_path / "short.csv"
    result = molvae("screen", str(BAD_ROWS), "--out", str(out), "--jobs", "1", "--no-progress")
    assert result.returncode == 0, result.stderr
    rejects = tmp_path / "short.rejects.csv"
    n_rows = len(pd.read_csv(BAD_ROWS, skip_blank_lines=False))
    assert len(pd.read_csv(out)) + len(pd.read_csv(rejects)) == n_rows
    assert str(rejects) in result.stdout
