"""Critic capacity: how the realism critic's size trades FCD/Test against novelty.

Draws one pool of ``--pool`` canonical-form samples from ``--model`` (no critic), with their
ChemNet activations and whether each is a MOSES training molecule. Then, for each ``--hidden``
size, fits a critic (``molvae.training.heads.fit_critic``: ``--samples`` model samples against as
many training molecules, ``--epochs`` epochs, seed ``--seed``) and scores the pool with it. For each
acceptance quantile q (threshold log M = the q-quantile of the pool's logits), the critic's
acceptance probabilities ``min(1, exp(logit - log M))`` weight the pool: the weighted ChemNet
mean and covariance give the FCD/Test of the distribution discriminator rejection sampling
would return, and the weighted share of training molecules its novelty, without drawing again
(a large pool: the finite-sample bias of FCD on 10,000 draws is not in these numbers).

    python benchmarks/critic_capacity.py --model runs/budget30c --hidden 256,64,16

Needs the shared MOSES splits (../shared/datasets/moses). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molvae import MolVAE, chem
from molvae.data.index import TrainingSetIndex
from molvae.evaluation.chemnet import chemnet_activations, frechet_distance
from molvae.evaluation.reference import ReferenceStats
from molvae.runtime import cpu_model
from molvae.training.heads import fit_critic

MOSES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "moses"


def weighted_scores(
    weights: np.ndarray, acts: np.ndarray, in_train: np.ndarray, ref: ReferenceStats
) -> tuple[float, float]:
    """FCD/Test and novelty of the pool reweighted by ``weights`` (acceptance probabilities)."""
    w = weights / weights.sum()
    mu = w @ acts
    centred = acts - mu
    cov = (centred * w[:, None]).T @ centred / (1.0 - (w**2).sum())
    return frechet_distance(ref.fcd_mu, ref.fcd_sigma, mu, cov), float(1.0 - w @ in_train)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--pool", type=int, default=50_000)
    parser.add_argument("--pool-seed", type=int, default=7)
    parser.add_argument("--hidden", default="256,64,16")
    parser.add_argument("--quantiles", default="0.6,0.7,0.8,0.9")
    parser.add_argument("--samples", type=int, default=30_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    sizes = [int(h) for h in args.hidden.split(",")]
    quantiles = [float(q) for q in args.quantiles.split(",")]

    vae = MolVAE.load(args.model, device="cpu")
    start = time.time()
    pool = vae.sample(args.pool, seed=args.pool_seed, canonical_only=True, critic=False)
    smiles = pool["canonical"].tolist()
    print(f"pool: {len(smiles):,} of {pool.attrs['drawn']:,} draws in "
          f"{time.time() - start:.0f} s", flush=True)
    in_train = TrainingSetIndex.load_or_compute(MOSES / "train.csv.gz").contains(smiles)
    is_known = in_train.astype(float)
    acts = chemnet_activations(smiles).astype(np.float64)
    ref = ReferenceStats.load_or_compute(MOSES / "test.csv.gz")
    reference = pd.read_csv(MOSES / "train.csv.gz")["SMILES"].tolist()

    fcd0, nov0 = weighted_scores(np.ones(len(smiles)), acts, is_known, ref)
    rows = [("none", "", "", "", "100.0%", fcd0, nov0)]
    for hidden in sizes:
        start = time.time()
        fit = fit_critic(vae, reference, n_samples=args.samples, epochs=args.epochs,
                         hidden=hidden, seed=args.seed)
        seconds = time.time() - start
        logits = fit.critic.logits(smiles)
        for q in quantiles:
            p = np.exp(np.minimum(0.0, logits - np.quantile(logits, q)))
            fcd, nov = weighted_scores(p, acts, is_known, ref)
            rows.append((str(hidden), f"{fit.metrics['auc']:.3f}", f"{seconds:.0f}", f"{q:g}",
                         f"{p.mean():.1%}", fcd, nov))
        print(f"hidden {hidden}: fitted in {seconds:.0f} s", flush=True)

    print(f"\n## Critic capacity ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__})\n")
    print(f"Model {args.model}; pool of {len(smiles):,} canonical-form samples (seed "
          f"{args.pool_seed}), {in_train.mean():.2%} of them training molecules; critics fitted "
          f"on {args.samples:,} samples, {args.epochs} epochs, seed {args.seed}.\n")
    print("| critic hidden units | held-out AUC | fit (s) | quantile | kept | FCD/Test | "
          "novelty |\n|---|---|---|---|---|---|---|")
    for hidden, auc, secs, q, kept, fcd, nov in rows:
        print(f"| {hidden} | {auc} | {secs} | {q} | {kept} | {fcd:.3f} | {nov:.4f} |")


if __name__ == "__main__":
    main()
