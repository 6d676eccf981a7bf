"""MOSES metrics of the default sampler with and without the model's realism critic.

The critic (``molvae fit-critic``, :mod:`molvae.models.critic`) is a classifier of training
molecules against the model's own samples; ``molvae sample`` keeps each canonical-form draw with
probability ``min(1, exp(logit - log M))`` (discriminator rejection sampling). This measures
what that buys and costs: ``--n`` molecules from the same seed, scored with the MOSES metrics
against the MOSES test split (novelty against the train split), with the share of draws kept
and the sampling time. With ``--quantiles`` the acceptance threshold is re-set to other
quantiles of the critic's logits on the model's samples (the same critic).

    python benchmarks/critic.py --model default --n 30000
    python benchmarks/critic.py --model default --n 10000 --quantiles 0.5,0.8,0.9
    python benchmarks/critic.py --model zinc --n 10000 \
        --test /work/data/zinc/test.csv.gz --train /work/data/zinc/train.csv.gz

``--test`` and ``--train`` default to the MOSES splits; for the ``zinc`` model, pass its
held-out split and training split (``datasets/make_zinc.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import numpy as np
import torch

from molvae import MolVAE, chem
from molvae.evaluation import evaluate_smiles
from molvae.runtime import cpu_model

MOSES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "moses"
SHOWN = ("valid", "unique@10000", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test", "IntDiv",
         "IntDiv2", "Filters", "logP", "SA", "QED", "weight", "Novelty")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quantiles", default="",
                        help="also sample with the threshold at these quantiles (comma list)")
    parser.add_argument("--calibration", type=int, default=20_000,
                        help="model samples scored to place the --quantiles thresholds")
    parser.add_argument("--test", type=Path, default=MOSES / "test.csv.gz",
                        help="reference molecules of the /Test metrics (default: MOSES test)")
    parser.add_argument("--train", type=Path, default=MOSES / "train.csv.gz",
                        help="training molecules, for novelty (default: MOSES train)")
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    if vae.critic is None:
        raise SystemExit(f"{vae.path} has no critic: fit one with `molvae fit-critic`")
    info = vae.critic.info
    stored = vae.critic.log_m

    settings: list[tuple[str, bool, float]] = [("no critic", False, stored)]
    settings.append((f"critic (stored threshold, quantile {info.get('quantile')})", True, stored))
    if args.quantiles:
        calib = vae.sample(args.calibration, seed=args.seed + 1000, critic=False)
        logits = vae.critic.logits(calib["canonical"].tolist())
        for q in (float(x) for x in args.quantiles.split(",")):
            settings.append((f"critic, quantile {q:g}", True, float(np.quantile(logits, q))))

    rows = []
    for label, use, log_m in settings:
        vae.critic.log_m = log_m
        start = time.perf_counter()
        frame = vae.sample(args.n, seed=args.seed, critic=use)
        seconds = time.perf_counter() - start
        metrics = evaluate_smiles(frame["smiles"].tolist(), args.test, train=args.train)
        drawn = frame.attrs["drawn"]
        kept = f"{len(frame):,} of {drawn:,} ({len(frame) / drawn:.1%})"
        rows.append((label, kept, f"{seconds:.0f} s", metrics))
        print(f"{label}: done, FCD/Test {metrics['FCD/Test']:.3f}", flush=True)
    vae.critic.log_m = stored

    print(f"\n## Realism critic ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}; model {vae.path}; {args.n:,} molecules per column, "
          f"seed {args.seed}; test {args.test}, train {args.train})\n")
    print(f"Critic: fitted on {info.get('n_samples', '?'):,} model samples and "
          f"{info.get('n_reference', '?'):,} reference molecules; held-out AUC "
          f"{info.get('held_out_auc', float('nan')):.3f}, log M {stored:.3f}.\n")
    shown = [k for k in SHOWN if k in rows[0][3]]
    print("| metric | " + " | ".join(r[0] for r in rows) + " |")
    print("|---" * (len(rows) + 1) + "|")
    print("| kept of drawn | " + " | ".join(r[1] for r in rows) + " |")
    print("| sampling | " + " | ".join(r[2] for r in rows) + " |")
    for key in shown:
        print(f"| {key} | " + " | ".join(f"{r[3][key]:.4f}" for r in rows) + " |")


if __name__ == "__main__":
    main()
