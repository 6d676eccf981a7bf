"""The VAE loss (reconstruction + beta * KL + property terms) and the learning-rate schedule.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from molvae.models.vae import kl_divergence
from molvae.tokens import Vocabulary
from molvae.training.config import TrainConfig


def vae_loss(
    out: dict[str, torch.Tensor],
    targets: torch.Tensor,
    properties: torch.Tensor | None,
    beta: float,
    free_bits: float = 0.0,
    property_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Reconstruction (summed over tokens, mean over molecules) + beta * KL (+ property MSE).

    The KL is taken against ``out``'s learned prior (``prior_mu``, ``prior_logvar``) when it
    has one, else against N(0, I). Padding is excluded from the reconstruction term. With
    ``free_bits`` > 0 each latent dimension's batch-mean KL below that many nats is not
    penalized (Kingma et al. 2016), which keeps units from collapsing. Missing property
    values (NaN) are masked out.
    """
    batch = targets.shape[0]
    logits = out["logits"].float()
    recon = (
        F.cross_entropy(
            logits.transpose(1, 2), targets, ignore_index=Vocabulary.pad_id, reduction="sum"
        )
        / batch
    )
    kl_dims = kl_divergence(
        out["mu"], out["logvar"], out.get("prior_mu"), out.get("prior_logvar")
    ).mean(dim=0)
    kl = kl_dims.sum()
    kl_term = kl_dims.clamp(min=free_bits).sum() if free_bits > 0 else kl
    loss = recon + beta * kl_term
    result = {"recon": recon, "kl": kl}
    if properties is not None and "properties" in out:
        pred = out["properties"].float()  # (k, B, P)
        mask = torch.isfinite(properties)
        target = torch.where(mask, properties, torch.zeros_like(properties))
        err = (pred - target.unsqueeze(0)).pow(2) * mask.unsqueeze(0)
        prop_loss = err.sum() / (mask.sum().clamp(min=1) * pred.shape[0])
        loss = loss + property_weight * prop_loss
        result["property_mse"] = prop_loss
    result["loss"] = loss
    return result


def learning_rate(
    step: int, cfg: TrainConfig, total_steps: int, time_fraction: float = 0.0
) -> float:
    """Linear warm-up, then cosine decay from ``learning_rate`` to ``min_learning_rate``.

    ``time_fraction`` (the share of a time budget used, with ``schedule_by_time``) moves the
    decay along when the clock is further ahead than the steps, so a run stopped by its time
    limit has finished its anneal instead of stopping at a high learning rate.
    """
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(total_steps - cfg.warmup_steps, 1)
    progress = min(max(progress, time_fraction), 1.0)
    cos = 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.min_learning_rate + (cfg.learning_rate - cfg.min_learning_rate) * cos
