"""2-D maps of the latent space: the posterior means (mu) of molecules, projected and coloured.

:func:`project` maps mu to 2-D with a registered method (``PROJECTIONS``: PCA, t-SNE, UMAP when
the optional ``umap-learn`` package is installed); :func:`latent_map` encodes a table of
molecules and returns a :class:`LatentMap` coloured by a property, for ``molvae map`` and the
run report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from molvae import chem
from molvae.data.encoding import compute_property_matrix
from molvae.errors import MolvaeError

if TYPE_CHECKING:
    from molvae.generation.model import MolVAE


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
    n_flattened: int = 0  # molecules encoded in their flattened form (MolVAE.encode)


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

    matrix = compute_property_matrix(records["canonical"].tolist(), [prop.name])
    return prop.name, matrix[:, 0].astype(np.float64)


def latent_map(
    vae: MolVAE,
    records: pd.DataFrame,
    color: str | None = "logP",
    method: str = "pca",
    max_points: int | None = 10_000,
    seed: int = 0,
    strict: bool = False,
) -> LatentMap:
    """Encode ``records`` (a ``MoleculeTable.records`` frame) and project mu to 2-D.

    With more than ``max_points`` records a seeded random subset is drawn (noted in ``note``).
    Molecules the model cannot encode (tokens outside its vocabulary, too long) are returned in
    ``rejects`` with their input row and reason, never dropped silently. A molecule the model
    cannot write as given is mapped at the encoding of its flattened form (``n_flattened``
    counts them), or with ``strict`` rejected.
    """
    check_projection(method)  # fail on a bad name or missing module before the slow part
    records = records.reset_index(drop=True)
    n_input = len(records)
    note = ""
    if max_points is not None and n_input > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(n_input, max_points, replace=False))
        records = records.iloc[keep].reset_index(drop=True)
        note = f"{max_points:,} of {n_input:,} molecules shown (random subset, --max-points)"
    enc = vae.encode(records["canonical"].tolist(), strict=strict)
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
        n_flattened=int((ok & (enc["encoded_as"] != enc["canonical"]).to_numpy()).sum()),
    )


def builtin_property(name: str) -> str:
    try:
        return chem.get_property(name).name
    except KeyError as exc:
        raise MolvaeError(str(exc.args[0])) from None
