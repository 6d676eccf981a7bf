"""A full disk while ``train`` writes a checkpoint (and while a command writes its output): one
clear line and exit status 1, the previous checkpoint intact, and the run resumable.

Two ways to fill the disk: a real tmpfs a little too small for the next checkpoint (where this
process may mount one: root, and a kernel that lets it), and ENOSPC injected into the writes,
which always runs.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from molvae.training.trainer import train
from tests import kill_harness as kh
from tests.cli.runner import molvae
from tests.conftest import SAMPLE, tiny_model_config, tiny_train_config


def _cfg():
    return tiny_train_config(epochs=1, max_molecules=200, checkpoint_every_steps=2,
                             log_every_steps=2)


def _quiet(_: str) -> None:
    pass


def assert_one_line_disk_full(result) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[-1].startswith("error:") and "no space left on device" in lines[-1].lower()
    assert sum(line.startswith("error:") for line in lines) == 1


def test_enospc_in_a_checkpoint_write_is_one_line_and_keeps_the_last_checkpoint(
    tmp_path, monkeypatch
):
    reference = tmp_path / "reference"
    train(SAMPLE, reference, _cfg(), tiny_model_config(), progress=False, status=_quiet)
    run = tmp_path / "run"
    train(SAMPLE, run, _cfg(), tiny_model_config(), progress=False, status=_quiet,
          stop_after_steps=2)
    before = kh.weights_of(run / "checkpoint")
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync(fd: int) -> None:  # the disk fills up inside the second file of a checkpoint
        calls["n"] += 1
        if calls["n"] >= 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    full = molvae("train", "--resume", "--out", run, "--quiet")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert_one_line_disk_full(full)
    assert kh.weights_of(run / "checkpoint") == before
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(("checkpoint", "."))) == [
        "checkpoint"
    ]
    done = molvae("train", "--resume", "--out", run, "--quiet")
    assert done.returncode == 0, done.stderr
    assert kh.same_weights(reference / "model", run / "model") == []


@pytest.fixture
def small_tmpfs(tmp_path):
    """A mount point for a tmpfs of the size a test asks; skips where mounting is refused."""
    point = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    point.mkdir()
    mounted: list[Path] = []

    def mount(size_kb: int) -> Path:
        if shutil.which("mount") is None:
            pytest.skip("no mount command: cannot make a small tmpfs")
        options = f"size={size_kb}k" + ("" if not mounted else ",remount")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not permitted'})")
        mounted.append(point)
        return point

    yield mount
    if mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _size_kb(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) // 1024


@pytest.mark.slow
def test_a_real_full_tmpfs_stops_train_with_one_line_and_the_run_resumes(
    tmp_path, small_tmpfs
):
    staged = tmp_path / "staged"
    train(SAMPLE, staged, _cfg(), tiny_model_config(), progress=False, status=_quiet,
          stop_after_steps=2)
    before = kh.weights_of(staged / "checkpoint")
    checkpoint_kb = _size_kb(staged / "checkpoint")
    # Room for the run as it is and half of one more checkpoint: the next one cannot fit.
    disk = small_tmpfs(_size_kb(staged) + checkpoint_kb // 2 + 64)
    run = disk / "run"
    shutil.copytree(staged, run)
    full = molvae("train", "--resume", "--out", run, "--quiet")
    assert_one_line_disk_full(full)
    assert kh.weights_of(run / "checkpoint") == before
    assert not (run / "checkpoint.tmp").exists()
    # An output onto the same full disk: one line, and no half file.
    junk = disk / "junk"
    with open(junk, "wb", buffering=0) as fh, pytest.raises(OSError):  # fill what is left
        while True:
            fh.write(b"\0" * 65536)
    molecules = tmp_path / "molecules.csv"
    molecules.write_text("".join(SAMPLE.read_text().splitlines(keepends=True)[:101]))
    shortlist = disk / "shortlist.csv"
    screened = molvae("screen", molecules, "--out", shortlist, "--no-progress", "--jobs", "1")
    assert screened.returncode == 1 and "Traceback" not in screened.stderr
    assert len([line for line in screened.stderr.splitlines() if line.startswith("error:")]) == 1
    assert not shortlist.exists()
    junk.unlink()
    # Room again: the run goes on from its last checkpoint.
    small_tmpfs(_size_kb(staged) + 20 * checkpoint_kb)
    done = molvae("train", "--resume", "--out", run, "--quiet")
    assert done.returncode == 0, done.stderr
    assert "resuming at step 2" in done.stderr
