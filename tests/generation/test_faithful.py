"""Encodings that decode back to their molecules, and the flattened form of molecules a model
cannot write as given."""

import numpy as np
import pandas as pd
import pytest

from molvae import chem
from molvae.errors import MolvaeError
from molvae.generation.model import MolVAE
from molvae.generation.refine import (
    encode_mean,
    faithful_latents,
    reconstruct,
)
from molvae.latent.paths import interpolate
from tests.conftest import REPO, TEST_SAMPLE

DRUGS = REPO / "datasets" / "common_drugs.csv"


def test_prepare_flattens_only_what_cannot_be_written(tiny_vae):
    smiles = ["C[C@H](N)C(=O)O", "CCO", "CC(=O)[O-].[Na+]", "O=[N+]([O-])c1ccccc1", "bad"]
    strict = tiny_vae.prepare(smiles)
    assert strict.dataset.rows.tolist() == [1] and len(strict.flattened) == 0
    prep = tiny_vae.prepare(smiles, flatten=True)
    # Rows stay in input order; the encoded forms are the flattened ones.
    assert prep.dataset.rows.tolist() == [0, 1, 2]
    assert prep.dataset.smiles == ["CC(N)C(=O)O", "CCO", "CC(=O)O"]
    assert prep.flattened.tolist() == [0, 2]
    assert prep.canonical[0] == "C[C@H](N)C(=O)O" and prep.canonical[4] is None
    assert prep.encoded_as == ["CC(N)C(=O)O", "CCO", "CC(=O)O", None, None]
    reasons = dict(zip(prep.rejects["row"], prep.rejects["reason"], strict=True))
    assert "not in vocabulary" in reasons[3] and reasons[4] == "invalid SMILES"


def test_encode_keeps_the_input_canonical_and_the_encoded_form(tiny_vae):
    frame = tiny_vae.encode(["C[C@H](N)C(=O)O", "CCO"])
    assert frame["canonical"].tolist() == ["C[C@H](N)C(=O)O", "CCO"]
    assert frame["encoded_as"].tolist() == ["CC(N)C(=O)O", "CCO"]
    assert (frame["status"] == "ok").all()
    strict = tiny_vae.encode(["C[C@H](N)C(=O)O", "CCO"], strict=True)
    assert "not in vocabulary" in strict["status"][0] and strict["encoded_as"].isna()[0]


def test_faithful_latents_refine_only_what_does_not_come_back(tiny_vae):
    smiles = pd.read_csv(TEST_SAMPLE)["SMILES"].head(24).tolist()
    prep = tiny_vae.prepare(smiles)
    mu = tiny_vae.encode_dataset(prep.dataset)[0]
    raw = faithful_latents(tiny_vae, prep.dataset, max_steps=0)
    assert np.array_equal(raw.z.numpy(), mu.numpy()) and (raw.steps == 0).all()
    found = faithful_latents(tiny_vae, prep.dataset, max_steps=20, check_every=10)
    # Decoded is what greedy decoding of z gives, and reproduced says whether that is it.
    again = tiny_vae.decode(found.z)["canonical"].tolist()
    assert found.decoded == again
    assert found.reproduced.tolist() == [
        d == s for d, s in zip(again, prep.dataset.smiles, strict=True)
    ]
    # Molecules mu gives back keep mu; the others were refined, and more come back.
    kept = raw.reproduced
    assert np.array_equal(found.z[kept].numpy(), mu[kept].numpy())
    assert (found.steps[kept] == 0).all() and (found.steps[~kept] > 0).all()
    assert found.reproduced.sum() >= raw.reproduced.sum()
    assert found.reproduced[kept].all()
    with pytest.raises(MolvaeError, match="max_steps"):
        faithful_latents(tiny_vae, prep.dataset, max_steps=-1)


def test_reconstruct_defaults_and_raw_mu(tiny_vae):
    smiles = pd.read_csv(TEST_SAMPLE)["SMILES"].head(12).tolist() + ["C[C@H](N)C(=O)O"]
    raw = reconstruct(tiny_vae, smiles, refine_steps=0)
    mu = tiny_vae.encode(smiles).filter(regex=r"^z\d+$").to_numpy()
    assert raw["reconstructed"].tolist() == tiny_vae.decode(mu)["canonical"].tolist()
    assert (raw["refine_steps"] == 0).all()
    faithful = reconstruct(tiny_vae, smiles, refine_steps=20)
    assert faithful["match"].sum() >= raw["match"].sum()
    assert faithful.loc[raw["match"], "match"].all()  # what came back from mu still does
    assert faithful["compared_with"].tolist() == ["input"] * 12 + ["flattened form"]
    assert faithful["encoded_as"].iloc[-1] == "CC(N)C(=O)O"
    strict = reconstruct(tiny_vae, smiles, refine_steps=0, strict=True)
    assert "not in vocabulary" in strict["status"].iloc[-1] and not strict["match"].iloc[-1]


def test_encode_mean_names_what_cannot_be_encoded(tiny_vae):
    with pytest.raises(MolvaeError, match=r"cannot encode input 2 .*not in vocabulary"):
        encode_mean(tiny_vae, ["CCO", "O=[N+]([O-])c1ccccc1"])
    with pytest.raises(MolvaeError, match="cannot encode input 1"):
        encode_mean(tiny_vae, ["C[C@H](N)C(=O)O"], strict=True)
    assert encode_mean(tiny_vae, ["C[C@H](N)C(=O)O"], refine_steps=0).shape == (1, 8)


# ------------------------------------------------------------------ the bundled model


@pytest.fixture(scope="module")
def default_vae():
    return MolVAE.load("default", device="cpu")


def test_common_drugs_parse_and_at_least_30_encode(default_vae):
    drugs = pd.read_csv(DRUGS)
    assert len(drugs) == 33 and drugs["name"].is_unique
    assert all(chem.parse_smiles(s) is not None for s in drugs["smiles"])
    prep = default_vae.prepare(drugs["smiles"].tolist(), flatten=True)
    assert len(prep.dataset) >= 30
    # Those with stereo marks, charges or a salt are encoded flattened, the others as given.
    as_given = default_vae.prepare(drugs["smiles"].tolist())
    assert len(prep.dataset) - len(as_given.dataset) == len(prep.flattened) >= 8
    encoded = default_vae.encode(drugs["smiles"].tolist())
    assert int((encoded["status"] == "ok").sum()) >= 30


@pytest.mark.slow
def test_bundled_model_reconstructs_small_drugs_by_default(default_vae):
    drugs = pd.read_csv(DRUGS).set_index("name")["smiles"]
    names = ["paracetamol", "aspirin", "lidocaine", "salicylic acid", "caffeine"]
    rec = reconstruct(default_vae, drugs[names].tolist())
    assert int(rec["match"].sum()) >= 4, rec[["canonical", "reconstructed"]]
    path = interpolate(default_vae, drugs["aspirin"], drugs["paracetamol"], steps=5)
    assert path["smiles"].iloc[[0, -1]].tolist() == [
        chem.canonical_smiles(drugs["aspirin"]), chem.canonical_smiles(drugs["paracetamol"])
    ]
    assert [end.reproduced for end in path.attrs["ends"]] == [True, True]
