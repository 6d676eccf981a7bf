"""Quality of a trained model, as reported in its model card.

- MOSES metrics of ``--samples`` prior samples (default 30,000) against the MOSES test split,
  from the default sampler (draws whose string is its molecule's canonical form, see
  ``benchmarks/canonical_form.py``, kept by the model's realism critic if it has one, see
  ``benchmarks/critic.py``), without the critic, and from every draw as decoded
  (``--any-form``);
- exact-match reconstruction (greedy decoding of mu) of ``--reconstruct`` test molecules, of
  the same molecules by beam decoding of mu (``--beam-width``), keeping the likeliest string in
  canonical form or the one whose own encoding lies nearest to mu (both still amortized:
  encoder and decoder only), and from z
  refined for ``--refine-steps`` steps (``molvae.refine_latents``; per-molecule inference on
  top of the encoder, reported beside the amortized numbers);
- latent property predictor R^2 / MAE per property on the same test molecules (RDKit truth).

    python benchmarks/model_quality.py --model default
    python benchmarks/model_quality.py --model zinc --samples 0 --reconstruct 1000 \
        --test /work/data/zinc/test.csv.gz

``--test`` and ``--train`` default to the MOSES splits; a model trained on other data is
measured against its own held-out split (for ``zinc``: ``datasets/make_zinc.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molvae import MolVAE, chem
from molvae.data.encoding import compute_property_matrix
from molvae.evaluation import evaluate_smiles
from molvae.generation.refine import reconstruct
from molvae.runtime import cpu_model
from molvae.training.validate import property_metrics

REPO = Path(__file__).resolve().parents[1]
MOSES = REPO.parent / "shared" / "datasets" / "moses"



def _exact_match(vae: MolVAE, test: list[str], ok: pd.Series, **how: int) -> dict:
    """Exact-match rate (over the encodable ``ok`` rows) of ``vae.reconstruct(test, **how)``."""
    t = time.perf_counter()
    rec = reconstruct(vae, test, **how)
    return {"exact_match": float(rec.loc[ok, "match"].mean()), **how,
            "seconds": time.perf_counter() - t}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--samples", type=int, default=30_000, help="0: skip the MOSES metrics")
    parser.add_argument("--reconstruct", type=int, default=10_000)
    parser.add_argument("--refine-steps", type=int, default=30,
                        help="Also reconstruct from refined z (0: skip).")
    parser.add_argument("--beam-width", type=int, default=8,
                        help="Also reconstruct by beam decoding of mu (0: skip).")
    parser.add_argument("--json", type=Path, help="Also write all numbers to this file.")
    parser.add_argument("--test", type=Path, default=MOSES / "test.csv.gz",
                        help="held-out molecules (default: the MOSES test split)")
    parser.add_argument("--train", type=Path, default=MOSES / "train.csv.gz",
                        help="training molecules, for novelty (default: the MOSES train split)")
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    report: dict = {"model": str(vae.path), "date": str(dt.date.today()), "cpu": cpu_model(),
                    "cores": os.cpu_count()}

    # The default sampler (canonical form, and the critic when the model has one), the same
    # without the critic, and every draw.
    samplers = [("moses", True, True), ("moses_any_form", False, False)]
    if vae.critic is not None:
        samplers.insert(1, ("moses_no_critic", True, False))
    for key, canonical_only, critic in samplers if args.samples > 0 else ():
        t = time.perf_counter()
        samples = vae.sample(args.samples, seed=0, canonical_only=canonical_only, critic=critic)
        sampling = time.perf_counter() - t
        t = time.perf_counter()
        metrics = evaluate_smiles(samples["smiles"].tolist(), args.test, train=args.train)
        report[key] = {"metrics": metrics, "drawn": samples.attrs["drawn"],
                       "sampling_seconds": sampling, "scoring_seconds": time.perf_counter() - t}

    test = pd.read_csv(args.test)["SMILES"]
    test = test.sample(n=min(args.reconstruct, len(test)), random_state=0).tolist()
    t = time.perf_counter()
    rec = reconstruct(vae, test, refine_steps=0)
    ok = rec["status"] == "ok"
    report["reconstruction"] = {
        "exact_match": float(rec.loc[ok, "match"].mean()),
        "molecules": int(ok.sum()),
        "not_encodable": int((~ok).sum()),
        "seconds": time.perf_counter() - t,
    }
    if args.beam_width > 0:
        for pick in ("likeliest", "nearest"):
            report[f"reconstruction_beam_{pick}"] = _exact_match(
                vae, test, ok, beam_width=args.beam_width, beam_pick=pick, refine_steps=0
            )
    if args.refine_steps > 0:
        report["reconstruction_refined"] = _exact_match(
            vae, test, ok, refine_steps=args.refine_steps
        )
    names = vae.model.config.all_properties
    if names:
        prep = vae.prepare(test)
        mu, _ = vae.encode_dataset(prep.dataset)
        with torch.no_grad():
            pred = vae.model.predict_properties(mu).mean(0).numpy()
        pred = pred * np.asarray(vae.bundle.property_std) + np.asarray(vae.bundle.property_mean)
        rdkit_names = [n for n in names if n in chem.PROPERTIES]
        truth = compute_property_matrix(prep.dataset.smiles, rdkit_names)
        cols = [names.index(n) for n in rdkit_names]
        report["predictor"] = property_metrics(rdkit_names, pred[:, cols], truth)

    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(f"## Model quality: {vae.path} ({report['date']}, {report['cpu']}, {report['cores']} "
          f"cores, torch {torch.__version__})\n")
    if "moses" in report:
        _print_moses(report, args.samples)
        print()
    r = report["reconstruction"]
    print(f"Exact-match reconstruction (greedy decoding of mu) of {r['molecules']:,} test "
          f"molecules of `{args.test}`: **{r['exact_match']:.4f}** ({r['not_encodable']} not "
          "encodable)\n")
    how = {"likeliest": "the likeliest string in canonical form kept",
           "nearest": "the string in canonical form whose own encoding is nearest to mu kept"}
    for pick, said in how.items():
        if f"reconstruction_beam_{pick}" in report:
            rb = report[f"reconstruction_beam_{pick}"]
            print(f"The same molecules, beam decoding of mu (beam of {rb['beam_width']}, {said}): "
                  f"**{rb['exact_match']:.4f}** ({rb['seconds']:.0f} s)\n")
    if "reconstruction_refined" in report:
        rr = report["reconstruction_refined"]
        print(f"The same molecules decoded from z refined for {rr['refine_steps']} steps: "
              f"**{rr['exact_match']:.4f}** ({rr['seconds']:.0f} s)\n")
    if "predictor" in report:
        print("| property | R^2 | MAE |\n|---|---|---|")
        for name, m in report["predictor"].items():
            print(f"| {name} | {m['r2']:.3f} | {m['mae']:.3f} |")


def _print_moses(report: dict, samples: int) -> None:
    """The MOSES table of every sampler measured."""
    main_run, raw = report["moses"], report["moses_any_form"]
    plain = report.get("moses_no_critic")
    what = "draws in canonical form kept by the realism critic" if plain else (
        "draws in canonical form")
    print(f"MOSES metrics of {samples:,} prior samples (temperature 1.0) vs the MOSES test "
          f"split. Default sampler: {what}, {samples:,} kept of "
          f"{main_run['drawn']:,} drawn ({samples / main_run['drawn']:.1%}), sampling "
          f"{main_run['sampling_seconds']:.0f} s, scoring {main_run['scoring_seconds']:.0f} s. "
          + (f"Without the critic (`--no-critic`): {samples:,} kept of {plain['drawn']:,}, "
             f"sampling {plain['sampling_seconds']:.0f} s. " if plain else "")
          + f"Every draw (`--any-form`): sampling {raw['sampling_seconds']:.0f} s.\n")
    runs = [main_run] + ([plain] if plain else []) + [raw]
    names = ["default sampler"] + (["no critic"] if plain else []) + ["every draw"]
    print("| metric | " + " | ".join(names) + " |\n" + "|---" * (len(names) + 1) + "|")
    for key in main_run["metrics"]:
        print(f"| {key} | " + " | ".join(f"{r['metrics'][key]:.4f}" for r in runs) + " |")


if __name__ == "__main__":
    main()
