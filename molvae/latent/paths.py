"""Paths in the latent space: interpolation between two molecules and neighbourhoods of one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from molvae import chem
from molvae.errors import MolvaeError
from molvae.generation.refine import encode_mean, refine_latents
from molvae.latent.maps import builtin_property

if TYPE_CHECKING:
    from molvae.generation.model import MolVAE


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Straight-line points ``(1 - t) a + t b``, one row per ``t``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[:, None]
    return (1.0 - t) * a + t * b


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation: the direction turns along the great circle, the norm is linear.

    Under the N(0, I) prior almost all mass lies near the sphere of radius sqrt(d); the
    straight line between two typical points dips inside it (its midpoint has norm about
    sqrt(d / 2)), a region the decoder rarely saw. Here the direction moves at constant angular
    speed from a to b and the norm goes linearly from |a| to |b|, so the endpoints are exactly
    ``a`` and ``b`` and every point stays at a typical distance from the origin. Falls back to
    :func:`lerp` when either end is (nearly) the origin or the two directions coincide; for
    opposite directions the great circle is not unique and one is chosen deterministically.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-12 or nb < 1e-12:
        return lerp(a, b, t)
    ua, ub = a / na, b / nb
    cos = float(np.clip(ua @ ub, -1.0, 1.0))
    omega = float(np.arccos(cos))
    if omega < 1e-6:
        return lerp(a, b, t)
    if np.pi - omega < 1e-6:
        # Antipodal: turn through the axis least aligned with a (any great circle would do).
        axis = np.zeros_like(ua)
        axis[int(np.argmin(np.abs(ua)))] = 1.0
        perp = axis - (axis @ ua) * ua
        perp /= np.linalg.norm(perp)
        angle = np.pi * t[:, None]
        direction = np.cos(angle) * ua + np.sin(angle) * perp
    else:
        sin = np.sin(omega)
        direction = (
            np.sin((1.0 - t)[:, None] * omega) * ua + np.sin(t[:, None] * omega) * ub
        ) / sin
    norms = (1.0 - t) * na + t * nb
    path = direction * norms[:, None]
    # Exact endpoints, whatever the rounding of the trigonometry.
    path[t == 0.0] = a
    path[t == 1.0] = b
    return path


# Registry: the CLI's --method choices for interpolation.
INTERPOLATIONS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "linear": lerp,
    "slerp": slerp,
}


def interpolate(
    vae: MolVAE,
    smiles_a: str,
    smiles_b: str,
    steps: int = 10,
    method: str = "slerp",
    property_name: str = "QED",
) -> pd.DataFrame:
    """Greedily decode ``steps`` points on the latent path from mu(A) to mu(B).

    One row per step: ``step``, ``t``, ``z_norm``, ``smiles`` (canonical when valid, else as
    decoded), ``valid``, ``sim_a`` and ``sim_b`` (Tanimoto, Morgan radius-2 counts, to A and B)
    and the RDKit property named ``property_name`` (column named after it, e.g. ``QED``).
    The first and last rows show how well A and B themselves reconstruct.
    """
    if steps < 2:
        raise MolvaeError(f"--steps must be at least 2 (both ends), got {steps}")
    if method not in INTERPOLATIONS:
        raise MolvaeError(
            f"unknown interpolation {method!r}; available: {', '.join(INTERPOLATIONS)}"
        )
    prop = builtin_property(property_name)
    canon_a, canon_b = _canonical_or_error(smiles_a, "A"), _canonical_or_error(smiles_b, "B")
    mu = encode_mean(vae, [canon_a, canon_b]).numpy().astype(np.float64)
    t = np.linspace(0.0, 1.0, steps)
    path = INTERPOLATIONS[method](mu[0], mu[1], t)
    dec = vae.decode(path.astype(np.float32))
    valid = dec["valid"].to_numpy(dtype=bool)
    valid_smiles = [c if v else None for c, v in zip(dec["canonical"], valid, strict=True)]
    smiles = [c or s for c, s in zip(valid_smiles, dec["smiles"], strict=True)]
    values = [
        chem.compute_properties(chem.parse_smiles(s), [prop])[prop] if s else np.nan
        for s in valid_smiles
    ]
    return pd.DataFrame(
        {
            "step": np.arange(steps),
            "t": t,
            "z_norm": np.linalg.norm(path, axis=1),
            "smiles": smiles,
            "valid": valid,
            "sim_a": chem.similarity_to(canon_a, valid_smiles),
            "sim_b": chem.similarity_to(canon_b, valid_smiles),
            prop: values,
        }
    )


@dataclass
class NeighborResult:
    """Molecules decoded around a query, and counts of what the sampled points decoded to."""

    query: str  # canonical SMILES of the query
    table: pd.DataFrame  # smiles, similarity, distance, hits; most similar first
    radius: float  # largest distance from mu that was sampled
    posterior_scale: float  # norm of the query's posterior sigma: the encoder's own spread
    points: int  # latent points decoded
    valid: int  # of which decoded to a valid molecule
    decoded_to_query: int  # of which decoded back to the query itself
    unique: int  # unique valid molecules other than the query (before the top-n cut)


def neighbors(
    vae: MolVAE,
    smiles: str,
    n: int = 20,
    radius: float | None = None,
    points: int | None = None,
    seed: int = 0,
    refine_steps: int = 30,
) -> NeighborResult:
    """The ``n`` most similar unique valid molecules decoded from points around ``smiles``.

    The centre is the query's encoding mu refined for ``refine_steps`` steps
    (:func:`molvae.refine_latents`; 0 keeps mu): the encoder's mu often decodes to another
    molecule, and a neighbourhood should be centred where the decoder gives the query back.
    Points are ``c + r * u`` (``c``: the centre) with ``u`` uniform on the unit sphere and ``r``
    uniform in (0, ``radius``], so both the close neighbourhood and its edge are explored;
    decoding is greedy. ``radius`` defaults to the norm of the query's posterior sigma, the
    distance at which the encoder itself is unsure: in a 64-dimensional space a fixed small
    radius such as 0.5 usually decodes back to the query only, while this scale adapts to every
    model. ``points`` defaults to ``max(10 n, 100)``. Each output row gives the molecule, its
    Tanimoto similarity to the query (Morgan radius-2 counts), the latent ``distance`` of the
    nearest point that decoded to it and ``hits``, how many points did. The query itself is not
    listed (its count is in ``decoded_to_query``).
    """
    if n < 1:
        raise MolvaeError(f"-n must be at least 1, got {n}")
    if radius is not None and (not radius > 0 or not np.isfinite(radius)):
        raise MolvaeError(f"--radius must be a positive number, got {radius}")
    points = max(10 * n, 100) if points is None else points
    if points < 1:
        raise MolvaeError(f"--points must be at least 1, got {points}")
    query = _canonical_or_error(smiles, "the query")
    prep = vae.prepare([query])
    if len(prep.rejects):
        raise MolvaeError(f"cannot encode the query {smiles!r}: {prep.rejects['reason'][0]}")
    z, logvar = vae.encode_dataset(prep.dataset)
    if refine_steps > 0:
        z = refine_latents(vae, prep.dataset, steps=refine_steps, z_init=z)[0]
    mu = z[0].numpy().astype(np.float64)
    scale = float(np.linalg.norm(torch.exp(0.5 * logvar[0]).numpy().astype(np.float64)))
    radius = scale if radius is None else float(radius)
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((points, len(mu)))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    distance = radius * (1.0 - rng.uniform(0.0, 1.0, points))  # in (0, radius]
    z = mu + directions * distance[:, None]
    dec = vae.decode(z.astype(np.float32))
    frame = pd.DataFrame({"smiles": dec["canonical"], "distance": np.linalg.norm(z - mu, axis=1)})
    frame = frame[dec["valid"].to_numpy(dtype=bool)]
    n_valid = len(frame)
    to_query = int((frame["smiles"] == query).sum())
    frame = frame[frame["smiles"] != query]
    grouped = (
        frame.groupby("smiles", sort=False)["distance"].agg(["min", "size"]).reset_index()
        if len(frame)
        else pd.DataFrame({"smiles": [], "min": [], "size": []})
    )
    table = pd.DataFrame(
        {
            "smiles": grouped["smiles"].astype(object),
            "similarity": chem.similarity_to(query, grouped["smiles"].tolist()),
            "distance": grouped["min"].astype(float),
            "hits": grouped["size"].astype(int),
        }
    )
    table = table.sort_values(["similarity", "distance"], ascending=[False, True], kind="stable")
    return NeighborResult(
        query=query,
        table=table.head(n).reset_index(drop=True),
        radius=radius,
        posterior_scale=scale,
        points=points,
        valid=n_valid,
        decoded_to_query=to_query,
        unique=len(table),
    )


def _canonical_or_error(smiles: str, what: str) -> str:
    canonical = chem.canonical_smiles(smiles) if isinstance(smiles, str) else None
    if canonical is None:
        raise MolvaeError(f"{what} is not a valid SMILES: {smiles!r}")
    return canonical
