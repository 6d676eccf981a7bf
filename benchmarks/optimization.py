"""Property optimization benchmarks, printed beside published numbers.

Unconstrained: the top-3 penalized logP and QED found by ``molvae.optimize.generate`` (also with a
38-heavy-atom cap, the size of the largest ZINC-250k molecules), with the number of RDKit
property evaluations spent. Constrained: the 800-molecule benchmark of Jin et al. 2018
(``../shared/benchmarks/constrained_plogp``), mean +- std improvement, success rate and mean
similarity at each delta.

    python benchmarks/optimization.py --model default
    python benchmarks/optimization.py --model default --skip-unconstrained --deltas 0.4 --limit 100
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import torch

from molvae import MolVAE, chem
from molvae.optimize import Goal, SearchSettings, generate, optimize_seeds
from molvae.provenance import cpu_model

BENCH = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "constrained_plogp"
PUBLISHED_CONSTRAINED = {
    0.4: "JT-VAE 0.84 +- 1.45 (83.6%); GCPN 2.49 +- 1.30 (100%)",
    0.6: "JT-VAE 0.21 +- 0.71 (46.4%); GCPN 0.79 +- 0.63 (100%)",
}



def unconstrained(vae: MolVAE, args) -> list[tuple[str, str, str, str]]:
    rows = []
    published = {"plogP": "JT-VAE 5.30 / 4.93 / 4.49", "QED": "best known 0.948"}
    for prop in ("plogP", "QED"):
        for cap in (None, 38):
            settings = SearchSettings(
                starts=args.starts, steps=args.steps, max_rounds=args.rounds,
                min_rounds=args.rounds, max_heavy_atoms=cap, seed=0, extra_samples=1,
            )
            t = time.perf_counter()
            res = generate(vae, [Goal(prop, "max")], n=3, settings=settings)
            elapsed = time.perf_counter() - t
            top = " / ".join(f"{v:.3f}" for v in res.table[prop].head(3))
            label = f"{prop} top-3" + (f", <= {cap} heavy atoms" if cap else "")
            rows.append((label, top, f"{res.evaluated:,} evaluations, {elapsed:.0f} s",
                         published[prop]))
    return rows


def constrained(vae: MolVAE, args) -> list[tuple[str, str, str, str, str, str]]:
    lines = (BENCH / "opt.test.logP-SA").read_text().split("\n")
    seeds = [line.split()[0] for line in lines if line.strip()][: args.limit]
    rows = []
    for delta in args.deltas:
        settings = SearchSettings(steps=args.seed_steps, starts=args.seed_starts,
                                  extra_samples=args.extra_samples, seed=0)
        t = time.perf_counter()
        out = optimize_seeds(vae, seeds, Goal("plogP", "max"), delta, settings)
        elapsed = time.perf_counter() - t
        imp = out["improvement"].to_numpy()
        sim = out.loc[out["success"], "similarity"].mean()
        rows.append((f"{delta:.1f}", f"{imp.mean():.2f} +- {imp.std():.2f}",
                     f"{out['success'].mean():.1%}", f"{sim:.2f}",
                     f"{elapsed / 60:.1f} min for {len(seeds)}",
                     PUBLISHED_CONSTRAINED.get(delta, "")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--starts", type=int, default=512)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--deltas", type=float, nargs="+", default=[0.0, 0.2, 0.4, 0.6])
    parser.add_argument("--limit", type=int, default=800, help="Use the first N of the 800 seeds.")
    parser.add_argument("--seed-steps", type=int, default=40)
    parser.add_argument("--seed-starts", type=int, default=16)
    parser.add_argument("--extra-samples", type=int, default=1)
    parser.add_argument("--skip-unconstrained", action="store_true")
    parser.add_argument("--skip-constrained", action="store_true")
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    print(f"## Optimization ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}; model {vae.path})\n")
    if not args.skip_unconstrained:
        print("| task | found | cost | published |\n|---|---|---|---|")
        for row in unconstrained(vae, args):
            print("| " + " | ".join(row) + " |")
        print()
    if not args.skip_constrained:
        if not BENCH.exists():
            print(f"constrained benchmark skipped: {BENCH} not found")
            return
        print("| delta | improvement | success | similarity | time | published |")
        print("|---|---|---|---|---|---|")
        for row in constrained(vae, args):
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
