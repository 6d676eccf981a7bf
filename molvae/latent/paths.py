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
from molvae.generation.refine import encode_faithfully, faithful_latents
from molvae.latent.maps import builtin_property
from molvae.settings import FaithfulSettings

FAITHFUL = FaithfulSettings()

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


@dataclass
class PathEnd:
    """How one end of an interpolation was encoded and what its encoding decodes to."""

    canonical: str  # the input's canonical SMILES: the end's row shows it
    encoded_as: str  # the SMILES encoded (the flattened form where the model cannot write it)
    decoded: str | None  # what the end's z decodes to (greedy)
    reproduced: bool  # decoded == encoded_as
    refine_steps: int  # refinement steps spent on it (0: the encoder's mu)

    @property
    def flattened(self) -> bool:
        """Whether the input was encoded in its flattened form."""
        return self.encoded_as != self.canonical


def interpolate(
    vae: MolVAE,
    smiles_a: str,
    smiles_b: str,
    steps: int = 10,
    method: str = "slerp",
    property_name: str = "QED",
    refine_steps: int = FAITHFUL.refine_steps,
    strict: bool = FAITHFUL.strict,
) -> pd.DataFrame:
    """Greedily decode ``steps`` points on the latent path between encodings of A and B.

    Each end is an encoding that decodes back to its molecule where one is found: mu,
    refined where needed up to ``refine_steps`` steps
    (:func:`~molvae.generation.refine.faithful_latents`; 0: the encoder's mu). A molecule the
    model cannot write as given is encoded in its flattened form (stereo marks and charges
    removed), unless ``strict``.

    One row per step: ``step``, ``t``, ``z_norm``, ``smiles`` (canonical when valid, else as
    decoded), ``decoded`` (what the point decodes to), ``valid``, ``sim_a`` and ``sim_b``
    (Tanimoto, Morgan radius-2 counts, to A and B) and the RDKit property named
    ``property_name`` (column named after it, e.g. ``QED``). The first and last rows are A and
    B themselves (their canonical SMILES): ``decoded`` there says what their encodings give,
    which differs when an end could not be reproduced or was encoded flattened.
    ``frame.attrs["ends"]`` holds the two :class:`PathEnd` records.
    """
    if steps < 2:
        raise MolvaeError(f"--steps must be at least 2 (both ends), got {steps}")
    if method not in INTERPOLATIONS:
        raise MolvaeError(
            f"unknown interpolation {method!r}; available: {', '.join(INTERPOLATIONS)}"
        )
    prop = builtin_property(property_name)
    canon_a, canon_b = _canonical_or_error(smiles_a, "A"), _canonical_or_error(smiles_b, "B")
    found = encode_faithfully(vae, [canon_a, canon_b], refine_steps, strict, what=("A", "B"))
    lat = found.latents
    ends = [
        PathEnd(found.canonical[i], found.encoded_as[i], lat.decoded[i],
                bool(lat.reproduced[i]), int(lat.steps[i]))
        for i in range(2)
    ]
    z = lat.z.numpy().astype(np.float64)
    t = np.linspace(0.0, 1.0, steps)
    path = INTERPOLATIONS[method](z[0], z[1], t)
    dec = vae.decode(path.astype(np.float32))
    decoded_valid = dec["valid"].to_numpy(dtype=bool)
    decoded = [c if v else s for c, s, v in
               zip(dec["canonical"], dec["smiles"], decoded_valid, strict=True)]
    valid_smiles = [c if v else None for c, v in zip(dec["canonical"], decoded_valid, strict=True)]
    # The ends are the molecules asked for, whatever their encodings decode to.
    valid_smiles[0], valid_smiles[-1] = ends[0].canonical, ends[1].canonical
    valid = np.array([s is not None for s in valid_smiles])
    smiles = [c or s for c, s in zip(valid_smiles, decoded, strict=True)]
    values = [
        chem.compute_properties(chem.parse_smiles(s), [prop])[prop] if s else np.nan
        for s in valid_smiles
    ]
    frame = pd.DataFrame(
        {
            "step": np.arange(steps),
            "t": t,
            "z_norm": np.linalg.norm(path, axis=1),
            "smiles": smiles,
            "decoded": decoded,
            "valid": valid,
            "sim_a": chem.similarity_to(canon_a, valid_smiles),
            "sim_b": chem.similarity_to(canon_b, valid_smiles),
            prop: values,
        }
    )
    frame.attrs["ends"] = ends
    return frame


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
    encoded_as: str = ""  # the SMILES encoded: the query, or its flattened form
    centre_decodes_to: str | None = None  # what the centre itself decodes to (greedy)
    reproduced: bool = True  # whether the centre decodes back to the encoded form
    refine_steps: int = 0  # refinement steps spent on the centre (0: the encoder's mu)

    @property
    def flattened(self) -> bool:
        """Whether the query was encoded in its flattened form."""
        return self.encoded_as != self.query


def neighbors(
    vae: MolVAE,
    smiles: str,
    n: int = 20,
    radius: float | None = None,
    points: int | None = None,
    seed: int = 0,
    refine_steps: int = FAITHFUL.refine_steps,
    strict: bool = FAITHFUL.strict,
) -> NeighborResult:
    """The ``n`` most similar unique valid molecules decoded from points around ``smiles``.

    The centre is an encoding that decodes back to the query where one is found: mu,
    refined where needed up to ``refine_steps`` steps
    (:func:`molvae.generation.refine.faithful_latents`; 0 keeps mu): the encoder's mu often
    decodes to another molecule, and a neighbourhood should be centred where the decoder
    gives the query back (``reproduced`` says whether it does). A query the model cannot write
    as given is encoded in its flattened form (``encoded_as``), unless ``strict``; molecules
    equal to that form count as the query too.
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
    prep = vae.prepare([query], flatten=not strict)
    if len(prep.rejects):
        raise MolvaeError(f"cannot encode the query {smiles!r}: {prep.rejects['reason'][0]}")
    z, logvar = vae.encode_dataset(prep.dataset)
    found = faithful_latents(vae, prep.dataset, max_steps=refine_steps,
                             check_every=FAITHFUL.refine_every, mu=z)
    encoded_as = prep.dataset.smiles[0]
    mu = found.z[0].numpy().astype(np.float64)
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
    is_query = frame["smiles"].isin({query, encoded_as})
    to_query = int(is_query.sum())
    frame = frame[~is_query]
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
        encoded_as=encoded_as,
        centre_decodes_to=found.decoded[0],
        reproduced=bool(found.reproduced[0]),
        refine_steps=int(found.steps[0]),
    )


def _canonical_or_error(smiles: str, what: str) -> str:
    canonical = chem.canonical_smiles(smiles) if isinstance(smiles, str) else None
    if canonical is None:
        raise MolvaeError(f"{what} is not a valid SMILES: {smiles!r}")
    return canonical
