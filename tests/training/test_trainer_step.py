"""``Trainer.step`` on its own: one optimizer step of the training loop, on a tiny model."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from molvae.data.encoding import encode_molecules
from molvae.errors import MolvaeError
from molvae.training.loss import learning_rate
from molvae.training.run import Run
from molvae.training.trainer import Trainer
from tests.conftest import SAMPLE, tiny_model_config, tiny_train_config


@pytest.fixture(scope="module")
def encoded():
    smiles = pd.read_csv(SAMPLE)["SMILES"].tolist()[:96]
    dataset, vocab, _ = encode_molecules(smiles, list(range(len(smiles))), "selfies", None, 60,
                                         n_jobs=1)
    return dataset, vocab


def _trainer(encoded, **overrides) -> Trainer:
    dataset, vocab = encoded
    cfg = tiny_train_config(device="cpu", **overrides)
    model_cfg = tiny_model_config(vocab_size=len(vocab))
    return Trainer(Run.in_memory(cfg, model_cfg, vocab, dataset), "cpu", status=lambda s: None)


def test_repeated_steps_on_one_batch_lower_its_loss(encoded):
    # Enough epochs that the cosine schedule keeps the learning rate up for these steps.
    trainer = _trainer(encoded, warmup_steps=1, learning_rate=1e-2, epochs=20)
    batch = trainer.sampler.batches(0)[0]
    losses = [trainer.step(batch)["loss"] for _ in range(6)]
    assert all(math.isfinite(loss) for loss in losses)
    assert max(losses[1:]) < losses[0] and losses[-1] < 0.85 * losses[0]


def test_step_changes_parameters_and_advances_the_state(encoded):
    trainer = _trainer(encoded)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    batch = trainer.sampler.batches(0)[0]
    terms = trainer.step(batch)
    assert {"loss", "recon", "kl"} <= terms.keys()
    assert terms["loss"] == pytest.approx(terms["recon"] + trainer.state.beta * terms["kl"])
    state = trainer.state
    assert state.step == 1
    assert state.batch_in_epoch == 0  # the position in the epoch is fit()'s to advance
    assert state.lr == learning_rate(0, trainer.cfg, trainer.total_steps)
    assert state.window.n == 1 and state.window.molecules == len(batch)
    after = trainer.model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert "to_latent.weight" in changed
    trainer.step(batch)
    assert state.step == 2 and state.window.n == 2


def test_same_seed_gives_the_same_losses(encoded):
    # Word dropout and the posterior noise both draw from torch's generator, which a Trainer
    # seeds when it is built (the generator is global: one Trainer runs, then the other).
    def losses():
        trainer = _trainer(encoded, word_dropout=0.2, seed=3)
        return [trainer.step(b) for b in trainer.sampler.batches(0)[:3]]

    first, second = losses(), losses()
    assert first == second
    other = _trainer(encoded, word_dropout=0.2, seed=4)
    assert [other.step(b) for b in other.sampler.batches(0)[:3]] != first


def test_validate_without_a_run_directory_and_no_checkpoint_to_write(encoded):
    trainer = _trainer(encoded, reconstruction_eval_size=4)
    trainer.step(trainer.sampler.batches(0)[0])
    val = trainer.validate()
    assert np.isfinite(val["val_loss"]) and 0 <= val["val_exact_reconstruction"] <= 1
    assert trainer.model.training  # validation hands the model back in training mode
    with pytest.raises(MolvaeError, match="no run directory"):
        trainer.save_checkpoint()
