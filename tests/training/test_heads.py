import numpy as np
import pandas as pd
import pytest
import torch

from molvae.errors import MolvaeError
from molvae.generation.model import MolVAE
from molvae.generation.refine import encode_mean
from molvae.models.store import save_model_dir
from molvae.training.heads import fit_property
from tests.conftest import SAMPLE


def test_fit_property_adds_a_head_without_touching_the_vae(tiny_vae, tmp_path):
    smiles = pd.read_csv(SAMPLE)["SMILES"].tolist()[:300]
    # A label that is a smooth function of the latent mean, so a working fit must find it.
    mu = encode_mean(tiny_vae, smiles, refine_steps=0).numpy()  # the encoder's mu
    w = np.random.default_rng(0).normal(size=mu.shape[1])
    values = np.tanh((mu - mu.mean(0)) / (mu.std(0) + 1e-6)) @ w
    values[:5] = np.nan
    res = fit_property(
        tiny_vae, smiles + ["invalid!"], np.append(values, 1.0), "length", epochs=300
    )
    assert res.n_missing == 5 and len(res.rejects) == 1
    assert res.n_train + res.n_test == 295
    assert res.metrics["r2"] > 0.8
    new = res.vae
    assert new.model.config.all_properties == ["logP", "QED", "length"]
    for key, value in tiny_vae.model.state_dict().items():
        assert torch.equal(new.model.state_dict()[key], value)
    save_model_dir(new.model, new.bundle, tmp_path / "m2")
    again = MolVAE.load(tmp_path / "m2")
    z = torch.randn(4, again.latent_dim)
    assert again.model.predict_properties(z).shape == (again.model.config.predictor_ensemble, 4, 3)
    assert again.bundle.property_metrics["length"]["r2"] == pytest.approx(res.metrics["r2"])


def test_fit_rdkit_property_and_errors(tiny_vae):
    smiles = pd.read_csv(SAMPLE)["SMILES"].tolist()[:100]
    res = fit_property(tiny_vae, smiles, None, "tpsa", epochs=50)
    assert res.vae.model.config.fitted_properties == ["TPSA"]
    with pytest.raises(MolvaeError, match="already predicts"):
        fit_property(tiny_vae, smiles, None, "logP")
    with pytest.raises(MolvaeError, match="need >= 10"):
        fit_property(tiny_vae, smiles[:5], np.ones(5), "x")
