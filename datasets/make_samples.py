"""Maintainer script: rebuild the MOSES samples shipped in this folder.

Not run-time code (molvae never runs it): it reads the full MOSES splits from the workspace's
shared data folder and writes seeded random samples, so the shipped files can be regenerated
exactly and checked. Usage, from the repository root::

    python datasets/make_samples.py [--source-dir ../shared/datasets/moses]

Rows are drawn without replacement with ``numpy.random.default_rng(SEED)`` and written in their
original file order, one canonical SMILES per line under the header ``SMILES``. ``.gz`` outputs
are gzip files without a name or time stamp in their header, so they too are byte-reproducible.
The samples of the training split must share no molecule with the test-split sample (checked).
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20200101
QUICKSTART_NAME = "moses_train_30k.csv.gz"
QUICKSTART_SIZE = 30_000
HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "datasets" / "moses"

# output file -> (MOSES split file, number of molecules)
SAMPLES: dict[str, tuple[str, int]] = {
    "moses_sample.csv": ("train.csv.gz", 2_000),
    "moses_test_sample.csv": ("test.csv.gz", 1_000),
    # The training quick start (configs/quickstart.toml): enough molecules to learn from.
    QUICKSTART_NAME: ("train.csv.gz", QUICKSTART_SIZE),
}


def sample_split(source: Path, size: int, seed: int = SEED) -> pd.DataFrame:
    """``size`` rows of a MOSES split drawn with ``seed``, kept in their original order."""
    frame = pd.read_csv(source, dtype={"SMILES": str})
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(frame), size=size, replace=False))
    return frame.iloc[picked][["SMILES"]]


def write_sample(sample: pd.DataFrame, path: Path) -> None:
    """Write ``sample`` as CSV; gzip without file name or time stamp when ``path`` ends .gz."""
    text = sample.to_csv(index=False, lineterminator="\n").encode()
    if path.suffix == ".gz":
        with open(path, "wb") as raw, gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9
        ) as fh:
            fh.write(text)
    else:
        path.write_bytes(text)


def main() -> None:
    """Write every sample in ``SAMPLES`` next to this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args()
    written: dict[str, pd.DataFrame] = {}
    for out_name, (split_file, size) in SAMPLES.items():
        sample = sample_split(args.source_dir / split_file, size)
        write_sample(sample, HERE / out_name)
        written[out_name] = sample
        print(f"wrote {HERE / out_name}: {len(sample)} molecules from {split_file} (seed {SEED})")
    test = set(written["moses_test_sample.csv"]["SMILES"])
    for out_name, (split_file, _) in SAMPLES.items():
        shared = test & set(written[out_name]["SMILES"]) if split_file == "train.csv.gz" else set()
        if shared:
            raise SystemExit(f"{out_name} shares {len(shared)} molecules with the test sample")


if __name__ == "__main__":
    main()
