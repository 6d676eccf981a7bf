"""Looking into the latent space: projections, interpolation, neighbourhoods and ELBO scores.

Everything here works on the posterior means (mu) a trained :class:`~molvae.api.MolVAE` gives
its molecules, and returns numpy arrays or pandas tables, so the CLI (``molvae map``,
``interpolate``, ``neighbors``, ``score``, ``embed``) and a notebook share the same code.

* :func:`project` maps mu to 2-D with a registered method (``PROJECTIONS``: PCA, t-SNE, UMAP
  when the optional ``umap-learn`` package is installed).
* :func:`slerp` / :func:`lerp` and :func:`interpolate` walk between two encodings and decode.
* :func:`neighbors` decodes points scattered around one molecule's encoding.
* :func:`elbo` scores molecules by the model's evidence lower bound, an out-of-distribution
  measure: molecules unlike the training set reconstruct poorly and/or sit far from the prior.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from molvae import chem
from molvae.data import collate
from molvae.errors import MolvaeError
from molvae.model import kl_divergence

if TYPE_CHECKING:
    from molvae.api import MolVAE

__all__ = [
    "INTERPOLATIONS",
    "PROJECTIONS",
    "LatentMap",
    "NeighborResult",
    "Projection",
    "check_projection",
    "color_values",
    "elbo",
    "interpolate",
    "latent_map",
    "lerp",
    "neighbors",
    "project",
    "slerp",
]


# --------------------------------------------------------------------------------------------
# 2-D projections
# --------------------------------------------------------------------------------------------


def _pca(mu: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=seed).fit_transform(mu)


def _tsne(mu: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    # Perplexity must stay below the number of points; 30 is scikit-learn's default.
    perplexity = float(min(30.0, max(1.0, (len(mu) - 1) / 3)))
    return TSNE(
        n_components=2, perplexity=perplexity, init="pca", random_state=seed
    ).fit_transform(mu)


def _umap(mu: np.ndarray, seed: int) -> np.ndarray:
    check_projection("umap")
    import umap  # optional: umap-learn is not a dependency of molvae
    neighbours = max(2, int(min(15, len(mu) - 1)))
    reducer = umap.UMAP(n_components=2, n_neighbors=neighbours, random_state=seed)
    return reducer.fit_transform(mu)


@dataclass(frozen=True)
class Projection:
    """A named 2-D projection method, the labels of its axes and the module it needs."""

    name: str
    label: str
    func: Callable[[np.ndarray, int], np.ndarray]
    axes: tuple[str, str]
    min_points: int
    requires: str | None = None  # optional module (not a molvae dependency)
    install_hint: str = ""


# Registry: the CLI's --method choices are exactly these names.
PROJECTIONS: dict[str, Projection] = {
    p.name: p
    for p in (
        Projection("pca", "PCA", _pca, ("PC 1", "PC 2"), 2),
        Projection("tsne", "t-SNE", _tsne, ("t-SNE 1", "t-SNE 2"), 3),
        Projection(
            "umap", "UMAP", _umap, ("UMAP 1", "UMAP 2"), 3, "umap", "pip install umap-learn"
        ),
    )
}


def get_projection(method: str) -> Projection:
    """The registered projection called ``method`` (case-insensitive); one-line error if none."""
    key = method.lower()
    if key not in PROJECTIONS:
        raise MolvaeError(f"unknown projection {method!r}; available: {', '.join(PROJECTIONS)}")
    return PROJECTIONS[key]


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: blocked in sys.modules (set to None)
        return False


def check_projection(method: str) -> Projection:
    """:func:`get_projection`, plus a one-line error if the module it needs is not installed.

    Called before encoding, so a missing optional package fails in a second, not after minutes.
    """
    proj = get_projection(method)
    if proj.requires is not None and not _importable(proj.requires):
        raise MolvaeError(
            f"--method {proj.name} needs the {proj.requires!r} module ({proj.install_hint}); "
            f"or use --method {' or '.join(p for p in PROJECTIONS if p != proj.name)}"
        )
    return proj


def project(mu: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2-D coordinates (n, 2) of latent points with a registered method (see ``PROJECTIONS``).

    A 1-D latent space is padded with a zero column so every method returns two axes.
    """
    proj = get_projection(method)
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim != 2:
        raise MolvaeError(f"latent points must be a 2-D array, got shape {mu.shape}")
    if len(mu) < proj.min_points:
        raise MolvaeError(
            f"a {proj.name} projection needs at least {proj.min_points} molecules, got {len(mu)}"
        )
    if mu.shape[1] < 2:
        mu = np.concatenate([mu, np.zeros((len(mu), 2 - mu.shape[1]))], axis=1)
    return np.asarray(proj.func(mu, seed), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Interpolation
# --------------------------------------------------------------------------------------------


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
    prop = _builtin_property(property_name)
    canon_a, canon_b = _canonical_or_error(smiles_a, "A"), _canonical_or_error(smiles_b, "B")
    mu = vae.encode_mean([canon_a, canon_b]).numpy().astype(np.float64)
    t = np.linspace(0.0, 1.0, steps)
    path = INTERPOLATIONS[method](mu[0], mu[1], t)
    dec = vae.decode(path.astype(np.float32), strategy="greedy")
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


# --------------------------------------------------------------------------------------------
# Neighbourhoods
# --------------------------------------------------------------------------------------------


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
    (:meth:`MolVAE.refine_latents`; 0 keeps mu): the encoder's mu often decodes to another
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
        z = vae.refine_latents(prep.dataset, steps=refine_steps, z_init=z)[0]
    mu = z[0].numpy().astype(np.float64)
    scale = float(np.linalg.norm(torch.exp(0.5 * logvar[0]).numpy().astype(np.float64)))
    radius = scale if radius is None else float(radius)
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((points, len(mu)))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    distance = radius * (1.0 - rng.uniform(0.0, 1.0, points))  # in (0, radius]
    z = mu + directions * distance[:, None]
    dec = vae.decode(z.astype(np.float32), strategy="greedy")
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


# --------------------------------------------------------------------------------------------
# ELBO scores
# --------------------------------------------------------------------------------------------

ELBO_CHUNK = 50_000  # input molecules prepared at a time: memory stays flat on large files


@torch.no_grad()
def elbo(
    vae: MolVAE,
    smiles: Sequence[str],
    samples: int = 0,
    batch_size: int = 256,
    seed: int = 0,
) -> pd.DataFrame:
    """Per-molecule ELBO terms; one row per input, in order, rejected inputs included.

    Columns: ``smiles``, ``canonical``, ``status`` (``ok`` or why the molecule cannot be
    scored: invalid SMILES, tokens outside the vocabulary, too long), ``tokens`` (sequence
    length with the end token), ``recon_ll_mu`` (teacher-forced log p(x | z = mu), summed over
    tokens), ``recon_ll`` (the ELBO's reconstruction term: ``recon_ll_mu`` when ``samples`` is
    0, else the mean of log p(x | z_k) over ``samples`` draws z_k ~ q(z | x)), ``kl`` (KL of
    q(z | x) to the N(0, I) prior, analytic), ``neg_elbo = kl - recon_ll`` and
    ``neg_elbo_per_token``. Higher ``neg_elbo`` means less like the training data; it grows with
    length, so compare molecules of similar size or use the per-token column.

    Computed in fp32 (no mixed precision) so scores are comparable across machines, in batches
    of ``batch_size`` molecules sorted by length (little padding); ``seed`` fixes the posterior
    draws.
    """
    if samples < 0:
        raise MolvaeError(f"--samples must be 0 or more, got {samples}")
    if batch_size < 1:
        raise MolvaeError(f"batch size must be at least 1, got {batch_size}")
    smiles = list(smiles)
    gen = torch.Generator(device=vae.device)
    gen.manual_seed(seed)
    parts = [
        _elbo_chunk(vae, smiles[start : start + ELBO_CHUNK], samples, batch_size, gen)
        for start in range(0, len(smiles), ELBO_CHUNK)
    ]
    if not parts:
        return _elbo_frame([], None, [], np.zeros((0, 4)), samples)
    return pd.concat(parts, ignore_index=True)


_ELBO_VALUES = ["tokens", "recon_ll_mu", "recon_ll", "kl"]


def _elbo_chunk(
    vae: MolVAE, smiles: list[str], samples: int, batch_size: int, gen: torch.Generator
) -> pd.DataFrame:
    prep = vae.prepare(smiles)
    ds = prep.dataset
    values = np.full((len(ds), len(_ELBO_VALUES)), np.nan)
    order = np.argsort(ds.lengths, kind="stable")
    model = vae.model
    for start in range(0, len(ds), batch_size):
        index = order[start : start + batch_size]
        batch = collate(ds, index).to(vae.device)
        mu, logvar = model.encode(batch.tokens, batch.lengths)
        mu, logvar = mu.float(), logvar.float()
        ll_mu = model.sequence_log_likelihood(mu, batch.decoder_inputs, batch.targets)
        if samples:
            ll = torch.zeros_like(ll_mu)
            for _ in range(samples):
                z = model.reparameterize(mu, logvar, generator=gen)
                ll += model.sequence_log_likelihood(z, batch.decoder_inputs, batch.targets)
            ll /= samples
        else:
            ll = ll_mu
        kl = kl_divergence(mu, logvar).sum(dim=1)
        values[index] = torch.stack(
            [batch.lengths.float(), ll_mu, ll, kl], dim=1
        ).cpu().double().numpy()
    # Position in this chunk of each encoded molecule (prepare's rows are 0-based positions).
    return _elbo_frame(smiles, prep, ds.rows, values, samples)


def _elbo_frame(
    smiles: list[str], prep, rows: Sequence[int], values: np.ndarray, samples: int
) -> pd.DataFrame:
    n = len(smiles)
    full = np.full((n, len(_ELBO_VALUES)), np.nan)
    rows = np.asarray(rows, dtype=np.int64)
    full[rows] = values
    canonical = pd.Series([None] * n, dtype=object)
    status = pd.Series(["ok"] * n, dtype=object)
    if prep is not None:
        canonical[rows] = prep.dataset.smiles
        status[prep.rejects["row"].to_numpy()] = prep.rejects["reason"].to_numpy()
    frame = pd.DataFrame({"smiles": smiles, "canonical": canonical, "status": status})
    for j, name in enumerate(_ELBO_VALUES):
        frame[name] = full[:, j]
    frame["tokens"] = frame["tokens"].astype("Int64")
    frame["neg_elbo"] = frame["kl"] - frame["recon_ll"]
    frame["neg_elbo_per_token"] = frame["neg_elbo"] / frame["tokens"].astype(float)
    frame.attrs["samples"] = samples
    return frame


# --------------------------------------------------------------------------------------------
# Latent maps
# --------------------------------------------------------------------------------------------


@dataclass
class LatentMap:
    """2-D projection of molecules' mu, with what to colour the points by and show on hover."""

    xy: np.ndarray  # (n, 2)
    smiles: list[str]  # canonical SMILES per point
    rows: np.ndarray  # input row number per point
    color_name: str | None
    color: np.ndarray | None  # (n,) float, NaN = missing
    method: str
    label: str  # display name of the method, e.g. "t-SNE"
    axes: tuple[str, str]
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # more numbers shown on hover
    n_input: int = 0  # molecules offered (before subsampling and rejects)
    rejects: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["row", "smiles", "reason"])
    )
    note: str = ""  # e.g. "5,000 of 12,000 molecules shown (--max-points)"


def color_values(records: pd.DataFrame, name: str) -> tuple[str, np.ndarray]:
    """Values to colour molecules by: a numeric input column, else an RDKit property.

    An input column of that exact name wins (it holds the user's own measurements); otherwise
    the name is looked up among RDKit properties (``chem.PROPERTIES``, aliases allowed) and
    computed from ``records['canonical']``. Non-numeric cells become NaN (drawn grey).
    """
    if name in records.columns and name not in ("row", "smiles", "canonical"):
        values = pd.to_numeric(records[name], errors="coerce").to_numpy(dtype=np.float64)
        if len(values) and not np.isfinite(values).any():
            raise MolvaeError(f"column {name!r} holds no numeric values to colour by")
        return name, values
    try:
        prop = chem.get_property(name)
    except KeyError:
        columns = [c for c in records.columns if c not in ("row", "smiles", "canonical")]
        numeric = [
            str(c) for c in columns if pd.to_numeric(records[c], errors="coerce").notna().any()
        ]
        hint = f"; numeric columns in the input: {', '.join(numeric)}" if numeric else ""
        raise MolvaeError(
            f"cannot colour by {name!r}: not a column of the input nor an RDKit property "
            f"({', '.join(chem.PROPERTIES)}){hint}"
        ) from None
    from molvae.data import compute_property_matrix

    matrix = compute_property_matrix(records["canonical"].tolist(), [prop.name])
    return prop.name, matrix[:, 0].astype(np.float64)


def latent_map(
    vae: MolVAE,
    records: pd.DataFrame,
    color: str | None = "logP",
    method: str = "pca",
    max_points: int | None = 10_000,
    seed: int = 0,
) -> LatentMap:
    """Encode ``records`` (a ``MoleculeTable.records`` frame) and project mu to 2-D.

    With more than ``max_points`` records a seeded random subset is drawn (noted in ``note``).
    Molecules the model cannot encode (tokens outside its vocabulary, too long) are returned in
    ``rejects`` with their input row and reason, never dropped silently.
    """
    check_projection(method)  # fail on a bad name or missing module before the slow part
    records = records.reset_index(drop=True)
    n_input = len(records)
    note = ""
    if max_points is not None and n_input > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(n_input, max_points, replace=False))
        records = records.iloc[keep].reset_index(drop=True)
        note = f"{max_points:,} of {n_input:,} molecules shown (random subset, --max-points)"
    enc = vae.encode(records["canonical"].tolist())
    ok = (enc["status"] == "ok").to_numpy()
    rejects = pd.DataFrame(
        {
            "row": records.loc[~ok, "row"].to_numpy(dtype=np.int64),
            "smiles": records.loc[~ok, "smiles"].to_numpy(dtype=object),
            "reason": enc.loc[~ok, "status"].to_numpy(dtype=object),
        }
    )
    kept = records.loc[ok].reset_index(drop=True)
    mu = enc.loc[ok, [f"z{i}" for i in range(vae.latent_dim)]].to_numpy(dtype=np.float64)
    proj = get_projection(method)
    if len(mu) < proj.min_points:
        raise MolvaeError(
            f"only {len(mu)} of {len(records)} molecules could be encoded; a {proj.label} map "
            f"needs at least {proj.min_points}"
            + (f" (first rejection: {rejects['reason'].iloc[0]})" if len(rejects) else "")
        )
    xy = project(mu, proj.name, seed=seed)
    color_name, values = (None, None)
    if color:
        color_name, values = color_values(kept, color)
    extra: dict[str, np.ndarray] = {}
    for col in kept.columns:
        if col in ("row", "smiles", "canonical") or col == color_name or len(extra) >= 8:
            continue
        numeric = pd.to_numeric(kept[col], errors="coerce")
        if numeric.notna().any():
            extra[str(col)] = numeric.to_numpy(dtype=np.float64)
    return LatentMap(
        xy=xy,
        smiles=kept["canonical"].tolist(),
        rows=kept["row"].to_numpy(dtype=np.int64),
        color_name=color_name,
        color=values,
        method=proj.name,
        label=proj.label,
        axes=proj.axes,
        extra=extra,
        n_input=n_input,
        rejects=rejects,
        note=note,
    )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _canonical_or_error(smiles: str, what: str) -> str:
    canonical = chem.canonical_smiles(smiles) if isinstance(smiles, str) else None
    if canonical is None:
        raise MolvaeError(f"{what} is not a valid SMILES: {smiles!r}")
    return canonical


def _builtin_property(name: str) -> str:
    try:
        return chem.get_property(name).name
    except KeyError as exc:
        raise MolvaeError(str(exc.args[0])) from None
