"""``train`` killed with SIGKILL (checkpoint writes included) resumes to the very weights of an
uninterrupted run; the states a kill can leave behind are each resumed correctly.

The soak in ``benchmarks/robustness.py`` kills the same run 20 times; here a few kills keep CI
fast, and the in-between states a kill rarely hits (mid-swap of a checkpoint or of the best
model, a torn metrics line) are built directly.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from molvae.models.store import replace_directory
from molvae.training.trainer import train
from tests import kill_harness as kh
from tests.conftest import SAMPLE, tiny_model_config, tiny_train_config


def _reference(tmp_path: Path, config: Path) -> Path:
    """The uninterrupted run of ``config``, trained in this process (same single thread)."""
    from tests.cli.runner import molvae

    out = tmp_path / "reference"
    done = molvae(*kh.train_args(kh.SAMPLE, out, config))
    assert done.returncode == 0, done.stderr
    return out


def _steps(run: Path) -> list[tuple[str, int]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(row["split"], row["step"]) for row in rows]


@pytest.mark.slow
def test_train_killed_at_random_moments_resumes_to_the_uninterrupted_weights(tmp_path):
    config = kh.tiny_train_config(tmp_path, epochs=2, max_molecules=200)
    reference = _reference(tmp_path, config)
    out = tmp_path / "killed"
    report = kh.run_with_kills(
        kh.train_args(kh.SAMPLE, out, config),
        kills=2,
        delay=(0.0, 1.5),
        seed=7,
        restart=kh.train_restart(kh.SAMPLE, out, config),
        ready=kh.written_since(out / "metrics.jsonl"),
    )
    assert report.completed, report.summary() + report.last_stderr
    assert report.kills >= 1, report.summary()
    assert kh.same_weights(reference / "model", out / "model") == []
    assert kh.same_weights(reference / "checkpoint", out / "checkpoint") == []
    # Rows logged after the checkpoint a kill fell back to are not logged twice.
    assert _steps(out) == _steps(reference)
    assert not [p.name for p in out.iterdir() if p.name.endswith((".tmp", ".old"))]


def _cfg():
    return tiny_train_config(epochs=2, max_molecules=200, checkpoint_every_steps=2,
                             log_every_steps=2)


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted tiny run (trained once for the tests below)."""
    run = tmp_path_factory.mktemp("kill") / "reference"
    train(SAMPLE, run, _cfg(), tiny_model_config(), progress=False, status=_quiet)
    return run


def test_states_a_kill_leaves_mid_swap_resume_to_the_same_weights(tmp_path, reference):
    run = tmp_path / "run"
    train(SAMPLE, run, _cfg(), tiny_model_config(), progress=False, status=_quiet,
          stop_after_steps=3)
    os.replace(run / "checkpoint", run / "checkpoint.old")  # killed between the two renames
    with open(run / "metrics.jsonl", "a") as fh:  # and in the middle of a metrics row
        fh.write('{"split": "train", "step": 4, "lo')
    train(None, run, resume=True, progress=False, status=_quiet)
    assert kh.same_weights(reference / "model", run / "model") == []
    assert kh.same_weights(reference / "checkpoint", run / "checkpoint") == []
    assert _steps(run) == _steps(reference)
    assert not (run / "checkpoint.old").exists()


def test_a_best_model_left_as_old_by_a_kill_is_put_back(tmp_path, reference):
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    newer = kh.weights_of(run / "checkpoint")
    os.replace(run / "model", run / "model.old")  # killed between the renames of model/
    staged = tmp_path / "staged"
    shutil.copytree(run / "checkpoint", staged)
    replace_directory(staged, run / "model")  # the next save must not delete the old copy
    assert kh.weights_of(run / "model") == newer and not (run / "model.old").exists()
    train(None, run, resume=True, progress=False, status=_quiet)  # nothing left to train
    os.replace(run / "model", run / "model.old")
    train(None, run, resume=True, progress=False, status=_quiet)  # resume puts it back
    assert kh.weights_of(run / "model") == newer and not (run / "model.old").exists()
