"""Model-side evaluation: how well a VAE reconstructs, uses its latent space and predicts.

These complement the MOSES sample metrics: exact-match reconstruction (greedy decoding of mu,
canonical SMILES compared), per-token accuracy of teacher-forced decoding from mu, the KL
divergence of each latent dimension with the number of active units (Burda et al. 2016: a unit
is active when the variance of its posterior mean across molecules exceeds 0.01), and the
latent predictor's R^2 / MAE against RDKit values.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from molvae import chem
from molvae.data.encoding import collate, compute_property_matrix
from molvae.data.tables import read_generated, read_molecules
from molvae.errors import MolvaeError, file_not_found
from molvae.evaluation.metrics import evaluate
from molvae.generation.model import FewerSamplesWarning, MolVAE
from molvae.generation.refine import reconstruct
from molvae.models.vae import kl_divergence
from molvae.runtime import Log, emit
from molvae.tokens import Vocabulary
from molvae.training.validate import property_metrics

__all__ = ["evaluate_model", "model_metrics"]


@torch.no_grad()
def model_metrics(vae, smiles: Sequence[str], batch_size: int = 512) -> dict:
    """Reconstruction, token accuracy, KL per dimension, active units and predictor metrics."""

    prep = vae.prepare(list(smiles))
    ds = prep.dataset
    correct = total = 0
    mus, kls = [], []
    for start in range(0, len(ds), batch_size):
        index = np.arange(start, min(start + batch_size, len(ds)))
        batch = collate(ds, index).to(vae.device)
        with vae.autocast():
            mu, logvar = vae.model.encode(batch.tokens, batch.lengths)
            logits = vae.model.decode_logits(mu, batch.decoder_inputs)
        mask = batch.targets != Vocabulary.pad_id
        correct += int(((logits.argmax(-1) == batch.targets) & mask).sum())
        total += int(mask.sum())
        mus.append(mu.float().cpu())
        kls.append(kl_divergence(mu.float(), logvar.float()).cpu())
    mu = torch.cat(mus) if mus else torch.zeros(0, vae.latent_dim)
    kl = torch.cat(kls).mean(0) if kls else torch.zeros(vae.latent_dim)
    rec = reconstruct(vae, ds.smiles, refine_steps=0, strict=True)  # the encoder alone
    result: dict = {
        "molecules": len(ds),
        "not_encodable": len(prep.rejects),
        "exact_reconstruction": float(rec["match"].mean()) if len(rec) else float("nan"),
        "token_accuracy": correct / max(total, 1),
        "kl_total": float(kl.sum()),
        "kl_per_dimension": [round(float(v), 4) for v in kl],
        "active_units": int((mu.var(0, correction=0) > 0.01).sum()) if len(mu) > 1 else 0,
        "latent_dim": vae.latent_dim,
    }
    names = [n for n in vae.model.config.all_properties if n in chem.PROPERTIES]
    if names and len(mu):
        pred = vae.model.predict_properties(mu).mean(0).numpy()
        pred = pred * np.asarray(vae.bundle.property_std) + np.asarray(vae.bundle.property_mean)
        cols = [vae.model.config.all_properties.index(n) for n in names]
        truth = compute_property_matrix(ds.smiles, names)
        result["predictor"] = property_metrics(names, pred[:, cols], truth)
    return result


def evaluate_model(
    reference: str | Path,
    *,
    vae: MolVAE | None = None,
    samples: str | Path | None = None,
    n: int = 30_000,
    train: str | Path | None = None,
    scaffold_reference: str | Path | None = None,
    model_metrics_n: int = 2000,
    smiles_column: str | None = None,
    temperature: float = 1.0,
    canonical_only: bool = True,
    critic: bool = True,
    seed: int = 0,
    log: Log | None = None,
) -> dict[str, Any]:
    """The ``molvae evaluate`` report: MOSES metrics of a model's samples or of a file.

    Scores ``n`` molecules sampled from ``vae`` (as ``molvae sample`` draws them) or the strings
    of ``samples`` against ``reference`` (and ``train`` for Novelty, ``scaffold_reference`` for
    the TestSF metrics); with a model, also its own metrics on ``model_metrics_n`` reference
    molecules (:func:`model_metrics`). Every input file is checked before any sampling starts.
    Returns a JSON-ready dict: ``metrics``, ``timings_s``, ``model_metrics`` and the settings.
    """
    if (vae is None) == (samples is None):
        raise MolvaeError("evaluate either a model or a file of samples")
    for path in (reference, samples, train, scaffold_reference):
        if path is not None and not Path(path).is_file():
            raise file_not_found(path)
    report: dict[str, Any] = {"reference": str(reference)}
    if samples is not None:
        generated = read_generated(Path(samples), smiles_column)
        report["samples"] = str(samples)
    else:
        emit(log, f"sampling {n:,} molecules")
        with warnings.catch_warnings():  # a shortfall is said below, through ``log``
            warnings.simplefilter("ignore", FewerSamplesWarning)
            frame = vae.sample(n, temperature=temperature, seed=seed,
                               canonical_only=canonical_only, critic=critic)
        if len(frame) < n:
            emit(log, f"warning: only {len(frame):,} molecules sampled of {n:,} requested")
        generated = frame["smiles"].tolist()
        drawn = int(frame.attrs.get("drawn", len(frame)))
        if canonical_only:
            emit(log, f"{len(frame):,} kept of {drawn:,} drawn ({len(frame) / max(drawn, 1):.1%})")
        report.update(
            model=str(vae.path), n=n, temperature=temperature, seed=seed,
            canonical_only=canonical_only, critic=bool(frame.attrs.get("critic")), drawn=drawn,
        )
    result = evaluate(generated, reference, train, scaffold_reference=scaffold_reference, log=log)
    report["metrics"] = result.metrics
    report["timings_s"] = result.timings
    if vae is not None and model_metrics_n > 0:
        ref = read_molecules(reference)
        smiles = ref.records["canonical"].sample(
            n=min(model_metrics_n, len(ref.records)), random_state=seed
        ).tolist()
        report["model_metrics"] = model_metrics(vae, smiles)
    return report
