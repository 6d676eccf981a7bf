"""``design`` killed with SIGKILL resumes from its record of calls, a torn last line included."""

from __future__ import annotations

import pandas as pd
import pytest

from molvae.optimize.design import CALL_COLUMNS
from tests import kill_harness as kh
from tests.cli.runner import molvae

FAST = ["--batch-size", "5", "--pool-size", "60", "--centers", "4"]

ORACLE = """\
import time

from rdkit import Chem


def heavy_atoms(smiles):
    time.sleep(0.2)  # an oracle that takes its time, so that kills land between calls
    return [Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in smiles]
"""


def record_problem(path) -> str | None:
    """None when the record's complete lines are calls numbered 1, 2, ... (a torn last line
    is allowed: ``--resume`` drops it)."""
    if not path.exists():
        return None
    raw = path.read_bytes()
    whole = raw[: raw.rfind(b"\n") + 1]
    if not whole:
        return None
    calls = pd.read_csv(pd.io.common.BytesIO(whole))
    if list(calls.columns) != CALL_COLUMNS:
        return f"columns {list(calls.columns)}"
    return None if calls["call"].tolist() == list(range(1, len(calls) + 1)) else "call numbers"


@pytest.mark.slow
def test_design_killed_then_resumed(tmp_path):
    oracle = tmp_path / "oracle.py"
    oracle.write_text(ORACLE)
    out = tmp_path / "calls.csv"
    args = ["design", "--oracle", f"{oracle}:heavy_atoms", "--budget", "25", "--out", out,
            "--seed", "0", *FAST]
    report = kh.run_with_kills(
        args, kills=1, delay=(0.1, 1.0), seed=11, ready=kh.written_since(out),
        restart_args=[*args, "--resume"], check=lambda attempt: record_problem(out),
    )
    assert report.completed, report.summary() + report.last_stderr
    assert report.problems == []
    calls = pd.read_csv(out)
    assert calls["call"].tolist() == list(range(1, 26)) and calls["smiles"].is_unique


def test_a_torn_last_call_is_dropped_on_resume(tmp_path):
    oracle = tmp_path / "oracle.py"
    oracle.write_text(ORACLE.replace("time.sleep(0.2)", "pass"))
    out = tmp_path / "calls.csv"
    base = ["design", "--oracle", f"{oracle}:heavy_atoms", "--out", out, "--seed", "0", *FAST]
    assert molvae(*base, "--budget", "10").returncode == 0
    with open(out, "a") as fh:
        fh.write("11,CCO")  # killed in the middle of writing call 11
    more = molvae(*base, "--budget", "15", "--resume")
    assert more.returncode == 0, more.stderr
    assert "10 calls already made" in more.stderr
    calls = pd.read_csv(out)
    assert calls["call"].tolist() == list(range(1, 16)) and calls["smiles"].is_unique
