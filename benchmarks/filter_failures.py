"""Why prior samples fail the MOSES filters: counts per reason, a diagnostic.

Decodes ``--n`` prior samples (temperature 1, as the MOSES protocol samples) and, for every
valid molecule that fails MOSES's ``Filters`` (``molvae.evaluation.moses_chem.passes_filters``),
counts which conditions it breaks: a ring of 8 or more atoms, a charged atom, an element
outside the MOSES set, or each MCF / PAINS pattern it matches. A molecule can count under
several reasons.

    python benchmarks/filter_failures.py --model default --n 3000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections import Counter

from rdkit import Chem

from molvae import MolVAE, chem
from molvae.evaluation.moses_chem import (
    _MAX_FILTER_RING_SIZE,
    FILTER_ALLOWED_ATOMS,
    _read_smarts,
    filter_patterns,
    passes_filters,
)
from molvae.runtime import cpu_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    # Every draw as decoded: the failures are those of the raw decoder (`molvae sample --any-form`).
    samples = vae.sample(args.n, seed=args.seed, canonical_only=False)
    names = _read_smarts("mcf.csv", has_header=True, column=0)  # MCF1 ... MCF22
    names += ["PAINS " + s.strip().removeprefix("<regId=").removesuffix(">")
              for s in _read_smarts("wehi_pains.csv", has_header=False, column=1)]
    patterns = filter_patterns()
    reasons: Counter[str] = Counter()
    valid = failing = 0
    for smiles in samples["canonical"].dropna():
        mol = Chem.MolFromSmiles(smiles)
        valid += 1
        if passes_filters(mol):
            continue
        failing += 1
        if any(len(ring) > _MAX_FILTER_RING_SIZE for ring in mol.GetRingInfo().AtomRings()):
            reasons[f"ring of more than {_MAX_FILTER_RING_SIZE} atoms"] += 1
        if any(a.GetFormalCharge() for a in mol.GetAtoms()):
            reasons["charged atom"] += 1
        if {a.GetSymbol() for a in mol.GetAtoms()} - FILTER_ALLOWED_ATOMS:
            reasons["element outside the MOSES set"] += 1
        with_h = Chem.AddHs(mol)
        for name, pattern in zip(names, patterns, strict=True):
            if with_h.HasSubstructMatch(pattern):
                reasons[name] += 1
    print(f"## MOSES filter failures ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores; "
          f"model {vae.path})\n")
    print(f"{args.n:,} prior samples, {valid:,} valid, {failing:,} failing the filters "
          f"({failing / max(valid, 1):.1%})\n")
    print("| reason | molecules | share of failures |\n|---|---|---|")
    for name, count in reasons.most_common(args.top):
        print(f"| {name} | {count:,} | {count / max(failing, 1):.1%} |")


if __name__ == "__main__":
    main()
