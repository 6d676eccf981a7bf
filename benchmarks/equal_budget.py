"""Equal-budget benchmark: the default recipe trained for a fixed wall time, then MOSES metrics.

Trains ``configs/default.toml`` (or ``--config``) on the MOSES train split for ``--minutes``
(default 30) on this machine, samples ``--samples`` molecules from the prior, and scores them with
the MOSES metrics against the MOSES test split. The learning-rate schedule is fitted to the
budget (``epochs`` is set so that the cosine decay ends near the time limit, and the decay also
follows the clock, ``schedule_by_time``, so that on a slower machine the run still ends
annealed), as any fair budgeted run would do. Data preparation (canonicalize, tokenize, six
RDKit properties for 1.58M molecules) is not training: ``--prepare-only`` does it once into the
dataset cache (``molvae.data.encoded_cache``) and the timed run loads it from there, as the MOSES
baselines it is compared with were given their data ready.

    python benchmarks/equal_budget.py --out runs/budget30 --prepare-only  # fill the data cache
    python benchmarks/equal_budget.py --out runs/budget30
    python benchmarks/equal_budget.py --out runs/budget30 --score-only   # re-score a finished run
    python benchmarks/equal_budget.py --out runs/budget30c --critic-minutes 6
    python benchmarks/equal_budget.py --out runs/budget30s --critic-minutes 3 --critic-hidden 16 \
        --critic-quantile 0.75 --molecules-per-second 640  # see results/equal_budget.md

With ``--critic-minutes M`` the budget is shared: the model trains for ``--minutes`` minus M,
then a realism critic (``molvae.models.critic``) is fitted to it on ``--critic-samples`` of its
samples and as many training molecules, and the default sampler uses it. The critic's wall
time is printed; training plus critic must stay within ``--minutes``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import torch

from molvae import MolVAE, chem
from molvae.evaluation import evaluate_smiles, metrics_table
from molvae.models.config import ModelConfig
from molvae.runtime import cpu_model
from molvae.settings import from_dict
from molvae.training.config import TrainConfig, load_toml
from molvae.training.prepare import prepare_data
from molvae.training.trainer import train

REPO = Path(__file__).resolve().parents[1]
MOSES = REPO.parent / "shared" / "datasets" / "moses"



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "default.toml")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--molecules-per-second", type=float, default=1000.0,
                        help="Expected training speed, used to size the LR schedule.")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--score-only", action="store_true")
    parser.add_argument("--critic-minutes", type=float, default=0.0,
                        help="Part of the budget kept for fitting a realism critic (0: none).")
    parser.add_argument("--critic-samples", type=int, default=30_000)
    parser.add_argument("--critic-epochs", type=int, default=10)
    parser.add_argument("--critic-hidden", type=int, default=16,
                        help="Hidden units of the critic (fewer: a smoother density ratio).")
    parser.add_argument("--critic-quantile", type=float, default=0.9,
                        help="Acceptance threshold: this quantile of the model's critic logits "
                             "(lower keeps more draws: less correction, more novelty).")
    parser.add_argument("--prepare-only", action="store_true",
                        help="Only prepare (and cache) the tokenized data and property targets.")
    args = parser.parse_args()
    chem.set_rdkit_logging(False)

    if not args.score_only:
        raw_train, raw_model = load_toml(args.config)
        cfg = from_dict(TrainConfig, raw_train)
        model_cfg = from_dict(ModelConfig, raw_model)
        if args.prepare_only:
            start = time.time()
            prep = prepare_data(MOSES / "train.csv.gz", cfg, status=print)
            print(f"prepared {len(prep.train) + len(prep.validation):,} molecules in "
                  f"{(time.time() - start) / 60:.1f} min")
            return
        cfg.max_minutes = args.minutes - args.critic_minutes
        seen = cfg.max_minutes * 60 * args.molecules_per_second
        cfg.epochs = max(1, round(seen / 1_575_000))  # the schedule ends near the budget
        cfg.schedule_by_time = True  # and if the machine is slower, the clock ends it
        cfg.kl_warmup_steps = min(cfg.kl_warmup_steps, int(seen / cfg.batch_size / 3))
        start = time.time()
        train(MOSES / "train.csv.gz", args.out, cfg, model_cfg, progress=False)
        print(f"trained for {(time.time() - start) / 60:.1f} min (including data preparation)")

    vae = MolVAE.load(args.out, device="cpu")
    critic_note = ""
    if args.critic_minutes > 0 and not args.score_only:
        import pandas as pd

        from molvae.models.critic import save_critic
        from molvae.training.heads import fit_critic

        start = time.time()
        reference = pd.read_csv(MOSES / "train.csv.gz")["SMILES"].tolist()
        fit = fit_critic(vae, reference, n_samples=args.critic_samples,
                         epochs=args.critic_epochs, quantile=args.critic_quantile,
                         hidden=args.critic_hidden, log=print)
        save_critic(fit.critic, vae.path)
        vae.critic = fit.critic  # what load_critic would now read back from vae.path
        minutes = (time.time() - start) / 60
        critic_note = (f" Critic fitted in {minutes:.1f} min on {fit.n_samples:,} samples "
                       f"(held-out AUC {fit.metrics['auc']:.3f}, {args.critic_hidden} hidden "
                       f"units, threshold at the {args.critic_quantile:g} quantile).")
        print(f"critic fitted in {minutes:.1f} min (budget {args.critic_minutes:g})")
    scored = {}
    # The default sampler (draws in canonical form) and every draw as decoded (--any-form).
    for name, canonical_only in (("default sampler", True), ("every draw", False)):
        t = time.perf_counter()
        samples = vae.sample(args.samples, seed=0, canonical_only=canonical_only)
        seconds = time.perf_counter() - t
        metrics = evaluate_smiles(samples["smiles"].tolist(), MOSES / "test.csv.gz",
                                  train=MOSES / "train.csv.gz")
        scored[name] = {"metrics": metrics, "drawn": samples.attrs["drawn"],
                        "sampling_seconds": seconds}
    (args.out / "equal_budget.json").write_text(json.dumps(scored, indent=1))
    from rich.console import Console

    Console().print(metrics_table(scored["default sampler"]["metrics"]))
    print(f"\n## Equal-budget benchmark ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} "
          f"cores, torch {torch.__version__})\n")
    kept = scored["default sampler"]
    print(f"{args.minutes:g} min of training ({args.config.name}), {args.samples:,} prior "
          f"samples, MOSES metrics vs the MOSES test split. Default sampler: {args.samples:,} "
          f"kept of {kept['drawn']:,} draws in canonical form ({kept['sampling_seconds']:.0f} "
          f"s{', kept by the critic' if vae.critic is not None else ''}); every draw: "
          f"{scored['every draw']['sampling_seconds']:.0f} s.{critic_note}\n")
    print("| metric | default sampler | every draw | target |\n|---|---|---|---|")
    targets = {"valid": "1.000", "FCD/Test": "< 1.0", "Novelty": ">= 0.95"}
    for key, value in kept["metrics"].items():
        print(f"| {key} | {value:.3f} | {scored['every draw']['metrics'][key]:.3f} | "
              f"{targets.get(key, '')} |")


if __name__ == "__main__":
    main()
