import numpy as np
import pandas as pd
import pytest
import torch

from molvae.api import MolVAE, resolve_model_path
from molvae.chem import canonical_smiles
from molvae.errors import MolvaeError


def test_sample_rows_are_checked_with_rdkit(tiny_vae):
    frame = tiny_vae.sample(200, seed=0)
    assert len(frame) == 200
    assert list(frame.columns) == ["smiles", "canonical", "valid"]
    for smi, can, valid in frame.itertuples(index=False):
        assert valid == (canonical_smiles(smi) is not None)
        if valid:
            assert can == canonical_smiles(smi)


def test_sample_is_reproducible_with_seed(tiny_vae):
    a = tiny_vae.sample(50, seed=3)
    b = tiny_vae.sample(50, seed=3)
    assert a.equals(b)


@pytest.mark.parametrize("strategy", ["sample", "greedy"])
def test_parallel_decode_equals_one_process(tiny_vae, strategy):
    """Forked CPU workers give exactly the rows, in order, of decoding in this process."""
    z = tiny_vae.sample_prior(100, seed=3)
    done: list[int] = []
    one = tiny_vae.decode(z, strategy, batch_size=16, seed=5, n_jobs=1)
    two = tiny_vae.decode(z, strategy, batch_size=16, seed=5, n_jobs=2, on_progress=done.append)
    assert one.equals(two) and len(two) == 100
    assert sum(done) == 100 and len(done) == 7
    other = tiny_vae.decode(z, strategy, batch_size=16, seed=6, n_jobs=2)
    assert strategy == "greedy" or not other["smiles"].equals(two["smiles"])


def test_unique_sampling(tiny_vae):
    frame = tiny_vae.sample(60, unique=True, seed=1)
    assert len(frame) == 60 and frame["valid"].all() and frame["canonical"].is_unique


def test_encode_accounts_for_every_input(tiny_vae):
    frame = tiny_vae.encode(["CCO", "not smiles", "", "C" * 200, "c1ccccc1"], return_sigma=True)
    assert len(frame) == 5
    assert frame["status"].tolist()[0] == "ok" and frame["status"].tolist()[4] == "ok"
    assert frame["status"][1] == "invalid SMILES" and frame["status"][2] == "empty"
    assert frame["status"][3].startswith("too long")
    z = frame[[f"z{i}" for i in range(tiny_vae.latent_dim)]].to_numpy()
    assert np.isfinite(z[[0, 4]]).all() and np.isnan(z[[1, 2, 3]]).all()
    assert (frame.loc[[0, 4], "sigma0"] > 0).all()


def test_encode_mean_names_bad_molecule(tiny_vae):
    with pytest.raises(MolvaeError, match="input 2"):
        tiny_vae.encode_mean(["CCO", "xyz"])
    assert tiny_vae.encode_mean(["CCO", "CCN"]).shape == (2, tiny_vae.latent_dim)


def test_decode_and_reconstruct(tiny_vae):
    z = tiny_vae.encode_mean(["CCO", "CCN"]).numpy()
    dec = tiny_vae.decode(z)
    assert len(dec) == 2 and dec["valid"].all()
    rec = tiny_vae.reconstruct(["CCO", "bad"])
    assert rec["match"].dtype == bool and not rec["match"][1]
    assert rec["reconstructed"][0] == dec["canonical"][0]
    with pytest.raises(MolvaeError, match="shape"):
        tiny_vae.decode(np.zeros((2, tiny_vae.latent_dim + 1)))


def test_resolve_model_path(tiny_run, tmp_path):
    assert resolve_model_path(tiny_run) == tiny_run / "model"
    assert resolve_model_path(tiny_run / "model") == tiny_run / "model"
    with pytest.raises(MolvaeError, match="not found"):
        resolve_model_path(tmp_path / "nope")
    assert MolVAE.load(tiny_run).properties == ["logP", "QED"]


def test_refine_latents_raises_likelihood_and_keeps_order(tiny_vae):
    smiles = ["CCOc1ccccc1", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "c1ccc2ccccc2c1"]
    prep = tiny_vae.prepare(smiles)
    mu, _ = tiny_vae.encode_dataset(prep.dataset)
    z0, ll0 = tiny_vae.refine_latents(prep.dataset, steps=0)
    assert torch.equal(z0, mu)  # zero steps: the encoder's mu and its own log-likelihood
    z, ll = tiny_vae.refine_latents(prep.dataset, steps=20, prior_weight=0.0, batch_size=3)
    assert z.shape == mu.shape and ll.shape == (len(smiles),)
    assert (ll >= ll0 - 1e-4).all() and ll.mean() > ll0.mean() + 0.1
    # Each row is refined on its own: refining one molecule alone gives the same z.
    alone = tiny_vae.prepare(smiles[2:3])
    z_alone, _ = tiny_vae.refine_latents(alone.dataset, steps=20, prior_weight=0.0)
    assert torch.allclose(z_alone[0], z[2], atol=0.05)  # Adam amplifies float noise a little
    # The prior term keeps z nearer the origin than maximum likelihood does.
    z_map, _ = tiny_vae.refine_latents(prep.dataset, steps=20, prior_weight=1.0)
    assert z_map.norm(dim=1).mean() < z.norm(dim=1).mean()


def test_reconstruct_with_refined_latents(tiny_vae):
    from molvae_datasets import sample_path

    smiles = pd.read_csv(sample_path("moses_test_sample.csv"))["SMILES"].head(40).tolist()
    smiles.append("not a molecule")
    plain = tiny_vae.reconstruct(smiles)
    refined = tiny_vae.reconstruct(smiles, refine_steps=30)
    assert list(refined["status"]) == list(plain["status"]) and not refined["match"].iloc[-1]
    # Per-molecule inference gives back at least as many molecules as the encoder's mu alone.
    assert refined["match"].sum() >= plain["match"].sum()
    assert refined["canonical"].equals(plain["canonical"])
