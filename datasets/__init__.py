"""Small data files shipped with molvae (installed as the import package ``molvae_datasets``).

They let tutorials, tests and a first training run work offline in seconds: seeded samples of the
MOSES splits and a deliberately messy file for the row-accounting tests. Provenance is in
``README.md`` beside this file; the full data sets are fetched with ``molvae datasets download``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from molvae.errors import MolvaeError

__all__ = ["SAMPLES", "available", "sample_path"]

# File name -> what it holds.
SAMPLES: dict[str, str] = {
    "moses_sample.csv": "2,000 molecules sampled from the MOSES training split (column SMILES)",
    "moses_test_sample.csv": "1,000 molecules sampled from the MOSES test split (column SMILES)",
    "moses_train_30k.csv.gz": "30,000 molecules sampled from the MOSES training split, for the "
    "training quick start (column SMILES)",
    "bad_rows.csv": "13 messy rows: blanks, invalid SMILES, salts, a long chain (smiles,pIC50)",
    "common_drugs.csv": "33 common drugs by name, isomeric SMILES (name,smiles)",
    "zinc_sample.csv": "2,000 molecules sampled from the ZINC-250k training split of the zinc "
    "model, isomeric SMILES with stereo marks and charges (column SMILES)",
    "zinc_test_sample.csv": "1,000 molecules sampled from the ZINC-250k held-out test split "
    "(column SMILES)",
}


def available() -> list[str]:
    """Names of the shipped data files."""
    return list(SAMPLES)


def sample_path(name: str) -> Path:
    """Path of a shipped data file; ``name`` may omit the ``.csv`` (or ``.csv.gz``) extension.

    Anything else is a ``MolvaeError`` listing the available names.
    """
    filename = next(
        (f for f in (name, f"{name}.csv", f"{name}.csv.gz") if f in SAMPLES), f"{name}.csv"
    )
    if filename not in SAMPLES:
        raise MolvaeError(f"no shipped data file {name!r}; available: {', '.join(SAMPLES)}")
    # The package is installed as plain files (never zipped), so the resource is a real path.
    return Path(str(files(__name__).joinpath(filename)))
