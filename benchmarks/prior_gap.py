"""Where do unrealistic samples come from: the prior, or the decoder? A diagnostic.

Decodes (multinomial, temperature 1) ``--n`` latent points of three kinds and scores each set
with the MOSES metrics against the MOSES test split:

- ``posterior``: z ~ q(z|x) for ``--n`` MOSES test molecules (the decoder near real data);
- ``aggregate``: z from one Gaussian fitted to those posteriors (mean and full covariance of mu,
  plus the mean sigma^2): the prior the model would need if the data were Gaussian in z;
- ``prior``: z ~ N(0, I), what ``molvae sample`` and the MOSES protocol use.

If ``posterior`` is already far from the test set (high FCD, low Filters), the decoder is the
bottleneck, not the mismatch between prior and aggregate posterior.

    python benchmarks/prior_gap.py --model default --n 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molvae import MolVAE, chem
from molvae.evaluation import evaluate_smiles
from molvae.runtime import cpu_model
from molvae.settings import DecodeSettings

MOSES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "moses"
SHOWN = ("valid", "unique@10000", "FCD/Test", "SNN/Test", "Filters", "IntDiv", "Novelty")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    test = pd.read_csv(MOSES / "test.csv.gz")["SMILES"].sample(n=args.n, random_state=1)
    # The encodable molecules only (prepare() sets the others aside), as (mu, log sigma^2).
    mu, logvar = vae.encode_dataset(vae.prepare(test.tolist()).dataset)
    sigma = torch.exp(0.5 * logvar)
    d = vae.latent_dim
    gen = torch.Generator().manual_seed(0)
    cov = torch.cov(mu.T) + torch.diag(sigma.pow(2).mean(0))
    chol = torch.linalg.cholesky(cov)
    points = {
        "posterior": mu + sigma * torch.randn(mu.shape, generator=gen),
        "aggregate": mu.mean(0) + torch.randn(len(mu), d, generator=gen) @ chol.T,
        "prior": torch.randn(len(mu), d, generator=gen),
    }
    print(f"## Prior gap ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores; "
          f"model {vae.path}; {len(mu):,} points each, temperature 1)\n")
    print(f"Mean ||mu|| of test molecules {mu.norm(dim=1).mean():.2f}, mean sigma "
          f"{sigma.mean():.3f}; a prior sample's norm is about {np.sqrt(d):.2f}.\n")
    print("| z from | " + " | ".join(SHOWN) + " |")
    print("|---|" + "---|" * len(SHOWN))
    for name, z in points.items():
        out = vae.decode(z, DecodeSettings(strategy="sample", temperature=1.0), seed=0)
        m = evaluate_smiles(out["smiles"].tolist(), MOSES / "test.csv.gz",
                            train=MOSES / "train.csv.gz")
        print(f"| {name} | " + " | ".join(f"{m[k]:.3f}" for k in SHOWN) + " |", flush=True)


if __name__ == "__main__":
    main()
