"""How much of a SELFIES model's FCD gap is strings SELFIES had to repair.

A SMILES language model that makes a mistake usually writes an invalid string, which is thrown
away; a SELFIES model's mistake still decodes to a valid molecule, because SELFIES repairs or
ignores the symbols that do not fit (a double bond on fluorine, a ring symbol with too few atoms
behind it). Those molecules are not what the model meant. Training strings are the SELFIES of
canonical SMILES, so a model that has learnt them writes each molecule one way; any other
string left the training language somewhere.

This draws ``--n`` prior samples at temperature 1 and sorts the strings into three groups:

- *canonical form*: the string is exactly the SELFIES of its molecule's canonical SMILES;
- *other atom order*: decoding and re-encoding the string gives it back (no symbol was repaired
  or ignored), but it writes the molecule in a non-canonical order;
- *repaired*: SELFIES changed or ignored at least one symbol.

Each group is scored with the MOSES metrics on the same number of molecules (FCD depends on the
sample size). Then the default sampler of ``molvae sample`` (which keeps only canonical-form
draws, drawing until ``--n`` are kept) is scored against every draw as decoded (``--any-form``)
at ``--n`` molecules each, with the share of draws kept and the wall time.

    python benchmarks/canonical_form.py --model default --n 30000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import torch

from molvae import MolVAE, chem
from molvae.evaluation import evaluate_smiles
from molvae.generation.decoding import check_string
from molvae.runtime import cpu_model
from molvae.settings import DecodeSettings

MOSES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "moses"
SHOWN = ("valid", "unique@10000", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test", "IntDiv",
         "Filters", "logP", "SA", "QED", "weight", "Novelty")


def _score(smiles: list[str]) -> dict[str, float]:
    return evaluate_smiles(smiles, MOSES / "test.csv.gz", train=MOSES / "train.csv.gz")


def _table(title: str, rows: list[tuple[str, str, dict[str, float]]], extra: str) -> None:
    shown = [k for k in SHOWN if k in rows[0][2]]
    print(f"\n{title}\n")
    print(f"| draws | {extra} | " + " | ".join(shown) + " |")
    print("|---" * (len(shown) + 2) + "|")
    for name, info, metrics in rows:
        print(f"| {name} | {info} | " + " | ".join(f"{metrics[k]:.3f}" for k in shown) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=30_000)
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    tokenizer = vae.tokenizer

    # 1. Sort raw draws into the three groups (the strings themselves are needed here).
    z = vae.sample_prior(args.n, seed=0)
    texts: list[str] = []
    for start in range(0, args.n, 1024):
        ids = vae._generate_batch(z, start, 1024, seed=start, settings=DecodeSettings("sample"))
        texts.extend(vae._ids_to_texts(ids))
    groups: dict[str, list[str]] = {"canonical form": [], "other atom order": [], "repaired": []}
    for text in texts:
        smiles, canonical, in_form = check_string(text, tokenizer)  # as the samplers check
        if canonical is None:
            groups["repaired"].append("")  # never happens with SELFIES; counted, not dropped
        elif in_form:
            groups["canonical form"].append(canonical)
        elif tokenizer.encode_string(smiles) == text:
            groups["other atom order"].append(canonical)
        else:
            groups["repaired"].append(canonical)
    size = min(len(g) for g in groups.values())
    group_rows = []
    for name, members in groups.items():
        metrics = _score(members[:size])
        group_rows.append((name, f"{len(members) / args.n:.1%}", metrics))
        print(f"{name}: {len(members):,} draws scored ({size:,})", flush=True)

    # 2. The two samplers of `molvae sample`, n molecules each.
    sampler_rows = []
    for name, canonical_only in (("every draw (--any-form)", False),
                                 ("canonical form only (default)", True)):
        start = time.perf_counter()
        frame = vae.sample(args.n, seed=1, canonical_only=canonical_only, critic=False)
        seconds = time.perf_counter() - start
        drawn = frame.attrs["drawn"]
        metrics = _score(frame["smiles"].tolist())
        info = f"{len(frame):,} of {drawn:,} ({len(frame) / drawn:.1%}), {seconds:.0f} s"
        sampler_rows.append((name, info, metrics))
        print(f"{name}: {info}", flush=True)

    print(f"\n## Canonical-form sampling ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} "
          f"cores, torch {torch.__version__}; model {vae.path}; temperature 1)")
    _table(f"{args.n:,} raw prior draws by how they are written; MOSES metrics of {size:,} "
           "molecules of each group", group_rows, "share of draws")
    _table(f"The samplers of `molvae sample`, {args.n:,} molecules each",
           sampler_rows, "kept of drawn, sampling time")


if __name__ == "__main__":
    main()
