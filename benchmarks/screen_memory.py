"""Peak memory of ``molvae screen`` on a large input (default: 1,000,000 MOSES molecules).

The issue's target is peak memory below 1 GB while screening 1,000,000 molecules: the input is
streamed in chunks, rejects are streamed to a CSV, and only what the final ranking needs stays
in memory (the deduplication keys and the candidate pool). The screen here is the default one
without the RDKit steps whose cost, not memory, dominates (structural alerts, QED/SA and the
other optional properties, the score), so a million rows finish in minutes on 2 cores; memory
per kept row is the same with them on. Pass ``--full`` to screen with the default config.

    python benchmarks/screen_memory.py --n 1000000
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import datetime
from pathlib import Path

from molvae import chem
from molvae.runtime import cpu_model
from molvae.screening import ScreenConfig, screen_file

MOSES_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "moses" / "train.csv.gz"


def peak_rss_mib() -> tuple[float, float]:
    """Peak resident memory (MiB) of this process and of its largest finished child."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="rows to screen")
    parser.add_argument("--input", type=Path, default=MOSES_TRAIN)
    parser.add_argument("--top", type=int, default=0, help="keep the best N (0: keep all)")
    parser.add_argument("--full", action="store_true", help="the full default pipeline")
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    if not args.input.exists():
        raise SystemExit(f"input not found: {args.input} (pass --input FILE)")
    config = ScreenConfig()
    if not args.full:
        config.alerts.catalogs = []
        config.properties.enabled = False
        config.score.enabled = False
    config.selection.top = args.top
    config.validate()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = screen_file(
            args.input, config, rejects_path=Path(tmp) / "rejects.csv", max_rows=args.n
        )
        elapsed = time.perf_counter() - start
        rejected = sum(result.counts.values()) - len(result.shortlist)
    main_mib, child_mib = peak_rss_mib()
    total = sum(result.counts.values())
    print(f"## Screening memory ({datetime.now():%Y-%m-%d}, {cpu_model()}, "
          f"{os.cpu_count()} cores)\n")
    pipeline = "full default pipeline" if args.full else (
        "default pipeline without alerts, optional properties and score"
    )
    print(f"Input: first {total:,} rows of {args.input.name}; {pipeline}; "
          f"top={args.top or 'all'}\n")
    print("| measurement | result | target |\n|---|---|---|")
    print(f"| rows accounted for | {total:,} ({len(result.shortlist):,} shortlisted, "
          f"{rejected:,} rejected) | every row |")
    print(f"| wall time | {elapsed:.0f} s ({total / elapsed:,.0f} rows/s) | |")
    print(f"| peak RSS, main process | {main_mib:,.0f} MiB | < 1 GB |")
    print(f"| peak RSS, largest worker | {child_mib:,.0f} MiB | |")
    print("\nOutcomes: " + ", ".join(f"{k} {v:,}" for k, v in result.counts.items() if v))


if __name__ == "__main__":
    main()
