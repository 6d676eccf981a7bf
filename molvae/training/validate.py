"""Validation: loss terms, token accuracy, exact reconstruction and property-head metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from molvae import chem
from molvae.data.encoding import (
    EncodedDataset,
    LengthBucketSampler,
    collate,
)
from molvae.models.store import (
    ModelBundle,
)
from molvae.models.vae import GRUVAE
from molvae.tokens import Vocabulary, get_tokenizer
from molvae.training.config import TrainConfig
from molvae.training.loss import vae_loss


@torch.no_grad()
def evaluate(
    model: GRUVAE,
    dataset: EncodedDataset,
    cfg: TrainConfig,
    bundle: ModelBundle,
    device: torch.device,
    amp: torch.dtype | None,
    beta: float,
) -> dict[str, Any]:
    """Validation loss terms, token accuracy, exact reconstruction, active units, property R^2."""
    model.eval()
    sampler = LengthBucketSampler(dataset.lengths, 512, seed=0)
    # Targets exist for the jointly trained properties only (fitted heads come first-class
    # from ``fit-property`` and keep their own normalization after them).
    n_joint = len(bundle.config.properties)
    mean = np.asarray(bundle.property_mean[:n_joint], dtype=np.float32) if n_joint else None
    std = np.asarray(bundle.property_std[:n_joint], dtype=np.float32) if n_joint else None
    totals = {"recon": 0.0, "kl": 0.0}
    correct = tokens = 0
    mus, preds, trues = [], [], []
    for index in sampler.batches(0):
        batch = collate(dataset, index, mean, std).to(device)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            out = model(batch.tokens, batch.lengths, batch.decoder_inputs, sample=False)
        terms = vae_loss(out, batch.targets, None, beta)
        for k in totals:
            totals[k] += float(terms[k]) * len(index)
        mask = batch.targets != Vocabulary.pad_id
        correct += int(((out["logits"].argmax(-1) == batch.targets) & mask).sum())
        tokens += int(mask.sum())
        mus.append(out["mu"].cpu())
        if "properties" in out:
            preds.append(out["properties"].float().mean(0).cpu())
            trues.append(batch.properties.cpu())
    n = len(dataset)
    mu = torch.cat(mus)
    result: dict[str, Any] = {
        "val_recon": totals["recon"] / n,
        "val_kl": totals["kl"] / n,
        "val_loss": (totals["recon"] + cfg.beta * totals["kl"]) / n,
        "val_token_accuracy": correct / max(tokens, 1),
        # A unit is active if its posterior mean varies across molecules (Burda et al. 2016).
        "active_units": int((mu.var(dim=0, correction=0) > 0.01).sum()),
    }
    if preds:
        pred = torch.cat(preds).numpy() * std + mean
        true = torch.cat(trues).numpy() * std + mean
        result["property_metrics"] = property_metrics(bundle.config.properties, pred, true)
    subset = np.arange(min(cfg.reconstruction_eval_size, n))
    if len(subset):
        result["val_exact_reconstruction"] = exact_reconstruction(
            model, dataset, subset, bundle, device, amp
        )
    model.train()
    return result


def property_metrics(names: list[str], pred: np.ndarray, true: np.ndarray) -> dict[str, dict]:
    """R^2 and MAE per property over rows where the true value is known."""
    out = {}
    for j, name in enumerate(names):
        ok = np.isfinite(true[:, j])
        if ok.sum() < 2:
            continue
        t, p = true[ok, j], pred[ok, j]
        ss_tot = float(((t - t.mean()) ** 2).sum())
        r2 = 1.0 - float(((t - p) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
        out[name] = {"r2": r2, "mae": float(np.abs(t - p).mean()), "n": int(ok.sum())}
    return out


@torch.no_grad()
def exact_reconstruction(
    model: GRUVAE,
    dataset: EncodedDataset,
    index: np.ndarray,
    bundle: ModelBundle,
    device: torch.device,
    amp: torch.dtype | None,
) -> float:
    """Fraction of molecules whose greedy decoding of mu gives the same canonical SMILES."""
    tokenizer = get_tokenizer(bundle.representation)
    hits = 0
    for start in range(0, len(index), 512):
        batch = collate(dataset, index[start : start + 512]).to(device)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            mu, _ = model.encode(batch.tokens, batch.lengths)
            ids = model.generate(mu, strategy="greedy")
        for row, i in zip(ids.cpu().numpy(), batch.index, strict=True):
            decoded = tokenizer.to_smiles(tokenizer.detokenize(bundle.vocabulary.decode(row)))
            hits += int(chem.canonical_smiles(decoded or "") == dataset.smiles[i])
    return hits / max(len(index), 1)
