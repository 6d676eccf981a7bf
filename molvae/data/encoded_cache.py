"""A user-level cache of tokenized training sets and their property targets.

Reading, canonicalizing and tokenizing the 1.6M molecules of MOSES takes minutes and RDKit's QED
for all of them tens of minutes, yet none of it depends on the run: the result is a function of
the data file's bytes and a few settings. So ``prepare_data`` stores it once, in the same user
cache directory as the evaluation statistics (``$MOLVAE_CACHE_DIR``, else ``~/.cache/molvae``),
and every later run, resumed run or DDP rank on this machine opens it in seconds.

An entry is a directory ``datasets/<file sha256[:16]>-<settings digest[:16]>/`` holding::

    manifest.json       settings (the key), counts, vocabulary; written last = complete
    ids.npy             flat int16 token ids, each molecule followed by eos
    offsets.npy         (n + 1,) int64 start of each molecule in ids
    rows.npy            (n,) int64 input row of each molecule
    smiles.txt          canonical SMILES, one a line
    rejects.csv         row, smiles, reason of every input row that was not encoded
    properties/*.npy    (n,) float32 per RDKit property or data column, added as they are needed

Arrays are plain ``.npy`` files opened with ``np.load(mmap_mode="r")`` (never pickled), so
ranks on one machine share one copy in the page cache. The key holds everything that changes
the result: the file's sha256, SMILES column, standardization, the ``max_molecules`` subset and
its seed, representation, ``max_length``, a given (fine-tuning) vocabulary, and the molvae,
RDKit and SELFIES versions. Changing any of them makes a new entry; an entry that fails its
checks is rebuilt. Entries are written to a temporary directory and renamed into place, so
concurrent writers (several nodes sharing a cache) never see half an entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molvae.data.cache import cache_dir, versions
from molvae.data.encoding import EncodedDataset
from molvae.runtime import atomic_write, default_dir_mode
from molvae.tokens import Vocabulary

__all__ = [
    "CACHE_FORMAT",
    "CachedDataset",
    "cache_root",
    "cache_settings",
    "create_entry",
    "open_entry",
]

CACHE_FORMAT = "molvae-encoded-dataset"
FORMAT_VERSION = 1
_ARRAYS = ("ids", "offsets", "rows")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.+-]{1,64}")


def cache_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Where entries live: ``root``, else ``datasets/`` in the molvae user cache directory."""
    if root is not None:
        return Path(root)
    # The evaluation cache's helper: one user cache directory and one environment variable.

    return cache_dir() / "datasets"


def cache_settings(
    data_sha256: str,
    *,
    smiles_column: str | None,
    standardize: bool,
    max_molecules: int | None,
    seed: int,
    representation: str,
    max_length: int,
    vocabulary: Vocabulary | None,
) -> dict[str, Any]:
    """The key of an entry: everything the encoded dataset depends on besides the file name.

    The seed only matters when ``max_molecules`` draws a subset, so it is left out otherwise
    (runs that differ only by seed share the tokenization).
    """
    return {
        "format": CACHE_FORMAT,
        "format_version": FORMAT_VERSION,
        "data_sha256": data_sha256,
        "smiles_column": smiles_column,
        "standardize": bool(standardize),
        "max_molecules": max_molecules,
        "subset_seed": seed if max_molecules is not None else None,
        "representation": representation,
        "max_length": int(max_length),
        "vocabulary": None if vocabulary is None else list(vocabulary.tokens),
        "versions": versions(),
    }


def _entry_dir(settings: dict[str, Any], root: Path) -> Path:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    return root / f"{settings['data_sha256'][:16]}-{digest[:16]}"


def _property_file(key: str) -> str:
    # Data column names are arbitrary text: a digest keeps them out of the file system's way.
    if _SAFE_NAME.fullmatch(key):
        return f"{key}.npy"
    return f"h-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npy"


@dataclass
class CachedDataset:
    """An encoded dataset as cached: memory-mapped arrays plus what the report needs."""

    directory: Path | None  # None when the cache could not be written (kept in memory only)
    dataset: EncodedDataset
    vocabulary: Vocabulary
    rejects: pd.DataFrame
    n_input_rows: int
    n_unused: int

    def load_property(self, key: str) -> np.ndarray | None:
        """Cached values (float32, one per molecule) under ``key``, or None if not cached."""
        if self.directory is None:
            return None
        path = self.directory / "properties" / _property_file(key)
        try:
            values = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return None
        if values.dtype != np.float32 or values.shape != (len(self.dataset),):
            return None
        return np.asarray(values)

    def store_property(self, key: str, values: np.ndarray) -> None:
        """Add per-molecule values under ``key`` (atomically; failures only lose the cache)."""
        if self.directory is None:
            return
        values = np.ascontiguousarray(values, dtype=np.float32)
        with contextlib.suppress(OSError):
            _atomic_save(self.directory / "properties" / _property_file(key), values)


def _atomic_save(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda handle: np.save(handle, array, allow_pickle=False))


def open_entry(settings: dict[str, Any], root: str | os.PathLike[str] | None = None):
    """The cached entry for ``settings`` (a ``CachedDataset``), or None if absent or unusable."""
    directory = _entry_dir(settings, cache_root(root))
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("settings") != settings:
            return None
        arrays = {
            name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            for name in _ARRAYS
        }
        smiles = (directory / "smiles.txt").read_text(encoding="utf-8").split("\n")[:-1]
        rejects = pd.read_csv(
            directory / "rejects.csv",
            dtype={"row": np.int64, "smiles": object, "reason": object},
            keep_default_na=False,
        )
        vocabulary = Vocabulary.from_dict(manifest["vocabulary"])
        n = int(manifest["n_molecules"])
        offsets = arrays["offsets"]
        consistent = (
            offsets.shape == (n + 1,)
            and arrays["rows"].shape == (n,)
            and len(smiles) == n
            and arrays["ids"].dtype == np.int16
            and arrays["ids"].shape == (int(offsets[-1]),)
            and len(rejects) == int(manifest["n_rejects"])
            and list(rejects.columns) == ["row", "smiles", "reason"]
        )
        if not consistent:
            return None
    except (OSError, ValueError, KeyError, TypeError, pd.errors.ParserError):
        return None
    dataset = EncodedDataset(arrays["ids"], offsets, arrays["rows"], smiles)
    return CachedDataset(
        directory,
        dataset,
        vocabulary,
        rejects,
        int(manifest["n_input_rows"]),
        int(manifest["n_unused"]),
    )


def create_entry(
    settings: dict[str, Any],
    dataset: EncodedDataset,
    vocabulary: Vocabulary,
    rejects: pd.DataFrame,
    n_input_rows: int,
    n_unused: int,
    root: str | os.PathLike[str] | None = None,
    source: str | None = None,
) -> CachedDataset:
    """Write an entry and return it opened from disk (in memory only if the disk refuses).

    A cache that cannot be written (read-only home, full disk) must not stop training, so an
    ``OSError`` gives an entry without a directory: nothing is reused next time, that is all.
    """
    in_memory = CachedDataset(None, dataset, vocabulary, rejects, n_input_rows, n_unused)
    base = cache_root(root)
    final = _entry_dir(settings, base)
    try:
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=base, prefix=f".{final.name}."))
        os.chmod(tmp, default_dir_mode())  # a team shares the cache: not mkdtemp's 0700
    except OSError:
        return in_memory
    try:
        np.save(tmp / "ids.npy", np.ascontiguousarray(dataset.ids, dtype=np.int16))
        np.save(tmp / "offsets.npy", np.ascontiguousarray(dataset.offsets, dtype=np.int64))
        np.save(tmp / "rows.npy", np.ascontiguousarray(dataset.rows, dtype=np.int64))
        text = "".join(s + "\n" for s in dataset.smiles)
        (tmp / "smiles.txt").write_text(text, encoding="utf-8")
        rejects[["row", "smiles", "reason"]].to_csv(tmp / "rejects.csv", index=False)
        manifest = {
            "settings": settings,
            "source": source,
            "n_input_rows": int(n_input_rows),
            "n_unused": int(n_unused),
            "n_molecules": len(dataset),
            "n_rejects": len(rejects),
            "vocabulary": vocabulary.to_dict(),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        if final.exists() and open_entry(settings, base) is None:
            shutil.rmtree(final, ignore_errors=True)  # unusable: replace it
        os.replace(tmp, final)
    except OSError:
        # Also where another process renamed the same entry into place first: use theirs.
        shutil.rmtree(tmp, ignore_errors=True)
    return open_entry(settings, base) or in_memory
