"""How long MOSES evaluation takes, and whether its numbers agree with the MOSES paper.

Scores a random sample of MOSES *training* molecules (default 30,000, standing in for a
generated set) against the 176,074-molecule MOSES test set:

1. computes the test-set statistics and the training-set index into an empty cache (the
   one-time cost), then loads them again from the cache;
2. scores the sample with the cached statistics, timing each stage;
3. prints the hardware, the timings, and the metrics next to MOSES's published "Train" row
   (Polykovskiy et al. 2020, Table 2), which was computed the same way: training molecules
   scored as if generated. Novelty of a training sample is 0 by construction.

Run from the repository root (takes several minutes on 2 cores; log it)::

    python benchmarks/evaluate_speed.py > benchmarks/evaluate_speed.log 2>&1

``--cache-dir`` reuses a cache between runs (the default is a fresh temporary directory, so the
one-time cost is measured for real).
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import random
import resource
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from molvae import chem
from molvae.evaluation import ReferenceStats, TrainingSetIndex, evaluate, metrics_table
from molvae.runtime import cpu_model, file_sha256

MOSES_DIR = Path("/work/shared/datasets/moses")

# MOSES paper, Table 2, row "Train" (training molecules scored against the test set).
MOSES_TRAIN_ROW = {
    "valid": 1.0,
    "unique@1000": 1.0,
    "unique@10000": 1.0,
    "FCD/Test": 0.008,
    "SNN/Test": 0.642,
    "Frag/Test": 1.000,
    "Scaf/Test": 0.991,
    "IntDiv": 0.857,
    "IntDiv2": 0.851,
    "Filters": 1.0,
    "Novelty": 0.0,
}



def memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def read_smiles_column(path: Path) -> list[str]:
    """The SMILES of a one-column MOSES CSV (header ``SMILES``), as given."""
    with gzip.open(path, "rt") as handle:
        lines = handle.read().split()
    return lines[1:]


def first_call(cache: Path, kind: str, path: Path) -> str:
    """What the first ``load_or_compute`` will do: compute, or load a cache entry left before."""
    cached = (cache / f"{kind}-{file_sha256(path)}.json").exists()
    return "loads an earlier cache entry" if cached else "computes and saves"


def cpu_seconds() -> float:
    """CPU time of this process and its finished worker processes (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(label: str, timings: dict[str, tuple[float, float]], func, *args, **kwargs):
    """Call ``func``, recording (wall seconds, CPU seconds) under ``label``."""
    start, start_cpu = time.perf_counter(), cpu_seconds()
    result = func(*args, **kwargs)
    timings[label] = (time.perf_counter() - start, cpu_seconds() - start_cpu)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30_000, help="molecules to score")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generated-from", type=Path, default=MOSES_DIR / "train.csv.gz")
    parser.add_argument("--reference", type=Path, default=MOSES_DIR / "test.csv.gz")
    parser.add_argument("--train", type=Path, default=MOSES_DIR / "train.csv.gz")
    parser.add_argument("--no-train", action="store_true", help="skip Novelty")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args()

    chem.set_rdkit_logging(False)
    console = Console(width=120)
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="molvae-bench-cache-"))

    hardware = Table(title="Hardware and software")
    hardware.add_column("what")
    hardware.add_column("value")
    hardware.add_row("CPU", cpu_model())
    hardware.add_row("cores (os.cpu_count)", str(os.cpu_count()))
    hardware.add_row("cores usable (affinity)", str(len(os.sched_getaffinity(0))))
    hardware.add_row("torch threads", str(torch.get_num_threads()))
    hardware.add_row("memory", memory_gib())
    hardware.add_row("python / torch", f"{platform.python_version()} / {torch.__version__}")
    from rdkit import rdBase

    hardware.add_row("rdkit", rdBase.rdkitVersion)
    console.print(hardware)

    load_before = os.getloadavg()
    one_time: dict[str, tuple[float, float]] = {}
    say = console.log
    ref = timed(
        f"reference stats: first call ({first_call(cache, 'reference', args.reference)})",
        one_time,
        ReferenceStats.load_or_compute,
        args.reference,
        cache=cache,
        n_jobs=args.n_jobs,
        log=say,
    )
    ref = timed(
        "reference stats: second call (load from cache)",
        one_time,
        ReferenceStats.load_or_compute,
        args.reference,
        cache=cache,
        n_jobs=args.n_jobs,
    )
    train = None
    if not args.no_train:
        timed(
            f"training-set index: first call ({first_call(cache, 'train', args.train)})",
            one_time,
            TrainingSetIndex.load_or_compute,
            args.train,
            cache=cache,
            n_jobs=args.n_jobs,
            log=say,
        )
        train = timed(
            "training-set index: second call (load from cache)",
            one_time,
            TrainingSetIndex.load_or_compute,
            args.train,
            cache=cache,
            n_jobs=args.n_jobs,
        )

    pool = read_smiles_column(args.generated_from)
    generated = random.Random(args.seed).sample(pool, args.n)
    del pool
    say(f"scoring {len(generated):,} SMILES sampled from {args.generated_from.name}")
    start, start_cpu = time.perf_counter(), cpu_seconds()
    result = evaluate(generated, ref, train, n_jobs=args.n_jobs, log=say)
    total, total_cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    load_after = os.getloadavg()

    costs = Table(title=f"One-time costs (reference: {ref.n_molecules:,} molecules)")
    costs.add_column("step")
    costs.add_column("wall seconds", justify="right")
    costs.add_column("CPU seconds", justify="right")
    for label, (seconds, cpu) in one_time.items():
        costs.add_row(label, f"{seconds:.1f}", f"{cpu:.1f}")
    console.print(costs)

    stages = Table(title=f"Scoring {result.n_generated:,} SMILES with cached statistics")
    stages.add_column("stage (wall clock)")
    stages.add_column("seconds", justify="right")
    for label, seconds in result.timings.items():
        stages.add_row(label, f"{seconds:.1f}")
    stages.add_row("total", f"{total:.1f}", style="bold")
    console.print(stages)
    console.print(
        f"scoring used {total_cpu:.1f} CPU seconds in {total:.1f} s wall "
        f"({total_cpu / total:.2f} cores busy on average); load average (1/5/15 min) "
        f"before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
        f"after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} "
        "(above 2 means other processes competed for the 2 cores)"
    )

    features = Table(title="RDKit features inside 'featurize' (CPU seconds over all workers)")
    features.add_column("feature (metrics using it)")
    features.add_column("CPU seconds", justify="right")
    uses = {
        "parse": "valid, unique, Novelty, FCD input",
        "fingerprints": "SNN, IntDiv",
        "fragments": "Frag",
        "scaffolds": "Scaf",
        "properties": "logP, SA, QED, weight",
        "filters": "Filters",
    }
    for label, seconds in result.feature_seconds.items():
        features.add_row(f"{label} ({uses.get(label, '')})", f"{seconds:.1f}")
    console.print(features)

    console.print(metrics_table(result.metrics, title="Metrics (30k train sample vs test)"))
    compare = Table(title="Sanity check against the MOSES paper's 'Train' row")
    compare.add_column("metric")
    compare.add_column("molvae", justify="right")
    compare.add_column("MOSES paper", justify="right")
    compare.add_column("difference", justify="right")
    for key, published in MOSES_TRAIN_ROW.items():
        ours = result.metrics.get(key)
        if ours is None:
            continue
        compare.add_row(key, f"{ours:.4f}", f"{published:.3f}", f"{ours - published:+.4f}")
    console.print(compare)
    console.print(f"cache directory: {cache}")


if __name__ == "__main__":
    main()
