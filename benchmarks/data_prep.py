"""Data preparation for training: tokenizing a large file once, then loading it from the cache.

Runs ``molvae.training.prepare_data`` (read, canonicalize, SELFIES-tokenize, split) on a molecule
file (default: the 1.58M-molecule MOSES training split) into a fresh dataset cache, then again
from that cache, and prints wall and CPU seconds of both. No property targets unless
``--properties`` is given (RDKit's QED makes those far slower; they are cached the same way).
The issue's targets: the MOSES train split tokenized once in <= 5 min on 2 cores, the cache
loaded in seconds.

    python benchmarks/data_prep.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import time
from pathlib import Path

from molvae import chem
from molvae.runtime import cpu_model
from molvae.training.config import TrainConfig
from molvae.training.prepare import prepare_data

MOSES_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "moses" / "train.csv.gz"


def cpu_seconds() -> float:
    """CPU time of this process and its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=MOSES_TRAIN)
    parser.add_argument("--properties", default="", help="e.g. logP,QED (default: none)")
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    if not args.input.exists():
        raise SystemExit(f"input not found: {args.input} (pass --input FILE)")
    props = [p for p in args.properties.split(",") if p]
    cfg = TrainConfig(properties=props)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for label in ("first run (tokenize, write cache)", "second run (cache hit)"):
            start, cpu = time.perf_counter(), cpu_seconds()
            prep = prepare_data(args.input, cfg, cache=Path(cache))
            rows.append((label, time.perf_counter() - start, cpu_seconds() - cpu))
    print(f"## Data preparation ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores)\n")
    print(f"{args.input.name}: {prep.n_input_rows:,} rows -> {len(prep.train):,} train, "
          f"{len(prep.validation):,} validation, {len(prep.rejects):,} rejected; SELFIES, "
          f"properties: {', '.join(props) or 'none'}\n")
    print("| run | wall | CPU (all processes) |\n|---|---|---|")
    for label, wall, cpu in rows:
        print(f"| {label} | {wall:.1f} s | {cpu:.1f} s |")


if __name__ == "__main__":
    main()
