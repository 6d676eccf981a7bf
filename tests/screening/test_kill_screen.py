"""``screen`` killed with SIGKILL leaves each output absent or complete, and reruns cleanly.

The shortlist and its rejects file together account for every input row; a kill must never
leave a rejects file (streamed while the screen runs) that looks like a finished one.
"""

from __future__ import annotations

import pandas as pd
import pytest

from molvae.screening.result import RejectSink
from tests import kill_harness as kh

ROWS = 400


def outputs_problem(out, rejects) -> str | None:
    """None when the outputs of a screen are absent, or complete and accounting for every row."""
    try:
        n_rejects = len(pd.read_csv(rejects)) if rejects.exists() else None
        if not out.exists():  # killed before the shortlist (written last) was in place
            return None
        n = len(pd.read_csv(out)) + (n_rejects or 0)
    except (OSError, ValueError) as exc:
        return f"unreadable output: {exc}"
    return None if n == ROWS else f"{n} rows accounted for, {ROWS} in"


@pytest.mark.slow
def test_screen_killed_then_rerun(tmp_path):
    data = tmp_path / "in" / "molecules.csv"
    data.parent.mkdir()
    pd.read_csv(kh.SAMPLE).head(ROWS).to_csv(data, index=False)
    out, rejects = tmp_path / "sl.csv", tmp_path / "sl.rejects.csv"
    args = ["screen", data, "--out", out, "--no-progress", "--jobs", "1"]
    report = kh.run_with_kills(
        args, kills=1, delay=(0.2, 2.0), seed=3, ready=kh.written_since(tmp_path),
        check=lambda attempt: outputs_problem(out, rejects),
    )
    assert report.completed, report.summary() + report.last_stderr
    assert report.problems == []
    assert outputs_problem(out, rejects) is None and out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "sl.csv", "sl.rejects.csv"]


def test_rejects_are_streamed_to_a_hidden_file_and_renamed_at_the_end(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("row,smiles,step,reason\n1,C,read,old run\n")
    sink = RejectSink(path, keep=False)
    assert not path.exists()  # an older run's file never passes for this one's
    sink.add([3, 1], ["X", "Y"], "read", "unparsable SMILES", "unparsable SMILES")
    sink.flush()
    assert not path.exists()  # a kill here leaves only the hidden partial file
    assert [p.name for p in tmp_path.iterdir()] == [".r.csv.partial"]
    sink.result()
    assert pd.read_csv(path)["row"].tolist() == [1, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]
