"""``fit-critic`` killed with SIGKILL leaves no half-copied model directory; the rerun works."""

from __future__ import annotations

import pytest

from molvae.models.critic import CRITIC_JSON, load_critic
from molvae.models.store import load_model_dir, staged_directory
from tests import kill_harness as kh


def out_problem(out) -> str | None:
    """None when ``out`` is absent, or a whole model with its critic."""
    if not out.exists():
        return None
    try:
        load_model_dir(out)
        if load_critic(out) is None:
            return f"{out.name} is a model without its critic"
    except Exception as exc:  # noqa: BLE001 - any failure to load is the problem reported
        return f"{out.name} does not load: {exc}"
    return None


@pytest.mark.slow
def test_fit_critic_killed_then_rerun(tiny_run, tmp_path):
    out = tmp_path / "with_critic"
    args = ["fit-critic", kh.SAMPLE, "--model", tiny_run, "--out", out, "--samples", "200",
            "--epochs", "3", "--device", "cpu"]
    report = kh.run_with_kills(
        args, kills=1, delay=(2.0, 8.0), seed=13, check=lambda attempt: out_problem(out),
    )
    assert report.completed, report.summary() + report.last_stderr
    assert report.problems == []
    assert out_problem(out) is None and out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["with_critic"]


def test_a_staged_directory_appears_whole_or_not_at_all(tmp_path):
    dest = tmp_path / "copy"
    with pytest.raises(RuntimeError), staged_directory(dest) as staging:
        (staging / "config.json").write_text("{}")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with staged_directory(dest) as staging:
        (staging / CRITIC_JSON).write_text("{}")
        assert not dest.exists()
    assert [p.name for p in dest.iterdir()] == [CRITIC_JSON]
