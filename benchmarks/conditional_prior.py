"""Where z comes from for a conditional request: the learned prior p(z|c), or the encodings of
reference molecules already within tolerance of the request.

A conditional model misses a request by a mean of about 0.85 logP units (``conditional.py``),
and the miss enters with z: decoded from the encoder's mean of a test molecule under its own
conditions, the decoder writes a molecule whose logP is within about 0.4 of the original's.
This measures a second source of z on the grid of ``conditional.py``: ``--reference-n`` random
molecules of ``--reference`` (the model's training split, so that every point comes from the
region the decoder learnt), their RDKit values, and for each request the molecules within its
tolerance, encoded under the request; a draw is one of them at random, its mean plus its
posterior noise (``MolVAE.sample``'s ``latent_sampler``). Both sources decode under the request
with the default sampler (canonical form, the critic when the model has one), ``--n`` molecules
per request at each of ``--temperatures``. Novelty is against the model's training-set index.

    python benchmarks/conditional_prior.py --model zinc --reference /work/data/zinc/train.csv.gz
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
from molvae.data.index import training_set_index
from molvae.runtime import cpu_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conditional import (  # noqa: E402
    TOLERANCE,
    label,
    rdkit_values,
    read_smiles,
    requests,
    within,
)


def reference_sampler(vae: MolVAE, dataset, rows: np.ndarray, request: dict[str, float]):
    """A ``latent_sampler`` drawing from the encodings (mean + posterior noise) of ``rows`` of
    ``dataset``, encoded under ``request`` as ``MolVAE.encode_dataset`` encodes."""
    mu, logvar = vae.encode_dataset(dataset.subset(rows), condition=vae.condition_vector(request))
    sigma = torch.exp(0.5 * logvar)

    def draw(count: int, seed: int | None) -> torch.Tensor:
        gen = torch.Generator().manual_seed(0 if seed is None else seed)
        pick = torch.randint(0, len(mu), (count,), generator=gen)
        return mu[pick] + torch.randn(count, mu.shape[1], generator=gen) * sigma[pick]

    return draw


def cell_text(text: str) -> str:
    """``text`` for a Markdown table cell (its pipes escaped)."""
    return text.replace("|", "\\|")


def measure(vae: MolVAE, request: dict[str, float], n: int, seed: int, temperature: float,
            sampler, index) -> dict:
    """``n`` molecules under ``request`` from one source of z: errors, share within, cost."""
    t = time.perf_counter()
    frame = vae.sample(n, seed=seed, unique=False, conditions=request, temperature=temperature,
                       latent_sampler=sampler)
    seconds = time.perf_counter() - t
    canonical = [c for c in frame["canonical"] if isinstance(c, str)]
    props = rdkit_values(canonical)
    row = {
        "unique": len(set(canonical)) / max(len(canonical), 1),
        "novel": float(np.mean(~index.contains(canonical))) if index is not None else None,
        "within": float(np.mean(within(props, request))) if canonical else 0.0,
        "seconds": seconds,
    }
    for name, value in request.items():
        row[name] = float(np.nanmean(np.abs(props[name].to_numpy() - value)))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="zinc", help="a conditional model: name or directory")
    parser.add_argument("--reference", required=True,
                        help="CSV of reference molecules (the model's training split)")
    parser.add_argument("--reference-n", type=int, default=20_000,
                        help="random reference molecules to encode from")
    parser.add_argument("--n", type=int, default=100, help="molecules per request and source")
    parser.add_argument("--temperatures", default="1.0,0.5")
    parser.add_argument("--max-requests", type=int, default=0,
                        help="only N requests spread over the grid (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    warnings.simplefilter("ignore")  # range warnings: the grid stays inside the training range
    started = time.perf_counter()
    vae = MolVAE.load(args.model, device="cpu")
    index = training_set_index(vae.path)
    temperatures = [float(t) for t in args.temperatures.split(",")]
    grid = requests()
    if 0 < args.max_requests < len(grid):
        grid = [grid[int(i)] for i in np.linspace(0, len(grid) - 1, args.max_requests).round()]

    smiles = read_smiles(Path(args.reference))
    pick = np.random.default_rng(args.seed).permutation(len(smiles))[: args.reference_n]
    prep = vae.prepare([smiles[i] for i in pick], flatten=False)
    rows = prep.dataset.rows
    props = rdkit_values(prep.dataset.smiles)

    results = []
    for request in grid:
        near = np.flatnonzero(within(props, request))
        sources = {"p(z|c)": None}
        if len(near):
            sources["reference"] = reference_sampler(vae, prep.dataset, near, request)
        for temperature in temperatures:
            for source, sampler in sources.items():
                row = measure(vae, request, args.n, args.seed, temperature, sampler, index)
                row.update(request=label(request), source=source, temperature=temperature,
                           pool=len(near))
                results.append(row)
                print(f"{row['request']} {source} T={temperature:g}: "
                      + " ".join(f"{k} {row[k]:.3f}" for k in request), file=sys.stderr,
                      flush=True)

    print("# conditional_prior.py\n")
    print(f"- **Measured:** {dt.date.today().isoformat()}, {time.perf_counter() - started:.0f} s "
          "in all")
    print(f"- **Hardware:** {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"- **Command:** `python benchmarks/conditional_prior.py {' '.join(sys.argv[1:])}`")
    print(f"- **Model:** `{args.model}` (critic {'on' if vae.critic is not None else 'none'}); "
          f"reference: {len(rows):,} encodable of {len(pick):,} random molecules of "
          f"`{args.reference}`; {args.n} molecules per request, source and temperature\n")
    print(f"Tolerance for 'within': logP ±{TOLERANCE['logP']:g}, QED ±{TOLERANCE['QED']:g}, "
          f"MW ±{TOLERANCE['MW']:g}. 'pool': reference molecules within tolerance of the "
          "request (the reference source draws from them). 'within': the share of the returned "
          "molecules within tolerance of every requested value. 'novel': not in the model's "
          "training set.\n")
    print("| request | pool | T | source | MAE logP | MAE QED | MAE MW | within | unique | novel "
          "| seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")

    def cell(row, key, digits=3):
        return f"{row[key]:.{digits}f}" if row.get(key) is not None else "-"

    for r in results:
        print(f"| {r['request']} | {r['pool']:,} | {r['temperature']:g} | "
              f"{cell_text(r['source'])} | {cell(r, 'logP')} | {cell(r, 'QED')} | "
              f"{cell(r, 'MW', 1)} | {r['within']:.2f} | {r['unique']:.2f} | "
              f"{cell(r, 'novel', 2)} | {r['seconds']:.1f} |")
    print("\nMean over requests (each property over the requests that ask for it):\n")
    print("| T | source | MAE logP | MAE QED | MAE MW | within | novel | requests |")
    print("|---|---|---|---|---|---|---|---|")
    for temperature in temperatures:
        for source in ("p(z|c)", "reference"):
            part = [r for r in results if r["source"] == source and r["temperature"] == temperature]
            if not part:
                continue
            means = []
            for key in ("logP", "QED", "MW"):
                values = [r[key] for r in part if r.get(key) is not None]
                means.append(f"{np.mean(values):.3f}" if values else "-")
            novel = [r["novel"] for r in part if r["novel"] is not None]
            print(f"| {temperature:g} | {cell_text(source)} | {' | '.join(means)} | "
                  f"{np.mean([r['within'] for r in part]):.2f} | "
                  f"{f'{np.mean(novel):.2f}' if novel else '-'} | {len(part)} |")


if __name__ == "__main__":
    main()
