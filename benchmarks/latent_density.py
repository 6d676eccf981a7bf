"""Sampling z from a density fitted to the training posteriors instead of the prior N(0, I).

A VAE's KL term pulls the aggregate posterior q(z) = E_x q(z|x) towards N(0, I) but never
reaches it: prior samples land in regions no training molecule encodes to, and the decoder writes
less realistic molecules there (``benchmarks/prior_gap.py``). Ex-post density estimation (Ghosh
et al., "From variational to deterministic autoencoders", ICLR 2020) fits a Gaussian mixture to
latent codes of training molecules after training and samples from it instead.

This encodes ``--fit`` MOSES training molecules, draws one z ~ q(z|x) per molecule, fits
scikit-learn Gaussian mixtures with each of ``--components`` (full covariance), and scores
``--n`` molecules from the default sampler (canonical-form draws; ``MolVAE.sample``) with z
from each source against the MOSES test split. Rows:

- ``prior N(0, I)``: what ``molvae sample`` uses;
- ``mixture of K``: z from the fitted mixture;
- ``training posteriors``: z ~ q(z|x) of a random fitted training molecule (a kernel estimate
  that stores every code; an upper reference, not something to ship).

    python benchmarks/latent_density.py --model default --n 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.mixture import GaussianMixture

from molvae import MolVAE, chem
from molvae.evaluation import evaluate_smiles
from molvae.runtime import cpu_model

MOSES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "moses"
SHOWN = ("valid", "unique@10000", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test", "IntDiv",
         "Filters", "Novelty")


def _mixture_sampler(gmm: GaussianMixture) -> Callable[[int, int | None], torch.Tensor]:
    """Seeded draws from a fitted full-covariance mixture, as ``MolVAE.sample`` expects."""
    chol = np.linalg.cholesky(gmm.covariances_)

    def draw(count: int, seed: int | None) -> torch.Tensor:
        rng = np.random.default_rng(seed)
        comp = rng.choice(len(gmm.weights_), size=count, p=gmm.weights_)
        eps = rng.standard_normal((count, gmm.means_.shape[1]))
        z = gmm.means_[comp] + np.einsum("nij,nj->ni", chol[comp], eps)
        return torch.tensor(z, dtype=torch.float32)

    return draw


def _posterior_sampler(mu: np.ndarray, sigma: np.ndarray) -> Callable[[int, int | None],
                                                                      torch.Tensor]:
    def draw(count: int, seed: int | None) -> torch.Tensor:
        rng = np.random.default_rng(seed)
        i = rng.integers(len(mu), size=count)
        z = mu[i] + sigma[i] * rng.standard_normal((count, mu.shape[1]))
        return torch.tensor(z, dtype=torch.float32)

    return draw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--fit", type=int, default=50_000, help="training molecules encoded")
    parser.add_argument("--components", type=int, nargs="+", default=[1, 10, 50])
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    train = pd.read_csv(MOSES / "train.csv.gz")["SMILES"].sample(n=args.fit, random_state=2)
    # The encodable molecules only (prepare() sets the others aside), as (mu, log sigma^2).
    mu, logvar = vae.encode_dataset(vae.prepare(train.tolist()).dataset)
    mu, sigma = mu.numpy(), torch.exp(0.5 * logvar).numpy()
    codes = mu + sigma * np.random.default_rng(0).standard_normal(mu.shape)

    sources: list[tuple[str, str, Callable | None]] = [("prior N(0, I)", "", None)]
    for k in args.components:
        start = time.perf_counter()
        gmm = GaussianMixture(k, covariance_type="full", random_state=0, max_iter=200)
        gmm.fit(codes)
        fit_s = time.perf_counter() - start
        info = f"fit {fit_s:.0f} s, mean log-lik {gmm.score(codes):.1f}"
        sources.append((f"mixture of {k}", info, _mixture_sampler(gmm)))
        print(f"mixture of {k}: {info}", flush=True)
    sources.append(("training posteriors", "", _posterior_sampler(mu, sigma)))

    rows = []
    for name, info, sampler in sources:
        start = time.perf_counter()
        frame = vae.sample(args.n, seed=1, latent_sampler=sampler, critic=False)
        seconds = time.perf_counter() - start
        m = evaluate_smiles(frame["smiles"].tolist(), MOSES / "test.csv.gz",
                            train=MOSES / "train.csv.gz")
        kept = f"{len(frame) / frame.attrs['drawn']:.1%}, {seconds:.0f} s"
        rows.append((name, info, kept, m))
        print(f"{name}: kept {kept}, FCD {m['FCD/Test']:.3f}", flush=True)

    print(f"\n## Latent density ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}; model {vae.path}; {len(mu):,} training molecules "
          f"fitted; {args.n:,} molecules per row, default sampler, temperature 1)\n")
    print("| z from | fit | kept, sampling | " + " | ".join(SHOWN) + " |")
    print("|---|---|---|" + "---|" * len(SHOWN))
    for name, info, kept, m in rows:
        print(f"| {name} | {info} | {kept} | " + " | ".join(f"{m[k]:.3f}" for k in SHOWN)
              + " |")


if __name__ == "__main__":
    main()
