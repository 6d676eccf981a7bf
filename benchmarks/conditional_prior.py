"""Where z comes from for a conditional request: the learned prior p(z|c), or the reference
molecules the model ships, nearest to the request.

From its learned prior p(z|c), a conditional model misses a request by a mean of about 0.9 logP
units on the ``zinc`` grid, and the miss enters with z: decoded from the encoder's mean of a
test molecule under its own conditions, the decoder writes a molecule whose logP is within about
0.4 of the original's. ``molvae sample`` therefore draws z, by default, from the posteriors of
the reference molecules (training molecules shipped with the model,
``molvae.generation.reference``) nearest to the request, each encoded and decoded under its own
values with the requested ones in their place. This measures that against p(z|c) on the grid of
``conditional.py``, for pools of ``--pools`` nearest reference molecules, with the default
sampler (canonical form, the critic when the model has one), ``--n`` molecules per request,
source and temperature. Novelty is against the model's training-set index.

    python benchmarks/conditional_prior.py --model zinc
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molvae import MolVAE, chem
from molvae.data.index import training_set_index
from molvae.runtime import cpu_model
from molvae.settings import SampleSettings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditional import (  # noqa: E402
    TOLERANCE,
    label,
    rdkit_values,
    requests,
    within,
)

SAMPLE = SampleSettings()


def cell_text(text: str) -> str:
    """``text`` for a Markdown table cell (its pipes escaped)."""
    return text.replace("|", "\\|")


def measure(vae: MolVAE, request: dict[str, float], n: int, seed: int, temperature: float,
            pool: int | None, index) -> dict:
    """``n`` molecules under ``request`` with z from p(z|c) (``pool`` None) or from the ``pool``
    nearest reference molecules: errors, share within, cost (the pool's encoding included)."""
    t = time.perf_counter()
    sampler = vae.reference_sampler(request, pool) if pool else None
    frame = vae.sample(n, seed=seed, unique=False, conditions=request, temperature=temperature,
                       latent_sampler=sampler, reference=False)
    seconds = time.perf_counter() - t
    canonical = [c for c in frame["canonical"] if isinstance(c, str)]
    props = rdkit_values(canonical)
    novel = ~index.contains(canonical) if index is not None else np.ones(len(canonical), bool)
    row = {
        "unique": len(set(canonical)) / max(len(canonical), 1),
        "novel": float(np.mean(novel)) if index is not None else None,
        "within": float(np.mean(within(props, request))) if canonical else 0.0,
        "seconds": seconds,
    }
    for name, value in request.items():
        gap = np.abs(props[name].to_numpy() - value)
        row[name] = float(np.nanmean(gap))
        # A draw that decodes back to a training molecule (near the request by construction)
        # flatters the error: the same error over the novel molecules alone.
        row[f"novel {name}"] = float(np.nanmean(gap[novel])) if novel.any() else None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="zinc", help="a conditional model: name or directory")
    parser.add_argument("--pools", default="100,500,2000",
                        help="sizes of the pool of nearest reference molecules to compare")
    parser.add_argument("--n", type=int, default=100, help="molecules per request and source")
    parser.add_argument("--temperatures", default="1.0")
    parser.add_argument("--max-requests", type=int, default=0,
                        help="only N requests spread over the grid (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    warnings.simplefilter("ignore")  # range warnings: the grid stays inside the training range
    started = time.perf_counter()
    vae = MolVAE.load(args.model, device="cpu")
    if vae.reference is None:
        sys.exit(f"{args.model}: the model ships no reference molecules")
    index = training_set_index(vae.path)
    temperatures = [float(t) for t in args.temperatures.split(",")]
    pools = [int(k) for k in args.pools.split(",")]
    grid = requests()
    if 0 < args.max_requests < len(grid):
        grid = [grid[int(i)] for i in np.linspace(0, len(grid) - 1, args.max_requests).round()]
    values = pd.DataFrame(vae.reference.values, columns=list(vae.reference.conditions))
    sources = {"p(z|c)": None} | {f"reference {k:,}": k for k in pools}

    results = []
    for request in grid:
        near = int(np.all([(values[k] - v).abs() <= TOLERANCE[k] for k, v in request.items()],
                          axis=0).sum())
        for temperature in temperatures:
            for source, pool in sources.items():
                row = measure(vae, request, args.n, args.seed, temperature, pool, index)
                row.update(request=label(request), source=source, temperature=temperature,
                           near=near)
                results.append(row)
                print(f"{row['request']} {source} T={temperature:g}: "
                      + " ".join(f"{k} {row[k]:.3f}" for k in request), file=sys.stderr,
                      flush=True)

    print("# conditional_prior.py\n")
    print(f"- **Measured:** {dt.date.today().isoformat()}, {time.perf_counter() - started:.0f} s "
          "in all")
    print(f"- **Hardware:** {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"- **Command:** `{' '.join(['python benchmarks/conditional_prior.py', *sys.argv[1:]])}`")
    print(f"- **Model:** `{args.model}` (critic {'on' if vae.critic is not None else 'none'}); "
          f"{len(vae.reference):,} reference molecules; {args.n} molecules per request, source "
          "and temperature\n")
    print(f"Tolerance for 'within': logP ±{TOLERANCE['logP']:g}, QED ±{TOLERANCE['QED']:g}, "
          f"MW ±{TOLERANCE['MW']:g}. 'near': reference molecules within tolerance of the "
          "request. 'reference K': z near the K reference molecules nearest the request "
          f"(`molvae sample`'s default is {SAMPLE.reference_pool}). 'within': the share of the "
          "returned molecules within tolerance of every requested value. 'novel': not in the "
          "model's training set; 'novel only': the mean errors over the novel molecules alone. "
          "'seconds': the whole call, encoding the pool included.\n")
    print("| request | near | T | source | MAE logP | MAE QED | MAE MW | within | unique | novel "
          "| seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")

    def cell(row, key, digits=3):
        return f"{row[key]:.{digits}f}" if row.get(key) is not None else "-"

    for r in results:
        print(f"| {r['request']} | {r['near']:,} | {r['temperature']:g} | "
              f"{cell_text(r['source'])} | {cell(r, 'logP')} | {cell(r, 'QED')} | "
              f"{cell(r, 'MW', 1)} | {r['within']:.2f} | {r['unique']:.2f} | "
              f"{cell(r, 'novel', 2)} | {r['seconds']:.1f} |")
    print("\nMean over requests (each property over the requests that ask for it):\n")
    print("| T | source | MAE logP | MAE QED | MAE MW | novel only: logP | QED | MW | within "
          "| unique | novel | requests |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for temperature in temperatures:
        for source in sources:
            part = [r for r in results if r["source"] == source and r["temperature"] == temperature]
            means = []
            for key in ("logP", "QED", "MW", "novel logP", "novel QED", "novel MW"):
                got = [r[key] for r in part if r.get(key) is not None]
                means.append(f"{np.mean(got):.3f}" if got else "-")
            novel = [r["novel"] for r in part if r["novel"] is not None]
            print(f"| {temperature:g} | {cell_text(source)} | {' | '.join(means)} | "
                  f"{np.mean([r['within'] for r in part]):.2f} | "
                  f"{np.mean([r['unique'] for r in part]):.2f} | "
                  f"{f'{np.mean(novel):.2f}' if novel else '-'} | {len(part)} |")


if __name__ == "__main__":
    main()
