"""Shared fixtures: a tiny model trained once per test run on the shipped MOSES sample."""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

# Test models are tiny: one thread avoids thread-pool overhead (and oversubscription when the
# CLI tests start subprocesses, which inherit this).
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Tests never read or write the user's cache (tokenized datasets, reference statistics); CLI
# subprocesses inherit this. One directory per test run: the pytest process makes it before it
# starts the xdist workers, which inherit it, so what one worker computes (the reference
# statistics of the shipped test sample, the tokenized quick-start data, the tiny model below)
# the other reads. The cache is safe for concurrent writers (tests/data/test_shared_cache.py).
_RUN_DIR = "MOLVAE_TEST_RUN_DIR"
if not (os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get(_RUN_DIR)):
    os.environ[_RUN_DIR] = tempfile.mkdtemp(prefix="molvae-test-run-")
    atexit.register(shutil.rmtree, os.environ[_RUN_DIR], True)  # the run's process removes it
RUN_DIR = Path(os.environ[_RUN_DIR])
os.environ["MOLVAE_CACHE_DIR"] = str(RUN_DIR / "cache")
(RUN_DIR / "cache").mkdir(exist_ok=True)

import pytest  # noqa: E402
import torch  # noqa: E402

from molvae.chem import set_rdkit_logging  # noqa: E402
from molvae.models import ModelConfig  # noqa: E402
from molvae.training import TrainConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "datasets" / "moses_sample.csv"
TEST_SAMPLE = REPO / "datasets" / "moses_test_sample.csv"
SHARED_MOSES = REPO.parent / "shared" / "datasets" / "moses"

set_rdkit_logging(False)
torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest tests first: the documents' blocks, then other ``slow`` tests, then the rest.

    With one worker per core, a long test that starts last keeps the suite waiting while the
    other worker idles; started first, the short tests fill in around it.
    """

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("slow") is None:
            return 2
        return 0 if item.nodeid.startswith("tests/test_docs.py") else 1

    items.sort(key=rank)  # stable: file order is kept within each rank


def tiny_model_config(**overrides) -> ModelConfig:
    """A model small enough to train in seconds on 2 CPU cores."""
    base = dict(embedding_dim=16, encoder_hidden=32, latent_dim=8, decoder_hidden=64)
    base.update(overrides)
    return ModelConfig(**base)


def tiny_train_config(**overrides) -> TrainConfig:
    base = dict(
        epochs=2,
        batch_size=32,
        kl_warmup_steps=20,
        warmup_steps=5,
        learning_rate=3e-3,
        reconstruction_eval_size=50,
        log_every_steps=5,
        checkpoint_every_steps=10,
        precision="fp32",
        seed=0,
        max_molecules=400,
    )
    base.update(overrides)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def tiny_run() -> Path:
    """A run directory with a tiny model trained on 400 sample molecules (with a logP head).

    Trained once per test run: the first xdist worker to need it trains it while holding a
    lock, the others wait and use it (tests read it or copy it, never change it).
    """
    from molvae.training.trainer import train

    run = RUN_DIR / "runs" / "tiny"
    done = run.with_name("tiny.done")
    run.parent.mkdir(parents=True, exist_ok=True)
    with open(run.with_name("tiny.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or its process dies
        if not done.exists():
            shutil.rmtree(run, ignore_errors=True)  # what a worker that died left half-written
            train(
                SAMPLE,
                run,
                tiny_train_config(properties=["logP", "QED"]),
                tiny_model_config(),
                progress=False,
                status=lambda s: None,
            )
            done.touch()
    return run


@pytest.fixture(scope="session")
def tiny_vae(tiny_run):
    from molvae.generation.model import MolVAE

    return MolVAE.load(tiny_run, device="cpu")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of headless Chromium for ``browser`` tests.

    Skipped when Chromium is not installed, except under CI (``CI`` set), where a missing
    browser is a failure: .ci/run installs it, so its absence there is a bug.
    """
    from tests.browser import find_chromium

    path = find_chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium not installed (apt-get install chromium chromium-driver)")
    return path


@pytest.fixture
def umask_022():
    """Run a test under umask 022 (files 0644), whatever the calling shell's umask."""
    old = os.umask(0o022)
    yield
    os.umask(old)
