"""What one round of `molvae design` proposes, by move, scored by a PMO task's oracle.

Takes a design record (a PMO run's calls file) cut at ``--upto`` calls, as if the run were there:
the same best molecules, the trust region replayed from the record. One round's pool is proposed
by each move alone (``design``'s own proposal code, one setting changed at a time), and every
proposal not scored yet is scored by the task's oracle (free here; a real run would pick
``--batch-size`` of them with the GP). The columns say how many new molecules each move offers
and how many of them would enter the run's top 10 (beat its 10th best) or beat its best.

    python benchmarks/design_moves.py --calls runs/pmo/molvae/ranolazine_mpo_s0_b10000.csv \\
        --task ranolazine_mpo --upto 3000
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pmo  # noqa: E402  (the benchmark's oracles)

from molvae import MolVAE  # noqa: E402
from molvae.optimize.design import _propose, _replay_region  # noqa: E402
from molvae.optimize.moves import Latents  # noqa: E402
from molvae.runtime import cpu_model  # noqa: E402
from molvae.settings import DesignSettings  # noqa: E402

# Every move starts from these settings (whatever the defaults are), so it runs alone.
BASE = {"splice_share": 0.0, "splice_parents": 10, "splice_random_writing": 0.0,
        "crossover_share": 0.0, "decode_temperature": 0.0, "prior_share": 0.0}
# (label, DesignSettings fields): each move alone fills the whole pool.
MOVES = [
    ("trust region, greedy", {}),
    ("trust region, sampled T=0.7", {"decode_temperature": 0.7}),
    ("splice, 10 parents", {"splice_share": 1.0}),
    ("splice, 100 parents", {"splice_share": 1.0, "splice_parents": 100}),
    ("splice, 100 parents, random writings", {"splice_share": 1.0, "splice_parents": 100,
                                              "splice_random_writing": 1.0}),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=Path, required=True, help="a design record (calls CSV)")
    p.add_argument("--task", required=True, help="the PMO task the record was made on")
    p.add_argument("--upto", type=int, default=3000, help="cut the record after this many calls")
    p.add_argument("--model", default="default")
    p.add_argument("--pool-size", type=int, default=1500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    objectives = pmo.guacamol_objectives()
    if args.task not in objectives:
        raise SystemExit(f"error: unknown task {args.task!r}")
    score = pmo.task_scorer(objectives[args.task])
    vae = MolVAE.load(args.model, device="cpu")
    calls = pd.read_csv(args.calls).head(args.upto)
    rows = calls.to_dict("records")
    ok = calls[calls["status"] == "ok"]
    data = dict(zip(ok["smiles"], ok["score"].astype(float), strict=True))
    known = set(calls["smiles"])
    top = sorted(data.values(), reverse=True)[:10]
    best, tenth = top[0], top[-1]
    print(f"## One round's proposals by move ({dt.date.today()}, {cpu_model()}, "
          f"torch {torch.__version__}, {args.threads} thread(s))\n")
    print(f"Record `{args.calls}` cut at {len(calls):,} calls (best {best:.3f}, 10th best "
          f"{tenth:.3f}); task `{args.task}`; model `{args.model}`; {args.pool_size:,} points "
          f"per row, no prior draws.\n")
    print("| move | new molecules | beat the 10th best | beat the best | best new | mean new |")
    print("|---|---|---|---|---|---|")
    latents = Latents(vae)
    for label, fields in MOVES:
        for canonical_only in (True, False):
            s = DesignSettings(pool_size=args.pool_size, canonical_only=canonical_only,
                               **{**BASE, **fields})
            region = _replay_region(rows, {}, s)
            pool = _propose(vae, s, data, known, latents, region, [], args.seed, {})
            new = pool["smiles"].tolist()
            values = np.asarray(score(new), dtype=float) if new else np.zeros(0)
            form = "canonical form only" if canonical_only else "any form"
            best_new = f"{values.max():.3f}" if len(values) else "–"
            mean_new = f"{values.mean():.3f}" if len(values) else "–"
            print(f"| {label}, {form} | {len(new):,} | "
                  f"{int((values > tenth).sum()):,} | {int((values > best).sum()):,} | "
                  f"{best_new} | {mean_new} |", flush=True)


if __name__ == "__main__":
    main()
