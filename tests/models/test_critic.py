"""The realism critic: features, fitting, storage and discriminator rejection sampling."""

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from molvae.errors import MolvaeError
from molvae.generation.model import MolVAE
from molvae.models.critic import (
    CRITIC_JSON,
    CRITIC_WEIGHTS,
    DESCRIPTORS,
    Critic,
    critic_tensor_shapes,
    featurize,
    load_critic,
    save_critic,
)
from molvae.training.heads import fit_critic
from tests.conftest import SAMPLE


def sample_smiles() -> list[str]:
    return pd.read_csv(SAMPLE)["SMILES"].tolist()


def test_featurize_shape_and_values():
    x = featurize(["CCO", "c1ccccc1O"], n_bits=512, n_jobs=1)
    assert x.shape == (2, 512 + len(DESCRIPTORS)) and x.dtype == np.float32
    assert np.isfinite(x).all()
    # heavy atoms / 10 is the last descriptor: 3 and 7 heavy atoms
    assert x[:, -1].tolist() == pytest.approx([0.3, 0.7])
    with pytest.raises(MolvaeError, match="not a valid SMILES"):
        featurize(["C1CC"], n_jobs=1)


def test_accept_probability_is_the_drs_rule():
    critic = Critic(n_bits=64, hidden=4)
    critic.log_m = 1.0
    prob = critic.accept_probability(np.array([3.0, 1.0, 1.0 - math.log(2), -50.0]))
    assert prob == pytest.approx([1.0, 1.0, 0.5, math.exp(-51.0)])


class _FixedSampler:
    """Stands in for a VAE whose samples are a fixed list of molecules."""

    def __init__(self, smiles: list[str]):
        self.smiles = smiles

    def sample(self, n, seed=None, canonical_only=True, critic=True):
        assert canonical_only and not critic  # the critic corrects the default sampler
        return pd.DataFrame({"canonical": self.smiles[:n]})


def test_fit_critic_learns_a_real_difference():
    """Samples without halogens against references with them: the critic must separate them
    on held-out molecules and score unseen halogenated molecules as the more data-like."""
    smiles = sample_smiles()
    halo = [s for s in smiles if any(x in s for x in ("F", "Cl", "Br"))]
    plain = [s for s in smiles if not any(x in s for x in ("F", "Cl", "Br"))]
    fit = fit_critic(_FixedSampler(plain), halo, n_samples=300, epochs=150,
                     hidden=32, held_out=0.3, quantile=0.8, seed=0)
    assert fit.metrics["auc"] > 0.9
    assert fit.n_samples == fit.n_reference == 300
    unseen_halo = [s for s in halo if s not in set(plain[:300])][-150:]
    logits_halo = fit.critic.logits(unseen_halo, n_jobs=1)
    logits_plain = fit.critic.logits(plain[-150:], n_jobs=1)
    assert np.median(logits_halo) > np.median(logits_plain)
    assert 0.2 <= fit.metrics["acceptance"] <= 1.0


def test_fit_critic_is_reproducible():
    smiles = sample_smiles()
    a, b = (fit_critic(_FixedSampler(smiles[:100]), smiles[100:], n_samples=60, epochs=3,
                       hidden=8, seed=1) for _ in range(2))
    probe = smiles[1000:1020]
    assert np.array_equal(a.critic.logits(probe, n_jobs=1), b.critic.logits(probe, n_jobs=1))
    assert a.critic.log_m == b.critic.log_m


def test_fit_critic_rejects_bad_settings(tiny_vae):
    with pytest.raises(MolvaeError, match="quantile"):
        fit_critic(tiny_vae, sample_smiles(), quantile=0.0)
    with pytest.raises(MolvaeError, match="at least 20"):
        fit_critic(tiny_vae, ["CCO"] * 5)


@pytest.fixture
def model_with_critic(tiny_run, tmp_path):
    """A copy of the tiny model with a critic fitted to its own samples."""
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_run / "model", model_dir)
    vae = MolVAE.load(model_dir, device="cpu")
    fit = fit_critic(vae, sample_smiles(), n_samples=40, epochs=2, hidden=16, seed=0)
    save_critic(fit.critic, model_dir)
    return model_dir, fit


def test_critic_round_trip_and_is_tied_to_its_weights(model_with_critic):
    model_dir, fit = model_with_critic
    record = json.loads((model_dir / CRITIC_JSON).read_text())
    assert record["n_samples"] == fit.n_samples and record["log_m"] == fit.critic.log_m
    loaded = load_critic(model_dir)
    probe = sample_smiles()[:20]
    assert np.allclose(loaded.logits(probe, n_jobs=1), fit.critic.logits(probe, n_jobs=1))
    assert MolVAE.load(model_dir, device="cpu").critic is not None

    # Other weights (a fine-tuned or edited model) make the critic invalid: a clear error.
    weights = model_dir / "model.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 1
    weights.write_bytes(bytes(blob))
    with pytest.raises(MolvaeError, match="fitted to other weights"):
        load_critic(model_dir)


def test_pickled_critic_is_refused(model_with_critic):
    model_dir, _ = model_with_critic
    torch.save({"x": torch.zeros(1)}, model_dir / CRITIC_WEIGHTS)
    with pytest.raises(MolvaeError, match="never unpickles"):
        load_critic(model_dir)


def test_sample_applies_the_critic(model_with_critic):
    """A critic that only accepts molecules with oxygen: every kept sample has it, draws
    turned down are counted; critic=False and canonical_only=False turn it off."""
    model_dir, _ = model_with_critic
    vae = MolVAE.load(model_dir, device="cpu")

    def oxygen_logits(smiles, n_jobs=None):
        return np.array([10.0 if "O" in s else -60.0 for s in smiles])

    vae.critic.logits = oxygen_logits
    vae.critic.log_m = 0.0
    frame = vae.sample(15, seed=1)
    assert frame.attrs["critic"] is True
    assert len(frame) == 15 and all("O" in s for s in frame["canonical"])
    again = vae.sample(15, seed=1)
    assert again["canonical"].tolist() == frame["canonical"].tolist()  # reproducible

    plain = vae.sample(15, seed=1, critic=False)
    assert plain.attrs["critic"] is False
    assert not all("O" in s for s in plain["canonical"])
    assert plain.attrs["drawn"] < frame.attrs["drawn"]
    assert vae.sample(5, seed=1, canonical_only=False).attrs["critic"] is False


@pytest.mark.parametrize(("n_bits", "hidden"), [(2048, 16), (64, 3)])
def test_the_shapes_loading_checks_are_the_critics(n_bits, hidden):
    built = {k: tuple(v.shape) for k, v in Critic(n_bits, hidden).state_dict().items()}
    assert critic_tensor_shapes(n_bits, hidden) == built
