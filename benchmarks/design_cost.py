"""What one `molvae design` run costs: wall time without the oracle, CPU, peak memory.

Issue 23's cost target is a 10,000-call run in at most 10 minutes on 2 CPU cores, oracle time
excluded, in under 4 GB. This runs ``molvae.design`` on a PMO task (``benchmarks/pmo.py``'s
oracles; ``median1`` by default, whose oracle is cheap) from a fresh record, times the oracle
separately, and prints one table row per run. Run it on an otherwise idle machine: the wall time
is only meaningful then. ``--profile`` adds the functions of the main process that took the
most time (cProfile, cumulative), which is where to look before optimizing.

    python benchmarks/design_cost.py --task median1 --design tune_every=10
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pmo  # noqa: E402  (the benchmark's oracles and --design parsing)
from pmo_protocol import CountingOracle  # noqa: E402  (times the oracle apart)

import molvae  # noqa: E402
from molvae.runtime import cpu_model  # noqa: E402
from molvae.settings import DesignSettings  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="median1", help="a PMO task (benchmarks/pmo.py)")
    p.add_argument("--budget", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default=None, help="bundled model name or directory")
    p.add_argument("--design", action="append", default=[], metavar="KEY=VALUE",
                   help="a DesignSettings field (repeatable); the rest are the defaults")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads of the main process (default: torch's choice)")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="print the N functions with the most cumulative time")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    objectives = pmo.guacamol_objectives()
    if args.task not in objectives:
        raise SystemExit(f"error: unknown task {args.task!r}; one of {', '.join(pmo.TASKS)}")
    fields = pmo.parse_design(args.design)
    settings = DesignSettings(**fields)
    oracle = CountingOracle(pmo.task_scorer(objectives[args.task]), budget=args.budget)
    profiler = cProfile.Profile() if args.profile else None
    with tempfile.TemporaryDirectory() as tmp:
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        result = molvae.design(oracle, budget=args.budget, model=args.model, seed=args.seed,
                               record=Path(tmp) / "calls.csv", settings=settings)
        if profiler is not None:
            profiler.disable()
        wall = time.perf_counter() - t0
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    main_cpu = pmo.cpu_seconds(self1) - pmo.cpu_seconds(self0)
    workers_cpu = pmo.cpu_seconds(children1) - pmo.cpu_seconds(children0)
    scores = result.calls["score"].astype(float).fillna(0.0).to_numpy()
    top10 = float(np.sort(scores)[::-1][:10].mean()) if len(scores) else float("nan")
    print(f"## design cost ({dt.date.today()}, {cpu_model()}, torch {torch.__version__}, "
          f"torch threads {torch.get_num_threads()})\n")
    print(f"Task `{args.task}`, budget {args.budget:,}, seed {args.seed}, model "
          f"`{args.model or 'default'}`, settings changed from the defaults: "
          f"{fields or 'none'}.\n")
    print("| calls | wall s | oracle wall s | wall s without the oracle | main CPU s | "
          "workers' CPU s | peak RSS MB (main) | peak RSS MB (largest worker) | top-10 mean |")
    print("|---|---|---|---|---|---|---|---|---|")
    in_oracle = oracle.oracle_seconds
    print(f"| {result.n_calls:,} | {wall:.0f} | {in_oracle:.0f} | {wall - in_oracle:.0f} | "
          f"{main_cpu:.0f} | {workers_cpu:.0f} | {self1.ru_maxrss / 1024:.0f} | "
          f"{children1.ru_maxrss / 1024:.0f} | {top10:.3f} |")
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.profile)
        print("\n```\n" + out.getvalue().strip() + "\n```")


if __name__ == "__main__":
    main()
