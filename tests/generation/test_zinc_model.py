"""The bundled `zinc` model: a conditional SELFIES VAE that writes stereo and charges."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from molvae import MolVAE, chem
from molvae.errors import MolvaeError
from molvae.generation.model import ConditionRangeWarning
from molvae.models.store import BUNDLED_DIR
from tests.cli.runner import molvae
from tests.conftest import REPO

ZINC_DIR = BUNDLED_DIR / "zinc"


@pytest.fixture(scope="module")
def zinc() -> MolVAE:
    return MolVAE.load("zinc", device="cpu")


def test_zinc_is_bundled_with_its_card_and_within_the_size_limit():
    files = {p.name: p.stat().st_size for p in ZINC_DIR.iterdir() if p.is_file()}
    assert {"config.json", "model.safetensors", "MODEL_CARD.md"} <= set(files)
    assert sum(files.values()) <= 20 * 1024 * 1024
    config = json.loads((ZINC_DIR / "config.json").read_text())
    assert config["model"]["conditions"] == ["logP", "QED", "MW", "SA", "TPSA"]


def test_zinc_ships_reference_molecules_of_its_training_split(zinc):
    """20,000 training molecules (none of the held-out test sample) with RDKit's values."""
    from molvae.data.index import training_set_index

    reference = zinc.reference
    assert reference is not None and len(reference) == 20_000
    assert reference.conditions == tuple(zinc.conditions)
    low = np.array([zinc.condition_ranges()[c][0] for c in zinc.conditions])
    high = np.array([zinc.condition_ranges()[c][1] for c in zinc.conditions])
    assert ((reference.values >= low - 1e-3) & (reference.values <= high + 1e-3)).all()
    rows = np.arange(0, 20_000, 400)
    vocab = zinc.bundle.vocabulary
    import selfies as sf

    smiles = [
        chem.canonical_smiles(sf.decoder(zinc.tokenizer.detokenize(vocab.decode(
            reference.ids[reference.offsets[i] : reference.offsets[i + 1]]))))
        for i in rows
    ]  # fmt: skip
    assert training_set_index(ZINC_DIR).contains(smiles).all()
    logp = [chem.logp(chem.parse_smiles(s)) for s in smiles]
    assert np.allclose(reference.values[rows, 0], logp, atol=1e-3)


def test_zinc_is_conditional_and_writes_stereo_and_charges(zinc):
    assert zinc.conditions == ["logP", "QED", "MW", "SA", "TPSA"]
    tokens = zinc.bundle.vocabulary.tokens
    assert any("@" in t for t in tokens) and any("+" in t for t in tokens)
    if zinc.critic is not None:  # the critic, where there is one, sees stereo and charges
        assert zinc.critic.stereo


def test_stereo_drugs_encode_as_given(zinc):
    """Nicotine, estradiol, penicillin G and diltiazem have stereocentres (and penicillin a
    carboxylate as ZINC writes it at pH 7): the zinc model takes them without flattening."""
    drugs = pd.read_csv(REPO / "datasets" / "common_drugs.csv")
    names = ["nicotine", "estradiol", "penicillin G", "diltiazem"]
    smiles = [drugs.loc[drugs["name"] == n, "smiles"].iloc[0] for n in names]
    frame = zinc.encode(smiles)
    assert frame["status"].tolist() == ["ok"] * 4
    assert frame["encoded_as"].tolist() == [chem.canonical_smiles(s) for s in smiles]
    assert all("@" in s for s in frame["encoded_as"])


def test_conditional_sampling_moves_the_rdkit_values(zinc):
    """Asking for low and high molecular weight gives molecules whose RDKit weights differ by
    most of what was asked (measured MAE of the model: the card's table)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConditionRangeWarning)
        light = zinc.sample(40, seed=0, conditions={"MW": 280.0})
        heavy = zinc.sample(40, seed=0, conditions={"MW": 430.0})
    assert light["valid"].all() and heavy["valid"].all()
    mw_light, mw_heavy = light["MW"].mean(), heavy["MW"].mean()
    assert mw_heavy - mw_light > 100.0
    assert abs(mw_light - 280.0) < 40.0 and abs(mw_heavy - 430.0) < 40.0


def test_zinc_draws_conditional_samples_from_its_learned_prior(zinc):
    """The prior p(z|c) moves with the request (heavier molecules, a different region of the
    latent space) and is exactly N(0, I) when nothing is asked for."""
    import torch

    assert zinc.has_conditional_prior
    light = zinc.sample_prior(500, seed=0, conditions={"MW": 280.0})
    heavy = zinc.sample_prior(500, seed=0, conditions={"MW": 430.0})
    assert (heavy.mean(0) - light.mean(0)).norm() > 0.5
    standard = torch.randn(4, zinc.latent_dim, generator=torch.Generator().manual_seed(0))
    assert torch.equal(zinc.sample_prior(4, seed=0), standard)


def test_zinc_is_listed_with_default():
    result = molvae("models")
    assert result.returncode == 0 and "zinc" in result.stdout and "default" in result.stdout


def test_unconditional_sampling_is_valid_and_unique(zinc):
    frame = zinc.sample(100, seed=1)
    assert frame["valid"].all() and frame["canonical"].nunique() >= 98


def test_conditions_outside_the_range_warn_and_unknown_ones_fail(zinc):
    with pytest.warns(ConditionRangeWarning, match="MW"):
        zinc.condition_vector({"MW": 2000.0})
    with pytest.raises(MolvaeError, match="conditions it has: logP, QED, MW, SA, TPSA"):
        zinc.condition_vector({"HBD": 2.0})


@pytest.mark.slow
def test_sample_command_with_conditions_on_zinc(tmp_path):
    out = tmp_path / "s.csv"
    result = molvae("sample", "--model", "zinc", "--condition", "logP=2.5", "--condition",
                    "QED=0.8", "-n", "30", "--seed", "0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert len(frame) == 30 and frame["valid"].all()
    assert "logP: requested 2.5" in result.stdout
    assert np.abs(frame["logP"] - 2.5).mean() < 1.0
