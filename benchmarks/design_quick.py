"""``molvae.design`` against random sampling from the prior, at equal oracle budgets.

Oracles computed with RDKit in-process (no downloads):

- ``celecoxib``: Tanimoto similarity (Morgan radius 2, counts) to celecoxib;
- ``osimertinib``: the same for osimertinib (larger than the molecules the bundled MOSES model
  writes: MW 500 against 250-350);
- ``qed``: RDKit's QED;
- ``mpo``: a multi-parameter score, the geometric mean of similarity to osimertinib, a Gaussian
  bump around logP 3 (width 1) and one around TPSA 90 (width 20).

Methods, at the same budget and seed: ``random`` (the model's sampler, ``vae.sample(budget,
unique=True)``, all scored), and ``design`` with its settings given by ``--variants`` (``gp``,
the default; ``none``: the same proposals picked at random, no surrogate; ``""``: random
only). Prints, per oracle
and method, the best score, the top-10 mean and PMO's AUC of the top-10 mean
(``pmo_protocol.top_auc``, every 100 calls) at the budget, mean +- std over seeds, and the wall
time of design (oracle time is negligible here).

    python benchmarks/design_quick.py --budget 300 --seeds 0,1
    python benchmarks/design_quick.py --oracles celecoxib --variants gp,none,gp:pool_size=500
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import sys
import time
from pathlib import Path

import numpy as np

from molvae import DesignSettings, MolVAE, chem, design
from molvae.runtime import machine_summary

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pmo_protocol import top_auc  # noqa: E402

REFERENCES = {
    "celecoxib": "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1",
    "osimertinib": "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc1nccc(-c2cn(C)c3ccccc23)n1",
}


def _similarity_oracle(reference: str):
    ref = chem.morgan_count_fingerprint(chem.parse_smiles(reference))

    def oracle(smiles: list[str]) -> list[float]:
        return [chem.tanimoto(ref, chem.morgan_count_fingerprint(chem.parse_smiles(s)))
                for s in smiles]

    return oracle


def _qed(smiles: list[str]) -> list[float]:
    from rdkit.Chem import QED

    return [float(QED.qed(chem.parse_smiles(s))) for s in smiles]


def _mpo(smiles: list[str]) -> list[float]:
    from rdkit.Chem import Crippen, rdMolDescriptors

    sims = _similarity_oracle(REFERENCES["osimertinib"])(smiles)
    out = []
    for s, sim in zip(smiles, sims, strict=True):
        mol = chem.parse_smiles(s)
        logp = math.exp(-0.5 * (Crippen.MolLogP(mol) - 3.0) ** 2)
        tpsa = math.exp(-0.5 * ((rdMolDescriptors.CalcTPSA(mol) - 90.0) / 20.0) ** 2)
        out.append(float((sim * logp * tpsa) ** (1 / 3)))
    return out


ORACLES = {
    "celecoxib": _similarity_oracle(REFERENCES["celecoxib"]),
    "osimertinib": _similarity_oracle(REFERENCES["osimertinib"]),
    "qed": _qed,
    "mpo": _mpo,
}


def _variant(spec: str, batch_size: int) -> DesignSettings:
    """``gp``, ``none`` or ``gp:pool_size=500,radius=0.6`` -> settings."""
    surrogate, _, rest = spec.partition(":")
    kwargs: dict = {"surrogate": surrogate, "batch_size": batch_size}
    types = {f.name: f.type for f in dataclasses.fields(DesignSettings)}
    for item in filter(None, rest.split(",")):
        key, value = item.split("=")
        kind = types[key]
        kwargs[key] = float(value) if "float" in str(kind) else int(value)
    return DesignSettings(**kwargs)


def _metrics(scores: list[float], budget: int) -> dict[str, float]:
    values = [0.0 if v is None or v != v else float(v) for v in scores]
    ordered = sorted(values, reverse=True)
    return {"best": ordered[0], "top10": float(np.mean(ordered[:10])),
            "auc": top_auc(values, 10, budget)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--oracles", default="celecoxib,osimertinib,qed,mpo")
    p.add_argument("--variants", default="gp,none")
    p.add_argument("--model", default="default")
    p.add_argument("--note", default="")
    args = p.parse_args()
    vae = MolVAE.load(args.model)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for name in args.oracles.split(","):
        oracle = ORACLES[name]
        results: dict[str, list[dict]] = {}
        for seed in seeds:
            sampled = vae.sample(args.budget, seed=seed, unique=True)["canonical"].tolist()
            results.setdefault("random", []).append(_metrics(oracle(sampled), args.budget))
            m = results["random"][-1]
            print(f"# {name} seed {seed} random: top10 {m['top10']:.3f} auc {m['auc']:.3f}",
                  file=sys.stderr, flush=True)
            for spec in filter(None, args.variants.split(",")):
                settings = _variant(spec, args.batch_size)
                start = time.perf_counter()
                result = design(oracle, args.budget, model=vae, settings=settings, seed=seed)
                seconds = time.perf_counter() - start
                m = _metrics(result.calls["score"].tolist(), args.budget)
                m["seconds"] = seconds
                results.setdefault(f"design {spec}", []).append(m)
                print(f"# {name} seed {seed} design {spec}: top10 {m['top10']:.3f} "
                      f"auc {m['auc']:.3f} ({seconds:.0f} s)", file=sys.stderr, flush=True)
        for method, runs in results.items():
            row = {"oracle": name, "method": method}
            for key in ("best", "top10", "auc", "seconds"):
                values = [r[key] for r in runs if key in r]
                row[key] = (f"{np.mean(values):.3f} ± {np.std(values):.3f}" if key != "seconds"
                            else f"{np.mean(values):.0f}") if values else "–"
            rows.append(row)
    print(f"# design_quick.py\n\n- **Measured:** {dt.date.today()}\n- **Hardware:** "
          f"{machine_summary()}{'; ' + args.note if args.note else ''}\n- **Command:** "
          f"`python benchmarks/design_quick.py {' '.join(sys.argv[1:])}`\n- **Model:** "
          f"{args.model}; budget {args.budget} calls, batches of {args.batch_size}, seeds "
          f"{args.seeds} (mean ± std)\n")
    print("| oracle | method | best | top-10 mean | AUC top-10 | design seconds |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['oracle']} | {r['method']} | {r['best']} | {r['top10']} | {r['auc']} | "
              f"{r['seconds']} |")


if __name__ == "__main__":
    main()
