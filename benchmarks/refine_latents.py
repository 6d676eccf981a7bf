"""Latent refinement: how often greedy decoding gives a molecule back, from mu and from refined z.

``molvae.refine_latents`` takes Adam steps on z to raise log p(x|z) + w log p(z). This prints,
for each setting, the exact-match rate of greedy decoding, the share decoded at Tanimoto >= 0.4
to the input (the constrained benchmark's bound), the mean similarity, the mean norm of z and
the wall time. Default inputs: the constrained benchmark's seeds (ZINC, flattened the way
``molvae optimize`` encodes them); ``--data`` takes any SMILES file (e.g. the MOSES test split).

    python benchmarks/refine_latents.py --n 200
    python benchmarks/refine_latents.py --data ../shared/datasets/moses/test.csv.gz --n 1000
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
from molvae.data.tables import read_molecules
from molvae.generation.refine import refine_latents
from molvae.optimize.seeds import _encodable_forms
from molvae.runtime import cpu_model

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO.parent / "shared" / "benchmarks" / "constrained_plogp" / "opt.test.logP-SA"


def _decoded_stats(vae: MolVAE, z: torch.Tensor, inputs: list[str]) -> tuple[float, float, float]:
    decoded = vae.decode(z)["canonical"].tolist()
    exact = float(np.mean([d == s for d, s in zip(decoded, inputs, strict=True)]))
    sims = np.array(
        [chem.similarity_to(s, [d])[0] if isinstance(d, str) else 0.0
         for d, s in zip(decoded, inputs, strict=True)]
    )
    sims = np.nan_to_num(sims)
    return exact, float(np.mean(sims >= 0.4)), float(sims.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, default=None,
                        help="SMILES file (default: the constrained benchmark's seeds)")
    parser.add_argument("--n", type=int, default=200, help="first N molecules")
    parser.add_argument("--steps", default="30", help="comma-separated step counts")
    parser.add_argument("--prior-weights", default="1,0.1,0", help="comma-separated weights")
    parser.add_argument("--learning-rate", type=float, default=0.1)
    args = parser.parse_args()
    chem.set_rdkit_logging(False)

    if args.data is None:
        raw = [line.split()[0] for line in SEEDS.read_text().splitlines() if line.strip()]
        source = "constrained benchmark seeds (flattened where needed)"
    else:
        raw = read_molecules(args.data).records["canonical"].tolist()
        source = str(args.data)
    raw = raw[: args.n]
    vae = MolVAE.load(args.model, device="cpu")
    prep = vae.prepare(_encodable_forms(vae, raw))
    inputs = prep.dataset.smiles
    mu, _ = vae.encode_dataset(prep.dataset)

    rows = [("mu (encoder)", *_decoded_stats(vae, mu, inputs), float(mu.norm(dim=1).mean()), 0.0)]
    for steps in [int(x) for x in args.steps.split(",")]:
        for weight in [float(x) for x in args.prior_weights.split(",")]:
            start = time.perf_counter()
            z, _ = refine_latents(vae,
                prep.dataset, steps=steps, learning_rate=args.learning_rate, prior_weight=weight
            )
            seconds = time.perf_counter() - start
            rows.append((f"refined, {steps} steps, prior weight {weight:g}",
                         *_decoded_stats(vae, z, inputs), float(z.norm(dim=1).mean()), seconds))

    print(f"\n## Latent refinement ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads)\n")
    print(f"{len(inputs)} of {len(raw)} molecules encodable, from {source}; model "
          f"{args.model}; Adam lr {args.learning_rate:g}; greedy decoding\n")
    print("| z | exact | sim >= 0.4 | mean sim | mean norm | seconds |")
    print("|---|---|---|---|---|---|")
    for label, exact, hit, sim, norm, seconds in rows:
        print(f"| {label} | {exact:.3f} | {hit:.3f} | {sim:.3f} | {norm:.2f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
