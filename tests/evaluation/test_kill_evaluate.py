"""``evaluate`` killed with SIGKILL leaves its report absent or whole, and its reference cache
entry absent or valid; the rerun completes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from molvae.data.cache import read_cache_entry
from tests import kill_harness as kh


def report_problem(report) -> str | None:
    if not report.exists():
        return None
    try:
        json.loads(report.read_text())
    except ValueError as exc:
        return f"{report.name} is half written: {exc}"
    return None


def cache_problems(cache) -> list[str]:
    """Entries of the evaluation cache whose JSON record exists but which do not read."""
    problems = []
    for record in cache.glob("*.json"):
        try:
            read_cache_entry(record.with_suffix(""))
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{record.name}: {exc}")
    return problems


@pytest.mark.slow
def test_evaluate_killed_then_rerun(tmp_path):
    samples, reference = tmp_path / "samples.csv", tmp_path / "reference.csv"
    test = pd.read_csv(kh.TEST_SAMPLE)
    test.head(60).to_csv(samples, index=False)
    test.tail(300).to_csv(reference, index=False)
    cache = tmp_path / "cache"
    out = tmp_path / "report.json"
    args = ["evaluate", "--samples", samples, "--reference", reference, "--out", out]
    report = kh.run_with_kills(
        args, kills=1, delay=(1.0, 6.0), seed=5, env=kh.command_env(MOLVAE_CACHE_DIR=str(cache)),
        check=lambda attempt: report_problem(out) or "; ".join(cache_problems(cache)) or None,
    )
    assert report.completed, report.summary() + report.last_stderr
    assert report.problems == []
    assert "metrics" in json.loads(out.read_text())
    assert cache_problems(cache) == []
