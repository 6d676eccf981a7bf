"""Data-parallel training (DDP) with CPU gloo processes: same loss curve, exact resume."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from molvae.data.encoding import LengthBucketSampler
from molvae.errors import MolvaeError
from molvae.models.store import load_model_dir, save_model_dir
from molvae.training.distributed import environment, shard_batch
from molvae.training.trainer import train
from tests.conftest import REPO, SAMPLE, tiny_train_config


def _log(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_shards_cover_every_batch_once_with_equal_step_counts():
    lengths = np.random.default_rng(0).integers(5, 40, size=203)
    sampler = LengthBucketSampler(lengths, 16, seed=3, bucket_batches=4)
    for world in (1, 2, 3, 8):
        for batch in sampler.batches(1):
            parts = [shard_batch(batch, r, world) for r in range(world)]
            real = [p for p, share in parts if share > 0]
            assert np.array_equal(np.concatenate(real), batch)
            assert sum(share for _, share in parts) == pytest.approx(1.0)
            sizes = [len(p) for p in real]
            assert max(sizes) - min(sizes) <= 1
    # A batch smaller than the world: the spare rank trains on one molecule with weight 0.
    part, share = shard_batch(np.array([7, 9]), 2, 3)
    assert part.tolist() == [7] and share == 0.0


def test_environment_is_read_from_torchrun_variables(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert environment() is None
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert environment() is None  # one process: plain training
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    env = environment()
    assert (env.rank, env.world_size, env.local_rank) == (3, 4, 1)
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(MolvaeError, match="integers"):
        environment()


def test_devices_must_be_positive(tmp_path):
    with pytest.raises(MolvaeError, match="at least 1"):
        train(SAMPLE, tmp_path / "r", tiny_train_config(), devices=0, progress=False)


@pytest.fixture(scope="module")
def noiseless_init(tiny_run, tmp_path_factory):
    """The tiny model with posterior sigma pinned to exp(-10): z = mu, training is deterministic.

    The reparameterization noise is the one thing a 2-process run draws differently from one
    process (each rank samples for its half of the batch); without it the loss curves must agree
    to float rounding, which tests the batch split, gradient averaging and schedules exactly.
    """
    model, bundle = load_model_dir(tiny_run / "model")
    with torch.no_grad():  # log sigma^2 below the encoder's clamp: no gradient, no noise
        model.to_latent.bias[bundle.config.latent_dim :] = -25.0
    return save_model_dir(model, bundle, tmp_path_factory.mktemp("init") / "model")


@pytest.mark.slow
def test_two_gloo_processes_match_one_and_resume_exactly(noiseless_init, tmp_path):
    opts = dict(epochs=2, max_molecules=400, batch_size=32, checkpoint_every_steps=4)

    def run(name, **kwargs):
        return train(
            SAMPLE,
            tmp_path / name,
            tiny_train_config(**opts),
            init_from=noiseless_init,
            progress=False,
            status=lambda s: None,
            **kwargs,
        )

    run("one")
    result = run("two", devices=2)
    assert result.steps == 24 and result.epochs_completed == 2 and result.stopped == "epochs"
    one, two = _log(tmp_path / "one"), _log(tmp_path / "two")
    assert [(r["split"], r["step"]) for r in one] == [(r["split"], r["step"]) for r in two]
    for a, b in zip(one, two, strict=True):
        key = "loss" if a["split"] == "train" else "val_loss"
        assert b[key] == pytest.approx(a[key], rel=1e-5)
    info = json.loads((tmp_path / "two" / "run.json").read_text())["parallel"]
    assert info["world_size"] == 2 and info["backend"] == "gloo"
    assert info["global_batch_size"] == 32 and info["batch_size_per_process"] == 16
    state = json.loads((tmp_path / "two" / "checkpoint" / "state.json").read_text())
    assert state["world_size"] == 2
    saved = load_file(tmp_path / "two" / "checkpoint" / "state.safetensors")
    assert {"rng.torch", "rng.torch.rank1"} <= saved.keys()

    # Interrupted after step 6, resumed with the CLI: the same weights, bit for bit.
    part = run("part", devices=2, stop_after_steps=6)
    assert part.stopped == "stop_after_steps" and part.steps == 6
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "molvae_cli",
            "train",
            "--resume",
            "--out",
            str(tmp_path / "part"),
            "--devices",
            "2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resuming at step 6" in out.stderr and "data-parallel: 2 processes" in out.stderr
    a = load_file(tmp_path / "two" / "checkpoint" / "model.safetensors")
    b = load_file(tmp_path / "part" / "checkpoint" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [r["step"] for r in _log(tmp_path / "part") if r["split"] == "validation"]
    assert steps == [12, 24]


@pytest.mark.slow
def test_torchrun_launch_prepares_data_once_and_rank0_writes(tmp_path):
    out_dir = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "molvae_cli",
        "train",
        str(SAMPLE),
        "--out",
        str(out_dir),
        "--epochs",
        "1",
        "--max-molecules",
        "120",
        "--batch-size",
        "16",
        "--latent-dim",
        "8",
        "--embedding-dim",
        "16",
        "--encoder-hidden",
        "32",
        "--decoder-hidden",
        "64",
        "--precision",
        "fp32",
        "--quiet",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stderr.count("tokenizing 120 molecules") == 1
    assert out.stderr.count("data-parallel: 2 processes (gloo, cpu)") == 1
    rows = _log(out_dir)
    steps = [r["step"] for r in rows if r["split"] == "train"]
    assert steps == sorted(set(steps))  # one writer: no step logged twice
    assert sum(r["split"] == "validation" for r in rows) == 1
    assert json.loads((out_dir / "run.json").read_text())["parallel"]["world_size"] == 2
    assert (out_dir / "model" / "model.safetensors").is_file()
