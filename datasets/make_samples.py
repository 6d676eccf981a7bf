"""Maintainer script: rebuild the MOSES samples shipped in this folder.

Not run-time code (molvae never runs it): it reads the full MOSES splits from the workspace's
shared data folder and writes seeded random samples, so the shipped files can be regenerated
exactly and checked. Usage, from the repository root::

    python datasets/make_samples.py [--source-dir ../shared/datasets/moses]

Rows are drawn without replacement with ``numpy.random.default_rng(SEED)`` and written in their
original file order, one canonical SMILES per line under the header ``SMILES``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20200101
HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "datasets" / "moses"

# output file -> (MOSES split file, number of molecules)
SAMPLES: dict[str, tuple[str, int]] = {
    "moses_sample.csv": ("train.csv.gz", 2_000),
    "moses_test_sample.csv": ("test.csv.gz", 1_000),
}


def sample_split(source: Path, size: int, seed: int = SEED) -> pd.DataFrame:
    """``size`` rows of a MOSES split drawn with ``seed``, kept in their original order."""
    frame = pd.read_csv(source, dtype={"SMILES": str})
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(frame), size=size, replace=False))
    return frame.iloc[picked][["SMILES"]]


def main() -> None:
    """Write every sample in ``SAMPLES`` next to this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args()
    for out_name, (split_file, size) in SAMPLES.items():
        sample = sample_split(args.source_dir / split_file, size)
        sample.to_csv(HERE / out_name, index=False, lineterminator="\n")
        print(f"wrote {HERE / out_name}: {len(sample)} molecules from {split_file} (seed {SEED})")


if __name__ == "__main__":
    main()
