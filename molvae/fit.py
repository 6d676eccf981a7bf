"""Fitting a property head on a frozen, trained VAE (``molvae fit-property``).

A chemist's labelled set is small (hundreds of molecules), far too small to train a VAE, but
enough to learn a map from the latent means to a property. The VAE's weights are not touched;
a new ensemble head is trained on mu and appended to the model's predictors. Each member is
fitted on its own bootstrap resample, so the ensemble's spread reflects the data's support, and
the held-out R^2 / MAE are measured on molecules no member saw.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from molvae import chem
from molvae.errors import MolvaeError
from molvae.model import GRUVAE, PropertyEnsemble
from molvae.train import property_metrics

__all__ = ["FitResult", "fit_property"]


@dataclass
class FitResult:
    """The extended model and how well the new head predicts held-out molecules."""

    vae: Any  # MolVAE
    metrics: dict[str, float]
    n_train: int
    n_test: int
    n_missing: int
    rejects: Any  # DataFrame of inputs that could not be encoded


def fit_property(
    vae,
    smiles: list[str],
    values: np.ndarray | None,
    name: str,
    test_fraction: float = 0.2,
    epochs: int = 400,
    learning_rate: float = 3e-3,
    weight_decay: float = 1e-3,
    seed: int = 0,
) -> FitResult:
    """Fit a head for ``name`` on the frozen ``vae``; returns a new ``MolVAE`` with it added.

    ``values`` holds the labels (NaN = missing, excluded and counted); ``None`` computes the
    RDKit property ``name``.
    """
    from molvae.api import MolVAE

    if name in vae.model.config.all_properties:
        raise MolvaeError(f"the model already predicts {name!r}; choose another name")
    prep = vae.prepare(smiles)
    if values is None:
        try:
            prop = chem.get_property(name)
        except KeyError:
            raise MolvaeError(f"no values given and {name!r} is not an RDKit property") from None
        name = prop.name
        y = np.array([prop.func(chem.parse_smiles(s)) for s in prep.dataset.smiles])
    else:
        y = np.asarray(values, dtype=np.float64)[prep.dataset.rows]
    known = np.isfinite(y)
    n_missing = int((~known).sum())
    if known.sum() < 10:
        raise MolvaeError(f"only {int(known.sum())} molecules with a numeric {name!r}; need >= 10")
    mu, _ = vae.encode_dataset(prep.dataset)
    mu, y = mu[known], y[known]
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    n_test = max(2, int(round(len(y) * test_fraction)))
    test, train = perm[:n_test], perm[n_test:]
    mean, std = float(y[train].mean()), float(y[train].std() or 1.0)
    cfg = vae.model.config
    torch.manual_seed(seed)
    head = PropertyEnsemble(cfg.latent_dim, cfg.predictor_hidden, 1, cfg.predictor_ensemble)
    x = mu[train]
    t = torch.as_tensor((y[train] - mean) / std, dtype=torch.float32)
    # Bootstrap resample per member: row weights = how often each row was drawn.
    weights = torch.stack(
        [
            torch.as_tensor(
                np.bincount(rng.integers(0, len(train), len(train)), minlength=len(train)),
                dtype=torch.float32,
            )
            for _ in range(cfg.predictor_ensemble)
        ]
    )
    opt = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=weight_decay)
    for _ in range(epochs):
        pred = head(x)[:, :, 0]  # (k, n)
        loss = ((pred - t) ** 2 * weights).sum() / weights.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred_test = head(mu[test])[:, :, 0].mean(0).numpy() * std + mean
    metrics = property_metrics([name], pred_test[:, None], y[test][:, None])[name]

    new_cfg = copy.deepcopy(cfg)
    new_cfg.fitted_properties = [*cfg.fitted_properties, name]
    model = GRUVAE(new_cfg)
    state = vae.model.state_dict()
    index = len(cfg.fitted_properties)
    state.update({f"fitted_predictors.{index}.{k}": v for k, v in head.state_dict().items()})
    model.load_state_dict(state)
    model.eval()
    bundle = copy.deepcopy(vae.bundle)
    bundle.config = new_cfg
    bundle.property_mean = [*bundle.property_mean, mean]
    bundle.property_std = [*bundle.property_std, std]
    bundle.property_metrics = {**bundle.property_metrics, name: metrics}
    bundle.training = {
        **bundle.training,
        "fitted": {
            **bundle.training.get("fitted", {}),
            name: {"n_train": len(train), "n_test": n_test, "epochs": epochs, "seed": seed},
        },
    }
    new = MolVAE(model.to(vae.device), bundle, vae.device, None)
    return FitResult(new, metrics, len(train), n_test, n_missing, prep.rejects)
