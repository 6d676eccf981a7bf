"""KL-weight (beta) schedules for beta-VAE training.

Starting with beta near zero lets the decoder learn to use z before the KL term pulls the
posterior to the prior (Bowman et al. 2016); cyclical schedules (Fu et al. 2019) repeat the
warm-up to re-open collapsed latent units. Each schedule maps a global step to a beta in
[0, beta_max]; the CLI's ``--kl-schedule`` choices are exactly the keys of ``SCHEDULES``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["SCHEDULES", "kl_weight"]


def _constant(progress: float, cycles: int) -> float:
    return 1.0


def _linear(progress: float, cycles: int) -> float:
    return min(max(progress, 0.0), 1.0)


def _sigmoid(progress: float, cycles: int) -> float:
    # Logistic ramp centred at half the warm-up, rescaled to be exactly 0 at the start and 1 at
    # the end of the warm-up.
    if progress <= 0.0:
        return 0.0
    if progress >= 1.0:
        return 1.0
    lo, hi = 1 / (1 + math.exp(6.0)), 1 / (1 + math.exp(-6.0))
    return (1 / (1 + math.exp(-12.0 * (progress - 0.5))) - lo) / (hi - lo)


def _cyclical(progress: float, cycles: int) -> float:
    # ``cycles`` ramps over the warm-up period; each ramps linearly over its first half and
    # holds at 1 for the second half. After the last cycle beta stays at 1.
    if progress >= 1.0:
        return 1.0
    phase = (max(progress, 0.0) * cycles) % 1.0
    return min(phase / 0.5, 1.0)


SCHEDULES: dict[str, Callable[[float, int], float]] = {
    "constant": _constant,
    "linear": _linear,
    "sigmoid": _sigmoid,
    "cyclical": _cyclical,
}


def kl_weight(
    step: int,
    schedule: str,
    beta_max: float,
    warmup_steps: int,
    start_step: int = 0,
    cycles: int = 4,
) -> float:
    """Beta at ``step``: 0 before ``start_step``, then the schedule over ``warmup_steps``."""
    if schedule == "constant":
        return beta_max
    if step < start_step:
        return 0.0
    progress = (step - start_step) / max(warmup_steps, 1)
    return beta_max * SCHEDULES[schedule](progress, max(cycles, 1))
