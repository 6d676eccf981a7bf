"""Heads fitted on a frozen VAE: a latent predictor for a new property, and the realism critic.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from molvae import chem
from molvae.errors import MolvaeError
from molvae.generation.model import FewerSamplesWarning, MolVAE
from molvae.models.critic import Critic, featurize, n_descriptors
from molvae.models.vae import GRUVAE, PropertyEnsemble
from molvae.training.validate import property_metrics


@dataclass
class CriticFit:
    """A fitted critic and what was measured while fitting it."""

    critic: Critic
    metrics: dict[str, float]  # held-out auc, loss, acceptance at the threshold
    n_samples: int  # model samples used (train + held-out)
    n_reference: int  # reference molecules used


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def _train_critic(
    x: torch.Tensor,
    y: torch.Tensor,
    train: torch.Tensor,
    val: torch.Tensor,
    hidden: int,
    epochs: int,
    gen: torch.Generator,
    say: Callable[[str], None],
    stereo: bool = False,
) -> tuple[Critic, float, int]:
    """Train on rows ``train``; return the critic at its best held-out loss (rows ``val``)."""
    critic = Critic(x.shape[1] - n_descriptors(stereo), hidden, stereo=stereo)
    critic.mean.copy_(x[train].mean(0))
    critic.scale.copy_(x[train].std(0).clamp(min=0.1))  # rare bits: no blow-up
    opt = torch.optim.AdamW(critic.parameters(), lr=1e-3, weight_decay=1e-2)
    loss_fn = nn.functional.binary_cross_entropy_with_logits
    best_loss, best_state, best_epoch = float("inf"), None, 0
    for epoch in range(epochs):
        critic.train()
        for idx in train[torch.randperm(len(train), generator=gen)].split(256):
            loss = loss_fn(critic(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        critic.eval()
        with torch.no_grad():
            val_loss = float(loss_fn(critic(x[val]), y[val]))
        say(f"critic epoch {epoch + 1}: held-out loss {val_loss:.4f}")
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch + 1
            best_state = {k: v.clone() for k, v in critic.state_dict().items()}
    critic.load_state_dict(best_state)
    return critic, best_loss, best_epoch


def writes_stereo_or_charges(tokens: Sequence[str]) -> bool:
    """Whether a vocabulary (SMILES or SELFIES tokens) writes stereo marks or formal charges."""
    return any(
        "@" in t or "/" in t or "\\" in t or (t.startswith("[") and ("+" in t or "-" in t))
        for t in tokens
    )


def fit_critic(
    vae: Any,
    reference: Sequence[str],
    n_samples: int = 60_000,
    quantile: float = 0.9,
    epochs: int = 15,
    hidden: int = 16,
    held_out: float = 0.1,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    stereo: bool | None = None,
) -> CriticFit:
    """Fit a critic separating ``reference`` (valid SMILES, the training data) from the samples
    of ``vae``'s default sampler (canonical-form draws, no critic).

    Balanced classes: ``min(n_samples, len(reference))`` of each, the reference subsampled at
    random. ``held_out`` of both is kept out of training: the best epoch is chosen on it, and
    its AUC and loss are reported. ``quantile`` of the held-out samples' logits becomes the
    acceptance threshold ``log M``. ``hidden`` sets the network's width: small on purpose (see
    the module docstring). ``stereo`` adds chiral fingerprints and stereo and charge counts to
    the features; by default it is on when the model's vocabulary writes stereo marks or
    charges (a ZINC model), off otherwise (on a MOSES model those columns are always zero).
    """
    if stereo is None:
        stereo = writes_stereo_or_charges(vae.bundle.vocabulary.tokens)
    if not 0.0 < quantile <= 1.0:
        raise MolvaeError(f"quantile must be in (0, 1], got {quantile}")
    say = log or (lambda s: None)
    rng = np.random.default_rng(seed)
    n = min(n_samples, len(reference))
    if n < 20:
        raise MolvaeError(f"a critic needs at least 20 reference molecules, got {len(reference)}")
    ref = [reference[i] for i in rng.choice(len(reference), n, replace=False)]
    say(f"sampling {n:,} molecules from the model")
    with warnings.catch_warnings():  # a shortfall is said below, in the fit's own log
        warnings.simplefilter("ignore", FewerSamplesWarning)
        samples = vae.sample(n, seed=seed, canonical_only=True, critic=False)["canonical"].tolist()
    if len(samples) < n:
        say(f"only {len(samples):,} samples in canonical form; fitting on {len(samples):,} of each")
    if len(samples) < 20:
        raise MolvaeError(f"the model gave only {len(samples)} samples; cannot fit a critic")
    ref = ref[: len(samples)]  # balanced classes: the logit then estimates the density ratio
    say(f"featurizing {len(samples) + len(ref):,} molecules")
    x = torch.from_numpy(
        np.concatenate([featurize(samples, stereo=stereo), featurize(ref, stereo=stereo)])
    )
    y = torch.cat([torch.zeros(len(samples)), torch.ones(len(ref))])
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(x), generator=gen)
    n_val = max(int(len(x) * held_out), 10)
    val, train = perm[:n_val], perm[n_val:]
    # Initialization and dropout draw from torch's global generator: seed it here (and give
    # the caller's state back afterwards) so that a fit is reproducible.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        critic, best_loss, best_epoch = _train_critic(
            x, y, train, val, hidden, epochs, gen, say, stereo
        )
    critic.eval()
    with torch.no_grad():
        val_logits = critic(x[val]).numpy().astype(np.float64)
    labels = y[val].numpy()
    model_logits = val_logits[labels == 0]
    critic.log_m = float(np.quantile(model_logits, quantile))
    metrics = {
        "auc": _auc(labels, val_logits),
        "loss": best_loss,
        "best_epoch": float(best_epoch),
        "acceptance": float(critic.accept_probability(model_logits).mean()),
    }
    critic.info = {
        "quantile": quantile,
        "n_samples": len(samples),
        "n_reference": len(ref),
        "held_out": held_out,
        "epochs": epochs,
        "seed": seed,
        **{f"held_out_{k}": v for k, v in metrics.items()},
    }
    return CriticFit(critic, metrics, len(samples), len(ref))


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
