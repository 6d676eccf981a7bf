"""Molecules within tolerance of a request, per second: `sample --condition --tolerance` against
filtering unconditional samples.

For each request of ``conditional.py``'s grid (or ``--max-requests`` of it), the conditional
sampler is asked for ``--n`` molecules within the tolerances of issue 24 (logP 0.3, QED 0.05,
MW 15 Da; ``MolVAE.sample(n, conditions=..., tolerance=...)``, the default sampler otherwise:
canonical form and critic), and timed to the last one. Beside it, rejection sampling as a user
without a conditional model would do it: ``--pool`` unconditional draws of the default sampler,
timed once, filtered to each request; its rate is the distinct molecules within tolerance per
second of those draws. Every kept molecule is checked again here with RDKit.

    python benchmarks/conditional_tolerance.py --model zinc
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
import torch

from molvae import MolVAE, chem
from molvae.runtime import cpu_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditional import TOLERANCE, label, rdkit_values, requests, within  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="zinc", help="a conditional model: name or directory")
    parser.add_argument("--n", type=int, default=50, help="molecules within tolerance per request")
    parser.add_argument("--pool", type=int, default=10_000,
                        help="unconditional draws for the rejection baseline")
    parser.add_argument("--max-requests", type=int, default=0,
                        help="only N requests spread over the grid (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    grid = requests()
    if 0 < args.max_requests < len(grid):  # evenly spread, so pairs are among them
        grid = [grid[int(i)] for i in np.linspace(0, len(grid) - 1, args.max_requests).round()]

    t = time.perf_counter()
    pool = vae.sample(args.pool, seed=args.seed, unique=False)
    pool_seconds = time.perf_counter() - t
    canonical = [c for c in pool["canonical"] if isinstance(c, str)]
    pool_props = rdkit_values(canonical)

    rows = []
    for k, request in enumerate(grid):
        tolerance = {name: TOLERANCE[name] for name in request}
        t = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = vae.sample(args.n, seed=args.seed + k, conditions=request,
                               tolerance=tolerance)
        seconds = time.perf_counter() - t
        kept = frame["canonical"].tolist()
        checked = within(rdkit_values(kept), request)  # again, independently of sample()
        hits = {c for c, ok in zip(canonical, within(pool_props, request), strict=True) if ok}
        rows.append({
            "request": label(request), "kept": len(kept), "all_within": bool(checked.all()),
            "unique": len(set(kept)) / max(len(kept), 1),
            "kept_share": len(kept) / max(int(frame.attrs["drawn"]), 1),
            "seconds": seconds, "per_s": len(set(kept)) / seconds,
            "rejection_per_s": len(hits) / pool_seconds,
            "short": any("found of" in str(w.message) for w in caught),
        })

    print(f"## `sample --condition --tolerance` on {vae.path.name} ({dt.date.today()}, "
          f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__})\n")
    tol = ", ".join(f"{k} ±{v:g}" for k, v in TOLERANCE.items())
    print(f"{args.n} molecules within tolerance ({tol}) asked per request; rejection: "
          f"{args.pool:,} unconditional draws of the default sampler in {pool_seconds:.0f} s, "
          "filtered.\n")
    print("| request | kept | all within (RDKit, rechecked) | unique | kept of drawn | seconds | "
          "--tolerance /s | rejection /s | ratio |\n|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = r["per_s"] / r["rejection_per_s"] if r["rejection_per_s"] else float("inf")
        print(f"| {r['request']} | {r['kept']}{' (cap reached)' if r['short'] else ''} | "
              f"{'yes' if r['all_within'] else 'NO'} | {r['unique']:.3f} | "
              f"{r['kept_share']:.2%} | {r['seconds']:.1f} | {r['per_s']:.1f} | "
              f"{r['rejection_per_s']:.2f} | {ratio:.1f}x |")
    ratios = [r["per_s"] / r["rejection_per_s"] for r in rows if r["rejection_per_s"] > 0]
    print(f"\nMedian ratio over {len(ratios)} requests with a rejection hit: "
          f"{np.median(ratios):.1f}x; every kept molecule within tolerance: "
          f"{all(r['all_within'] for r in rows)}")


if __name__ == "__main__":
    main()
