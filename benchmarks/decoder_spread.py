"""How much of a sample's properties its latent point sets, and how much the decoder's sampling.

``--points`` points are drawn from the prior (from p(z|c) with ``--condition`` on a conditional
model with a learned prior) and each is decoded ``--repeats`` times by the default sampler's
token sampling (``strategy="sample"``) at each ``--temperatures`` value. Only decodes the
default sampler would keep count: valid strings in the training data's canonical form (the
critic's further draw is left out). For RDKit's logP, QED and MW of those, the table gives the
standard deviation within one point's decodes (averaged over points: the decoder's own noise)
and between the points' means (what z carries), and how many distinct molecules one point
gives. A property the decoder's noise dominates cannot be controlled through z, nor through a
condition that only shifts the mean, any better than that within-point spread; it tells a
conditional model's error floor, and whether a model needs a more informative latent (a lower
KL weight) rather than a better prior or sampler.

    python benchmarks/decoder_spread.py --model zinc
    python benchmarks/decoder_spread.py --model zinc --condition logP=2
    python benchmarks/decoder_spread.py --model default
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import warnings

import numpy as np
import torch

from molvae import MolVAE, chem
from molvae.data.encoding import compute_property_matrix
from molvae.errors import MolvaeError
from molvae.runtime import cpu_model
from molvae.settings import DecodeSettings
from molvae_cli.sample import parse_conditions as cli_parse_conditions

PROPERTIES = ("logP", "QED", "MW")


def parse_conditions(items: list[str]) -> dict[str, float]:
    """``NAME=VALUE`` items as a dict, parsed as ``molvae sample --condition`` parses them; a
    malformed item exits with that command's one-line message."""
    try:
        return cli_parse_conditions(items)
    except MolvaeError as exc:
        raise SystemExit(f"error: {exc}") from None


def spread(vae: MolVAE, points: int, repeats: int, temperature: float, seed: int,
           conditions: dict[str, float] | None) -> dict:
    """Within-point and between-point standard deviations of each property, distinct per point."""
    z = vae.sample_prior(points, seed=seed, conditions=conditions).repeat_interleave(repeats, 0)
    frame = vae.decode(z, DecodeSettings(strategy="sample", temperature=temperature),
                       seed=seed, conditions=conditions, check_form=True)
    kept = frame["valid"] & frame["canonical_form"]
    canonical = frame["canonical"].where(kept, "").fillna("").tolist()
    values = compute_property_matrix(canonical, list(PROPERTIES)).reshape(points, repeats, -1)
    row = {"valid": float(frame["valid"].mean()), "kept": float(kept.mean())}
    with warnings.catch_warnings():
        # A point none of whose decodes was kept has no mean: it is left out (NaN-aware
        # statistics), without numpy's empty-slice warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        for j, name in enumerate(PROPERTIES):
            row[f"{name} within"] = float(np.nanmean(np.nanstd(values[:, :, j], axis=1)))
            row[f"{name} between"] = float(np.nanstd(np.nanmean(values[:, :, j], axis=1)))
    groups = np.asarray(canonical, dtype=object).reshape(points, repeats)
    row["distinct"] = float(np.mean([len({m for m in g if m}) for g in groups]))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="zinc", help="model name or directory")
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--temperatures", default="1.0,0.7")
    parser.add_argument("--condition", action="append", default=[],
                        help="NAME=VALUE (a conditional model); repeatable")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    conditions = parse_conditions(args.condition) or None
    asked = ", ".join(f"{k}={v:g}" for k, v in (conditions or {}).items()) or "none"
    print(f"## Decoder spread: {vae.path} ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} "
          f"cores, torch {torch.__version__})\n")
    print(f"{args.points} prior points, each decoded {args.repeats} times by token sampling; "
          f"condition: {asked}. Over the decodes in canonical form (the default sampler's "
          "keep): standard deviation of RDKit's value within one point's decodes (mean over "
          "points) and between the points' means; distinct molecules per point.\n")
    head = ["temperature", "valid", "canonical form"] + [f"{n} {k}" for n in PROPERTIES
                                       for k in ("within", "between")]
    print("| " + " | ".join(head) + f" | distinct of {args.repeats} per point | seconds |")
    print("|---" * (len(head) + 2) + "|")
    for temperature in (float(t) for t in args.temperatures.split(",")):
        t = time.perf_counter()
        row = spread(vae, args.points, args.repeats, temperature, args.seed, conditions)
        cells = [f"{temperature:g}", f"{row['valid']:.3f}", f"{row['kept']:.3f}"]
        for name in PROPERTIES:
            digits = 1 if name == "MW" else (3 if name == "QED" else 2)
            cells += [f"{row[f'{name} within']:.{digits}f}", f"{row[f'{name} between']:.{digits}f}"]
        print("| " + " | ".join(cells) + f" | {row['distinct']:.1f} | "
              f"{time.perf_counter() - t:.0f} |")


if __name__ == "__main__":
    main()
