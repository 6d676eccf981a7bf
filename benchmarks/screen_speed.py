"""Throughput of ``molvae screen``'s full default pipeline, per-step costs and peak memory.

Screens the first N molecules (default 20,000) of the MOSES test set (the shipped 1,000-molecule
sample when the MOSES files are absent) with the default configuration: standardize, InChIKey
deduplication, all properties, Lipinski + Veber, PAINS + BRENK + NIH + ZINC alerts, desirability
score, ranking. Prints one markdown report with the date and hardware:

- molecules per second (wall clock, all workers) and CPU seconds used;
- wall seconds per phase of the real run, and CPU milliseconds per molecule of each step
  measured in-process on a subsample (a rejected molecule skips the later steps, as in a run);
- peak resident memory of the main process and of the worker processes (``getrusage``);
- nearest-neighbour novelty cost: Tanimoto pairs per second of the blocked matrix search and
  fingerprinting cost, extrapolated to the 1,584,663-molecule MOSES training set.

Run from the repository root; the issue's target is >= 400 molecules/s on 2 cores::

    python benchmarks/screen_speed.py --n 20000
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from molvae import chem
from molvae.chem.properties import _sascorer
from molvae.data.tables import find_smiles_column
from molvae.runtime import cpu_model, default_jobs
from molvae.screening import (
    ReferenceFingerprints,
    ScreenConfig,
    SparseFingerprints,
    nearest_tanimoto,
    profile_steps,
    screen_file,
)

REPO = Path(__file__).resolve().parents[1]
MOSES_TEST = Path("/work/shared/datasets/moses/test.csv.gz")
SAMPLE = REPO / "datasets" / "moses_test_sample.csv"
MOSES_TRAIN_SIZE = 1_584_663



def cpu_seconds() -> float:
    """CPU time of this process and its finished worker processes (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mib() -> tuple[float, float]:
    """Peak resident memory (MiB) of this process and of its largest finished child."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def nearest_neighbour_cost(smiles: list[str], n_query: int) -> dict[str, float]:
    """Measured fingerprinting and nearest-neighbour search rates on this machine."""
    start = time.perf_counter()
    refs = ReferenceFingerprints.from_smiles(smiles, n_jobs=1)
    fp_seconds = (time.perf_counter() - start) / max(len(refs), 1)
    query = SparseFingerprints.from_mols(chem.parse_smiles(s) for s in smiles[:n_query])
    start = time.perf_counter()
    nearest_tanimoto(query, refs.fingerprints)
    pairs_per_s = len(query) * len(refs) / (time.perf_counter() - start)
    return {"fingerprint_ms": 1000 * fp_seconds, "pairs_per_s": pairs_per_s, "n_ref": len(refs)}


def rdkit_floor(smiles: list[str]) -> dict[str, float]:
    """CPU ms per molecule of the bare RDKit calls the default screen makes, on one core.

    Each call once per molecule, in a tight loop, no molvae code: parse, standardize (largest
    fragment + uncharge), canonical SMILES, InChIKey, the descriptors the rules and score use
    (MolWt, MolLogP, HBD, HBA, rotatable bonds, TPSA), QED, SA, and one FilterCatalog holding
    PAINS + BRENK + NIH + ZINC asked whether any entry matches. The sum is the floor: what a
    screen that did nothing but these calls would cost.
    """
    from rdkit import Chem
    from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors
    from rdkit.Chem import FilterCatalog as FC
    from rdkit.Chem.MolStandardize import rdMolStandardize

    params = FC.FilterCatalogParams()
    for name in ("PAINS", "BRENK", "NIH", "ZINC"):
        params.AddCatalog(getattr(FC.FilterCatalogParams.FilterCatalogs, name))
    catalog = FC.FilterCatalog(params)
    chooser, uncharger = rdMolStandardize.LargestFragmentChooser(), rdMolStandardize.Uncharger()
    sascorer = _sascorer()
    mols = [m for m in (Chem.MolFromSmiles(x) for x in smiles) if m is not None]
    calls = {
        "standardize": lambda m: uncharger.uncharge(chooser.choose(m)),
        "canonical SMILES": Chem.MolToSmiles,
        "InChIKey": Chem.MolToInchiKey,
        "rule descriptors": lambda m: (Descriptors.MolWt(m), Crippen.MolLogP(m),
                                       Lipinski.NumHDonors(m), Lipinski.NumHAcceptors(m),
                                       rdMolDescriptors.CalcNumRotatableBonds(m),
                                       rdMolDescriptors.CalcTPSA(m)),
        "QED": QED.qed,
        "SA": sascorer.calculateScore,
        "alerts (4 sets, one catalog)": catalog.HasMatch,
    }
    start = time.process_time()
    for x in smiles:
        Chem.MolFromSmiles(x)
    out = {"parse": 1000 * (time.process_time() - start) / len(smiles)}
    for name, call in calls.items():
        call(mols[0])  # warm-up: SA loads its fragment table on the first call
        start = time.process_time()
        for m in mols:
            call(m)
        out[name] = 1000 * (time.process_time() - start) / len(mols)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="molecules to screen")
    parser.add_argument("--input", type=Path, default=None, help="default: MOSES test set")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0: all CPUs)")
    parser.add_argument("--profile-n", type=int, default=300, help="molecules for step costs")
    parser.add_argument("--nn-query", type=int, default=1000, help="queries for the NN probe")
    parser.add_argument("--nn-reference", type=int, default=20_000, help="its reference size")
    args = parser.parse_args()

    chem.set_rdkit_logging(False)
    path = args.input or (MOSES_TEST if MOSES_TEST.is_file() else SAMPLE)
    config = ScreenConfig(jobs=args.jobs)
    jobs = args.jobs or default_jobs()

    load_before = os.getloadavg()
    start, start_cpu = time.perf_counter(), cpu_seconds()
    result = screen_file(path, config, max_rows=args.n, keep_rejects=False)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    load_after = os.getloadavg()
    rss_main, rss_child = peak_rss_mib()

    frame = pd.read_csv(path, nrows=max(args.profile_n, args.nn_reference))
    smiles = frame[find_smiles_column(list(frame.columns))].astype(str).tolist()
    steps = profile_steps(smiles[: args.profile_n], config)
    nn = nearest_neighbour_cost(smiles[: args.nn_reference], args.nn_query)
    floor = rdkit_floor(smiles[: args.profile_n])
    floor_ms = sum(floor.values())

    rate = result.n_input / wall
    from rdkit import rdBase

    rdkit_version = rdBase.rdkitVersion
    lines = [
        f"## molvae screen throughput ({datetime.now().isoformat(timespec='minutes')})",
        "",
        "| what | value |",
        "|---|---|",
        f"| CPU | {cpu_model()} |",
        f"| cores usable / workers | {len(os.sched_getaffinity(0))} / {jobs} |",
        f"| memory | {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB |",
        f"| python / rdkit | {platform.python_version()} / {rdkit_version} |",
        f"| load average before / after (1 min) | {load_before[0]:.2f} / {load_after[0]:.2f} |",
        f"| input | {path.name}, first {result.n_input:,} rows |",
        f"| **throughput** | **{rate:,.0f} molecules/s** ({wall:.1f} s wall) |",
        f"| CPU seconds (all processes) | {cpu:.1f} ({cpu / wall:.2f} cores busy) |",
        f"| CPU per molecule / rate if {jobs} cores were all ours | "
        f"{1000 * cpu / result.n_input:.2f} ms / ~{jobs * result.n_input / cpu:,.0f} molecules/s |",
        f"| peak RSS main / largest worker | {rss_main:,.0f} MiB / {rss_child:,.0f} MiB |",
        f"| shortlisted | {result.n_shortlisted:,} |",
        "",
        "| outcome | rows |",
        "|---|---:|",
        *[f"| {k} | {v:,} |" for k, v in result.counts.items()],
        "",
        "| phase of the run (wall) | seconds |",
        "|---|---:|",
        *[f"| {k} | {v:.2f} |" for k, v in result.timings.items()],
        "",
        f"| step (in-process, {len(smiles[: args.profile_n])} molecules) | CPU ms / molecule |",
        "|---|---:|",
        *[f"| {k} | {v:.2f} |" for k, v in steps.items()],
        f"| **sum** | **{sum(steps.values()):.2f}** |",
        "",
        f"| RDKit floor (bare calls, one core, {len(smiles[: args.profile_n])} molecules) "
        "| CPU ms / molecule |",
        "|---|---:|",
        *[f"| {k} | {v:.2f} |" for k, v in floor.items()],
        f"| **sum** | **{floor_ms:.2f}** (~{jobs * 1000 / floor_ms:,.0f} molecules/s on "
        f"{jobs} cores) |",
        "",
        f"Throughput is {rate / (jobs * 1000 / floor_ms):.0%} of the floor on {jobs} cores "
        "(target: >= 80%).",
        "",
        "| nearest-neighbour novelty (2048-bit Morgan) | value |",
        "|---|---:|",
        f"| Tanimoto pairs / s ({args.nn_query:,} x {nn['n_ref']:,}, one core) | "
        f"{nn['pairs_per_s'] / 1e6:.1f} M |",
        f"| fingerprinting a reference | {nn['fingerprint_ms']:.2f} ms / molecule / core |",
        f"| MOSES train ({MOSES_TRAIN_SIZE:,}): one-time fingerprints, {jobs} cores | "
        f"~{nn['fingerprint_ms'] * MOSES_TRAIN_SIZE / 1000 / jobs / 60:.0f} min |",
        f"| MOSES train: nearest neighbours of a 100 / 1,000-molecule shortlist | "
        f"~{100 * MOSES_TRAIN_SIZE / nn['pairs_per_s']:.0f} s / "
        f"~{1000 * MOSES_TRAIN_SIZE / nn['pairs_per_s']:.0f} s |",
    ]
    print("\n".join(lines))
    if load_before[0] > len(os.sched_getaffinity(0)):
        print(
            "\nNote: the load average exceeded the core count: other processes competed for "
            "the CPUs, so these numbers understate an idle machine."
        )


if __name__ == "__main__":
    main()
