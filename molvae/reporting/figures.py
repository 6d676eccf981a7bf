"""Static figures: matplotlib charts as PNG bytes and RDKit molecule grids.

Charts are drawn on a bare ``matplotlib.figure.Figure`` (Agg, no pyplot), so no window or global
state is involved and this works on headless machines and inside worker processes. matplotlib is
imported on first use, so the CLI does not pay for it unless a figure is drawn. Molecule
drawings go through :mod:`molvae.chem`, the one module that talks to RDKit.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from molvae import chem

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from molvae.latent.maps import LatentMap


_DPI = 100


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI, layout="constrained")


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def training_curves_png(metrics: pd.DataFrame) -> bytes:
    """Loss, reconstruction, KL and beta against the training step, as one PNG.

    ``metrics`` holds the rows of ``metrics.jsonl`` (``molvae train``): ``split == 'train'``
    rows carry ``loss``/``recon``/``kl``/``beta``, ``split == 'validation'`` rows
    ``val_loss``/``val_recon``/``val_kl``, drawn as markers over the training lines.
    """
    train = metrics[metrics.get("split", pd.Series(dtype=object)) == "train"]
    val = metrics[metrics.get("split", pd.Series(dtype=object)) == "validation"]
    panels = [
        ("loss", "val_loss", "loss (recon + beta KL)"),
        ("recon", "val_recon", "reconstruction (nats / molecule)"),
        ("kl", "val_kl", "KL (nats / molecule)"),
        ("beta", None, "beta (KL weight)"),
    ]
    fig = _figure(10, 6.5)
    axes = fig.subplots(2, 2, sharex=True)
    for ax, (key, val_key, title) in zip(axes.ravel(), panels, strict=True):
        if key in train and train[key].notna().any():
            ax.plot(train["step"], train[key], color="#3b6ea8", lw=1.2, label="train")
        if val_key and val_key in val and val[val_key].notna().any():
            ax.plot(
                val["step"], val[val_key], "o-", color="#d1495b", ms=4, lw=1, label="validation"
            )
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        if key in ("recon", "loss") and key in train and (train[key] > 0).all():
            ax.set_yscale("log")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    for ax in axes[1]:
        ax.set_xlabel("step")
    return _png(fig)


def property_histograms_png(
    samples: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray] | None,
    names: Sequence[str],
    labels: tuple[str, str] = ("samples", "training set"),
) -> bytes:
    """One density histogram per property: samples against the reference set, shared bins."""
    cols = min(3, max(1, len(names)))
    rows = math.ceil(len(names) / cols)
    fig = _figure(3.6 * cols, 2.8 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, name in zip(axes, names, strict=False):
        s = np.asarray(samples.get(name, []), dtype=np.float64)
        s = s[np.isfinite(s)]
        r = np.asarray(reference.get(name, []), dtype=np.float64) if reference else np.zeros(0)
        r = r[np.isfinite(r)]
        both = np.concatenate([s, r])
        if not len(both):
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        else:
            lo, hi = np.percentile(both, [0.5, 99.5])
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            bins = np.linspace(lo, hi, 41)
            if len(r):
                ax.hist(np.clip(r, lo, hi), bins=bins, density=True, alpha=0.5,
                        color="#7a7a7a", label=f"{labels[1]} (n={len(r):,})")
            if len(s):
                ax.hist(np.clip(s, lo, hi), bins=bins, density=True, histtype="step", lw=1.6,
                        color="#3b6ea8", label=f"{labels[0]} (n={len(s):,})")
            ax.legend(fontsize=7)
        ax.set_title(name, fontsize=10)
        ax.set_yticks([])
    for ax in axes[len(names):]:
        ax.set_visible(False)
    return _png(fig)


def latent_map_png(lmap: LatentMap, title: str | None = None) -> bytes:
    """Scatter plot of a :class:`~molvae.latent.LatentMap`, coloured by its property (viridis)."""
    fig = _figure(7.5, 6)
    ax = fig.add_subplot()
    xy = lmap.xy
    size = 12 if len(xy) < 2000 else 4
    if lmap.color is not None:
        ok = np.isfinite(lmap.color)
        if (~ok).any():
            ax.scatter(xy[~ok, 0], xy[~ok, 1], s=size, c="#c8c8c8", lw=0, label="no value")
            ax.legend(fontsize=8, loc="best")
        points = ax.scatter(xy[ok, 0], xy[ok, 1], s=size, c=lmap.color[ok], cmap="viridis", lw=0)
        fig.colorbar(points, ax=ax, label=lmap.color_name)
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, c="#3b6ea8", lw=0)
    ax.set_xlabel(lmap.axes[0])
    ax.set_ylabel(lmap.axes[1])
    ax.set_title(title or f"latent space ({lmap.label}, {len(xy):,} molecules)", fontsize=11)
    ax.grid(alpha=0.2)
    return _png(fig)


def reconstruction_grid(
    frame: pd.DataFrame, n: int = 24, svg: bool = False, size: tuple[int, int] = (260, 200)
) -> bytes | str:
    """Inputs beside their greedy reconstructions, two pairs per row, with match marks.

    ``frame`` is :func:`molvae.reconstruct` output (``canonical``, ``reconstructed``,
    ``match``, ``mean_sigma``, ``status``; a ``row`` column is used when present). Rejected
    inputs are skipped; the first ``n`` encodable ones are drawn. Each input's legend gives its
    row and the encoder's mean sigma (how uncertain the posterior is); each reconstruction's
    says ``match``, ``differs`` or ``invalid``.
    """
    ok = frame[frame["status"] == "ok"].head(n)
    smiles, legends = [], []
    for i, rec in enumerate(ok.to_dict("records")):
        row = rec.get("row", i + 1)
        sigma = rec.get("mean_sigma", float("nan"))
        smiles.append(rec["canonical"])
        legends.append(f"row {row}: input (mean sigma {sigma:.3f})")
        decoded = rec.get("reconstructed")
        smiles.append(decoded if isinstance(decoded, str) else "")
        mark = "match" if rec["match"] else ("differs" if isinstance(decoded, str) else "invalid")
        legends.append(f"row {row}: decoded [{mark}]")
    return chem.grid_image(smiles, legends, mols_per_row=4, size=size, svg=svg)


def interpolation_grid(
    frame: pd.DataFrame,
    property_name: str,
    svg: bool = False,
    mols_per_row: int = 5,
    size: tuple[int, int] = (260, 210),
) -> bytes | str:
    """The decoded path of :func:`molvae.latent.interpolate`, legends with similarity and value."""
    legends = []
    for rec in frame.to_dict("records"):
        if rec["valid"]:
            value = rec[property_name]
            legends.append(
                f"t={rec['t']:.2f} simA {rec['sim_a']:.2f} simB {rec['sim_b']:.2f} "
                f"{property_name} {value:.2f}"
            )
        else:
            legends.append(f"t={rec['t']:.2f} invalid")
    smiles = [s if v else "" for s, v in zip(frame["smiles"], frame["valid"], strict=True)]
    return chem.grid_image(smiles, legends, mols_per_row=mols_per_row, size=size, svg=svg)
