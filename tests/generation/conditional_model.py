"""A tiny conditional VAE (conditions logP and MW) trained once per test session.

Several test modules (library, training, CLI) use it; a cached function rather than a conftest
fixture keeps it to one training run (about 75 optimizer steps on 800 MOSES molecules: enough
for a logP request to move the sampled molecules' RDKit logP, see
``test_condition_sampling.py``).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from tests.conftest import SAMPLE, tiny_model_config, tiny_train_config

CONDITIONS = ["logP", "MW"]


@functools.cache
def conditional_run() -> Path:
    """The run directory of the tiny conditional model (trained on first use)."""
    from molvae.training.trainer import train

    root = Path(tempfile.mkdtemp(prefix="molvae-test-cvae-"))
    atexit.register(shutil.rmtree, root, True)
    run = root / "cvae"
    train(
        SAMPLE,
        run,
        tiny_train_config(
            conditions=["logp", "MW"],  # an alias: stored under RDKit's name, logP
            max_molecules=800,
            epochs=3,
            learning_rate=5e-3,
            kl_warmup_steps=50,
            reconstruction_eval_size=10,
        ),
        tiny_model_config(),
        progress=False,
        status=lambda s: None,
    )
    return run
