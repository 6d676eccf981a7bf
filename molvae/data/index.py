"""Training-set indexes: 64-bit hashes of canonical SMILES, for novelty checks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from molvae import chem
from molvae.data.cache import cache_dir, cached_entry, smiles_hashes, versions
from molvae.data.tables import read_molecules
from molvae.errors import MolvaeError
from molvae.runtime import Log, emit, file_sha256

TRAINING_INDEX = "training_set.safetensors"
_FORMAT = "molvae-training-set-index"
_FORMAT_VERSION = 1


def save_training_set_index(smiles: Sequence[str], path: str | Path) -> Path:
    """Write the 64-bit hashes of (canonical) training SMILES, for ``--novel`` checks.

    The model directory stays small (8 bytes a molecule) and never holds the training data.
    """
    from safetensors.numpy import save_file

    path = Path(path)
    save_file({"hashes": np.unique(smiles_hashes(list(smiles)))}, str(path))
    return path


def training_set_index(model_dir: Path | None) -> TrainingSetIndex | None:
    """A model's training-set index if one ships with it, else None.

    Looked up beside the weights, then in the run directory that holds the model.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if model_dir is None:
        return None
    for candidate in (model_dir / TRAINING_INDEX, model_dir.parent / TRAINING_INDEX):
        if candidate.is_file():
            try:
                hashes = load_file(str(candidate))["hashes"]
            except (SafetensorError, KeyError, OSError) as exc:
                raise MolvaeError(f"{candidate}: unreadable training-set index ({exc})") from None
            return TrainingSetIndex(hashes=hashes, n_input=len(hashes), source=str(candidate))
    return None


@dataclass(frozen=True, eq=False)
class TrainingSetIndex:
    """The set of canonical SMILES of a training set, as sorted 64-bit hashes, for Novelty.

    MOSES compares generated canonical SMILES with the training SMILES *as given*, assuming the
    training file is canonical. We canonicalize the training set with the same RDKit as the
    generated molecules instead, so a training file written by another tool (or another RDKit
    version: 0.06% of the MOSES SMILES are spelled differently by RDKit 2026) cannot make a
    known molecule look novel.
    """

    hashes: np.ndarray  # sorted unique uint64
    n_input: int
    source: str | None = None
    source_sha256: str | None = None

    def __len__(self) -> int:
        return len(self.hashes)

    def contains(self, canonical_smiles: Sequence[str]) -> np.ndarray:
        """Boolean array: is each (canonical) SMILES in the training set?"""
        if len(canonical_smiles) == 0 or len(self.hashes) == 0:
            return np.zeros(len(canonical_smiles), dtype=bool)
        query = smiles_hashes(canonical_smiles)
        pos = np.searchsorted(self.hashes, query).clip(max=len(self.hashes) - 1)
        return self.hashes[pos] == query

    @classmethod
    def compute(
        cls,
        smiles: Sequence[str],
        *,
        n_jobs: int | None = None,
        source: str | None = None,
        source_sha256: str | None = None,
    ) -> TrainingSetIndex:
        """Canonicalize and hash a list of training SMILES (invalid ones are ignored)."""
        canonical = [s for s in chem.canonicalize(smiles, n_jobs=n_jobs) if s is not None]
        return cls._from_canonical(canonical, len(smiles), source, source_sha256)

    @classmethod
    def _from_canonical(
        cls, canonical: Sequence[str], n_input: int, source: str | None, sha: str | None
    ) -> TrainingSetIndex:
        return cls(np.unique(smiles_hashes(canonical)), n_input, source, sha)

    @classmethod
    def load_or_compute(
        cls,
        path: str | os.PathLike[str],
        *,
        cache: str | os.PathLike[str] | None = None,
        n_jobs: int | None = None,
        smiles_column: str | None = None,
        recompute: bool = False,
        log: Log | None = None,
    ) -> TrainingSetIndex:
        """The index of the training file at ``path``, cached like :class:`ReferenceStats`."""
        sha = file_sha256(path)

        def build() -> tuple[dict[str, np.ndarray], dict[str, Any]]:

            emit(log, f"train: reading and canonicalizing {path}")
            table = read_molecules(
                path, smiles_column=smiles_column, canonicalize=True, workers=n_jobs
            )
            index = cls._from_canonical(
                table.records["canonical"].tolist(), table.n_rows, str(path), sha
            )
            meta = {
                "versions": versions(),
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "source": index.source,
                "n_input": index.n_input,
                "n_unique": len(index),
            }
            return {"hashes": index.hashes}, meta

        arrays, meta = cached_entry(
            cache_dir(cache) / f"train-{sha}",
            {
                "format": _FORMAT,
                "settings": {"format_version": _FORMAT_VERSION, "rdkit": versions()["rdkit"]},
                "source_sha256": sha,
            },
            build,
            what="index",
            emit=lambda message: emit(log, f"train: {message}"),
            recompute=recompute,
            accept=lambda arrays: arrays["hashes"].dtype == np.uint64,
        )
        return cls(arrays["hashes"], int(meta["n_input"]), meta.get("source"), sha)
