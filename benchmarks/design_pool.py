"""How many molecules not scored yet one round of `molvae design` can propose, by trust-region
radius and decoding (greedy, or sampled at a temperature).

A round perturbs the encodings of the best molecules so far (Gaussian, standard deviation
``radius`` per latent dimension) and decodes them; only molecules in canonical form that were
never scored can be sent to the oracle. When the trust region shrinks, greedy decoding writes the
centres back and little else, and the round's pool runs dry. This takes a finished design record
(a PMO run's calls file), encodes its ``--centres`` best molecules, decodes ``--points`` latent
points around them for each radius and decoding, and counts the valid canonical-form molecules,
the distinct ones and those not in the record.

    python benchmarks/design_pool.py --calls runs/pmo/molvae/troglitazone_rediscovery_s0_b10000.csv
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molvae import MolVAE
from molvae.optimize.design import proposal_decoding
from molvae.runtime import cpu_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=Path, required=True, help="a design record (calls CSV)")
    p.add_argument("--model", default="default")
    p.add_argument("--centres", type=int, default=10)
    p.add_argument("--points", type=int, default=1350, help="latent points per setting")
    p.add_argument("--radii", type=float, nargs="+", default=[0.1, 0.2, 0.4, 0.8])
    p.add_argument("--temperatures", type=float, nargs="+", default=[0.0, 0.7, 1.0],
                   help="0 is greedy decoding")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    vae = MolVAE.load(args.model, device="cpu")
    calls = pd.read_csv(args.calls)
    known = set(calls["smiles"])
    top = calls.nlargest(args.centres, "score")["smiles"].tolist()
    table = vae.encode(top)
    mus = table[[f"z{i}" for i in range(vae.latent_dim)]].to_numpy(np.float32)
    per = args.points // len(mus)
    base = torch.from_numpy(np.repeat(mus, per, axis=0))
    gen = torch.Generator().manual_seed(args.seed)
    print(f"## Proposals of one design round ({dt.date.today()}, {cpu_model()}, "
          f"torch {torch.__version__}, {args.threads} thread(s))\n")
    print(f"Record `{args.calls}` ({len(calls):,} calls); {len(mus)} best molecules as centres, "
          f"{len(base):,} latent points per row; model `{args.model}`.\n")
    print("| radius | decoding | valid, canonical form | distinct | not scored yet |")
    print("|---|---|---|---|---|")
    for radius in args.radii:
        z = base + radius * torch.randn(base.shape, generator=gen)
        for temperature in args.temperatures:
            settings = proposal_decoding(temperature)  # as `design` decodes its rounds
            out = vae.decode(z, settings, check_form=True, seed=args.seed)
            ok = (out["valid"] & out["canonical_form"]).to_numpy()
            distinct = set(out["canonical"][ok])
            label = "greedy" if temperature == 0 else f"sampled, T={temperature:g}"
            print(f"| {radius:g} | {label} | {ok.mean():.3f} | {len(distinct):,} | "
                  f"{len(distinct - known):,} |", flush=True)


if __name__ == "__main__":
    main()
