"""The realism critic: features, fitting, storage and discriminator rejection sampling."""

import json
import math
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from molvae import chem
from molvae.errors import MolvaeError
from molvae.generation.model import MolVAE
from molvae.models.critic import (
    CRITIC_JSON,
    CRITIC_WEIGHTS,
    DESCRIPTORS,
    STEREO_DESCRIPTORS,
    Critic,
    critic_tensor_shapes,
    featurize,
    load_critic,
    save_critic,
)
from molvae.training.heads import fit_critic, writes_stereo_or_charges
from tests.conftest import REPO, SAMPLE


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


def test_stereo_features_see_stereo_and_charges():
    """With stereo, the features tell enantiomers and charge states apart, and count
    stereocentres (assigned and not), stereo double bonds and charged atoms."""
    probe = ["C[C@H](N)O", "C[C@@H](N)O", "CC(N)O", "C/C=C/C", "[NH3+]CC(=O)[O-]"]
    plain = featurize(probe, n_bits=512, n_jobs=1)
    stereo = featurize(probe, n_bits=512, n_jobs=1, stereo=True)
    n_extra = len(STEREO_DESCRIPTORS)
    assert stereo.shape == (5, 512 + len(DESCRIPTORS) + n_extra)
    assert np.array_equal(plain[0], plain[1])  # enantiomers look the same without stereo
    assert not np.array_equal(stereo[0, :512], stereo[1, :512])
    counts = stereo[:, -n_extra:].tolist()
    assert counts == [[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 2]]
    # the shared columns are the plain features, but for the chiral fingerprint bits
    assert np.array_equal(stereo[:, 512:-n_extra], plain[:, 512:])


def test_which_vocabularies_write_stereo_or_charges():
    assert writes_stereo_or_charges(["[C]", "[C@@H1]"])
    assert writes_stereo_or_charges(["[C]", "[N+1]"]) and writes_stereo_or_charges(["[O-1]"])
    assert writes_stereo_or_charges(["C", "/", "="])  # SMILES double-bond stereo
    # a SMILES single bond between aromatic atoms is not a charge
    assert not writes_stereo_or_charges(["c", "-", "C", "[nH]", "[Branch1]", "[=C]"])


class _FixedSampler:
    """Stands in for a VAE whose samples are a fixed list of molecules."""

    def __init__(self, smiles: list[str], tokens: tuple[str, ...] = ("[C]", "[N]")):
        self.smiles = smiles
        self.bundle = SimpleNamespace(vocabulary=SimpleNamespace(tokens=list(tokens)))

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


def test_a_stereo_critic_tells_flattened_samples_from_zinc():
    """Samples that lost their stereo marks and charges, against the same ZINC molecules as
    given: only the stereo features can tell them apart, and a model whose vocabulary writes
    stereo gets them by default (the plain critic is near chance)."""
    zinc = pd.read_csv(REPO / "datasets" / "zinc_sample.csv")["SMILES"].tolist()
    marked = [s for s in zinc if chem.flattened_smiles(s) != s][:700]
    flat = [chem.flattened_smiles(s) for s in marked]
    samples, reference = flat[:350], marked[350:700]
    zinc_model = _FixedSampler(samples, tokens=("[C]", "[C@@H1]", "[N+1]"))
    stereo = fit_critic(zinc_model, reference, n_samples=350, epochs=30, hidden=16,
                        held_out=0.3, seed=0)
    assert stereo.critic.stereo and stereo.metrics["auc"] > 0.78  # 0.83 when written
    # The plain critic sees the charges only through logP, TPSA, donors... (0.68 when written)
    plain = fit_critic(zinc_model, reference, n_samples=350, epochs=30, hidden=16,
                       held_out=0.3, seed=0, stereo=False)
    assert not plain.critic.stereo and plain.metrics["auc"] < stereo.metrics["auc"] - 0.1


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


def test_a_stereo_critic_round_trips(model_with_critic, tmp_path):
    """A critic with stereo features is stored as such and loads with them."""
    model_dir = tmp_path / "stereo_model"
    shutil.copytree(model_with_critic[0], model_dir)
    torch.manual_seed(0)
    critic = Critic(n_bits=128, hidden=4, stereo=True)
    critic.log_m = 0.25
    save_critic(critic, model_dir)
    assert json.loads((model_dir / CRITIC_JSON).read_text())["features"].startswith(
        "morgan2-chiral"
    )
    loaded = load_critic(model_dir)
    probe = ["C[C@H](N)O", "C[C@@H](N)O", "[NH3+]CC(=O)[O-]"]
    assert loaded.stereo and loaded.log_m == 0.25
    assert np.allclose(loaded.logits(probe, n_jobs=1), critic.logits(probe, n_jobs=1))
    assert len(set(loaded.logits(probe[:2], n_jobs=1).round(6))) == 2  # enantiomers differ


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


@pytest.mark.parametrize(("n_bits", "hidden", "stereo"), [(2048, 16, False), (64, 3, True)])
def test_the_shapes_loading_checks_are_the_critics(n_bits, hidden, stereo):
    critic = Critic(n_bits, hidden, stereo=stereo)
    built = {k: tuple(v.shape) for k, v in critic.state_dict().items()}
    assert critic_tensor_shapes(n_bits, hidden, stereo) == built
