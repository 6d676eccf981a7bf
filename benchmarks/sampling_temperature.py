"""MOSES metrics of prior samples at several decoding temperatures.

An autoregressive decoder sampled at temperature 1 compounds its own small errors: one unlikely
token early in a SELFIES string changes the whole molecule. A lower temperature trades some
diversity for realism. This decodes ``--n`` prior samples (the same z for every temperature)
at each ``--temperatures`` value and scores them with the MOSES metrics against the MOSES test
split, so the trade-off is measured rather than guessed. ``molvae sample --temperature T``
applies a chosen value.

With ``--canonical-only`` each row is instead ``--n`` molecules from the default sampler of
``molvae sample`` (draws kept only when written in canonical form; seed 0 at every
temperature), with the share of draws kept.

    python benchmarks/sampling_temperature.py --model default --n 10000
    python benchmarks/sampling_temperature.py --model default --n 10000 --canonical-only
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import torch

from molvae import MolVAE, chem
from molvae.evaluation import evaluate_smiles
from molvae.runtime import cpu_model
from molvae.settings import DecodeSettings

MOSES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "moses"
SHOWN = ("valid", "unique@10000", "FCD/Test", "SNN/Test", "Frag/Test", "Filters", "IntDiv",
         "Novelty")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--temperatures", default="1.0,0.9,0.8,0.7")
    parser.add_argument("--canonical-only", action="store_true",
                        help="the default sampler of `molvae sample` instead of every draw")
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    z = None if args.canonical_only else vae.sample_prior(args.n, seed=0)  # shared by every T
    rows = []
    for temperature in [float(t) for t in args.temperatures.split(",")]:
        start = time.perf_counter()
        if args.canonical_only:
            decoded = vae.sample(args.n, temperature=temperature, seed=0, critic=False)
            kept = f"{len(decoded) / decoded.attrs['drawn']:.1%}"
        else:
            decoded = vae.decode(
                z,
                DecodeSettings(strategy="sample", temperature=temperature),
                seed=0,
            )
            kept = "100%"
        metrics = evaluate_smiles(decoded["smiles"].tolist(), MOSES / "test.csv.gz",
                                  train=MOSES / "train.csv.gz")
        rows.append((temperature, kept, metrics, time.perf_counter() - start))
        print(f"temperature {temperature:g} done in {rows[-1][3]:.0f} s", flush=True)
    which = ("molecules from the default sampler (canonical form only)" if args.canonical_only
             else "prior samples, every draw, the same z at every temperature")
    print(f"\n## Sampling temperature ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}; model {vae.path}; {args.n:,} {which})\n")
    shown = [k for k in SHOWN if k in rows[0][2]]
    print("| temperature | kept of drawn | " + " | ".join(shown) + " |")
    print("|---" * (len(shown) + 2) + "|")
    for temperature, kept, metrics, _ in rows:
        print(f"| {temperature:g} | {kept} | " + " | ".join(f"{metrics[k]:.3f}" for k in shown)
              + " |")


if __name__ == "__main__":
    main()
