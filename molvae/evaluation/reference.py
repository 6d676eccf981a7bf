"""Precomputed statistics of a reference (test) set and of a training set, cached on disk.

Scoring generated molecules against the 176,074-molecule MOSES test set needs, for the test set,
ChemNet activations (minutes of CPU), fingerprints, BRICS fragments, scaffolds and properties.
None of that depends on the generated molecules, so :class:`ReferenceStats` computes it once and
caches it in ``$MOLVAE_CACHE_DIR`` (default ``~/.cache/molvae``) under the SHA-256 of the
reference *file's bytes*: editing the file changes the key and triggers a recomputation, while
renaming or moving it does not. Likewise :class:`TrainingSetIndex` caches the canonical SMILES
of a training set (1.6 million for MOSES) for Novelty.

Each cache entry is a ``.npz`` (arrays; read with ``allow_pickle=False``, so loading a cache file
can never execute code) plus a ``.json`` (provenance and settings), never a pickle. The JSON is
written last and acts as the completion marker; an entry written by another format version,
other fingerprint settings or another RDKit version (whose canonical SMILES, and so fragment and
scaffold keys, may differ) is recomputed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from molvae.data.cache import cache_dir, cached_entry, read_cache_entry, versions, write_cache_entry
from molvae.data.tables import read_molecules
from molvae.errors import MolvaeError
from molvae.evaluation import moses_chem
from molvae.evaluation.chemnet import CHEMNET_DIM, fcd_statistics
from molvae.runtime import Log, emit, file_sha256

_REFERENCE_FORMAT = "molvae-reference-stats"


_FORMAT_VERSION = 1




def _settings() -> dict[str, Any]:
    """What the cached numbers depend on besides the molecules: a mismatch forces recomputation."""
    return {
        "format_version": _FORMAT_VERSION,
        "fingerprint": {
            "type": "morgan",
            "radius": moses_chem.FINGERPRINT_RADIUS,
            "bits": moses_chem.FINGERPRINT_BITS,
        },
        "min_scaffold_rings": moses_chem.MIN_SCAFFOLD_RINGS,
        "properties": list(moses_chem.PROPERTY_NAMES),
        "rdkit": versions()["rdkit"],
    }


def _counter_arrays(counts: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(counts)
    return np.array(keys, dtype=str), np.array([counts[k] for k in keys], dtype=np.int64)


def _counts_from_arrays(keys: np.ndarray, counts: np.ndarray) -> dict[str, int]:
    return dict(zip(keys.tolist(), counts.tolist(), strict=True))


@dataclass(frozen=True, eq=False)
class ReferenceStats:
    """Everything MOSES needs to know about a reference set to score generated molecules.

    Computed on the reference's *valid* molecules (an invalid reference SMILES is dropped;
    MOSES assumes there are none): ``fcd_mu``/``fcd_sigma`` are the mean and covariance of the
    ChemNet activations of their canonical SMILES (NaN if fewer than two); ``fingerprints`` are
    packed Morgan bits (radius 2, 1024 bits, one row per molecule) for SNN; ``fragments`` and
    ``scaffolds`` count BRICS fragments and Bemis-Murcko scaffolds (>= 2 rings) for Frag and Scaf;
    ``properties`` holds logP, SA, QED and weight per molecule for the Wasserstein distances.
    """

    fcd_mu: np.ndarray
    fcd_sigma: np.ndarray
    fingerprints: np.ndarray
    fragments: Mapping[str, int]
    scaffolds: Mapping[str, int]
    properties: np.ndarray
    n_input: int
    source: str | None = None
    source_sha256: str | None = None

    @property
    def n_molecules(self) -> int:
        """Number of valid reference molecules the statistics were computed on."""
        return len(self.fingerprints)

    def property_values(self, name: str) -> np.ndarray:
        """Reference values of one of ``PROPERTY_NAMES`` (``logP``, ``SA``, ``QED``, ``weight``)."""
        return self.properties[:, moses_chem.PROPERTY_NAMES.index(name)]

    @classmethod
    def compute(
        cls,
        smiles: Sequence[str],
        *,
        n_jobs: int | None = None,
        source: str | None = None,
        source_sha256: str | None = None,
        log: Log | None = None,
    ) -> ReferenceStats:
        """Compute the statistics of a list of reference SMILES (no caching).

        RDKit work runs in ``n_jobs`` worker processes (default: all CPUs available); ChemNet
        runs with torch's threads. ``log`` receives one line per stage.
        """
        smiles = list(smiles)
        emit(log, f"reference: featurizing {len(smiles):,} SMILES")
        features = moses_chem.featurize(
            smiles, reparse_canonical=False, with_filters=False, n_jobs=n_jobs
        )
        if features.n_valid == 0:
            raise MolvaeError("the reference set has no valid SMILES")
        emit(log, f"reference: ChemNet activations of {features.n_valid:,} molecules")
        mu, sigma = fcd_statistics(features.valid_canonical)
        return cls(
            fcd_mu=mu,
            fcd_sigma=sigma,
            fingerprints=features.fingerprints,
            fragments=dict(features.fragments),
            scaffolds=dict(features.scaffolds),
            properties=features.properties,
            n_input=len(smiles),
            source=source,
            source_sha256=source_sha256,
        )

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
    ) -> ReferenceStats:
        """Statistics of the reference file at ``path``, from the cache when it has them.

        The file is any format :func:`molvae.data.tables.read_molecules` reads (the MOSES
        ``test.csv.gz`` included). The cache key is the SHA-256 of the file; ``cache`` overrides
        the cache directory; ``recompute=True`` ignores (and overwrites) a cached entry.
        """
        sha = file_sha256(path)

        def build() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
            emit(log, f"reference: reading {path}")
            table = read_molecules(
                path, smiles_column=smiles_column, canonicalize=False, workers=n_jobs
            )
            emit(log, f"reference: {table.describe()}")
            stats = cls.compute(
                table.records["smiles"].tolist(),
                n_jobs=n_jobs,
                source=str(path),
                source_sha256=sha,
                log=log,
            )
            # Rows the file reader rejected as invalid count as reference input too.
            return replace(stats, n_input=table.n_rows)._entry()

        arrays, meta = cached_entry(
            cache_dir(cache) / f"reference-{sha}",
            {"format": _REFERENCE_FORMAT, "settings": _settings(), "source_sha256": sha},
            build,
            what="statistics",
            emit=lambda message: emit(log, f"reference: {message}"),
            recompute=recompute,
            accept=lambda arrays: cls._consistent(arrays),
        )
        return cls._from_entry(arrays, meta)

    def _entry(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The arrays and metadata of a cache entry for these statistics."""
        frag_keys, frag_counts = _counter_arrays(self.fragments)
        scaf_keys, scaf_counts = _counter_arrays(self.scaffolds)
        arrays = {
            "fcd_mu": np.asarray(self.fcd_mu, dtype=np.float64),
            "fcd_sigma": np.asarray(self.fcd_sigma, dtype=np.float64),
            "fingerprints": np.asarray(self.fingerprints, dtype=np.uint8),
            "fragment_smiles": frag_keys,
            "fragment_counts": frag_counts,
            "scaffold_smiles": scaf_keys,
            "scaffold_counts": scaf_counts,
            "properties": np.asarray(self.properties, dtype=np.float64),
        }
        meta = {
            "format": _REFERENCE_FORMAT,
            "settings": _settings(),
            "versions": versions(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": self.source,
            "source_sha256": self.source_sha256,
            "n_input": self.n_input,
            "n_molecules": self.n_molecules,
            "property_columns": list(moses_chem.PROPERTY_NAMES),
        }
        return arrays, meta

    def save(self, stem: str | os.PathLike[str]) -> None:
        """Write ``<stem>.npz`` and ``<stem>.json`` (atomically, JSON last)."""
        write_cache_entry(Path(stem), *self._entry())

    @classmethod
    def load(cls, stem: str | os.PathLike[str]) -> ReferenceStats:
        """Read statistics written by :meth:`save`; ``MolvaeError`` if missing or unusable."""
        try:
            arrays, meta = read_cache_entry(Path(stem))
            if (
                meta.get("format") == _REFERENCE_FORMAT
                and meta.get("settings") == _settings()
                and cls._consistent(arrays)
            ):
                return cls._from_entry(arrays, meta)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        raise MolvaeError(f"no usable reference statistics at {stem}.npz/.json")

    @staticmethod
    def _consistent(arrays: dict[str, np.ndarray]) -> bool:
        """Whether cached arrays have the shapes these statistics need."""
        n = len(arrays["fingerprints"])
        return (
            arrays["fcd_mu"].shape == (CHEMNET_DIM,)
            and arrays["fcd_sigma"].shape == (CHEMNET_DIM, CHEMNET_DIM)
            and arrays["fingerprints"].shape == (n, moses_chem.FINGERPRINT_BITS // 8)
            and arrays["properties"].shape == (n, len(moses_chem.PROPERTY_NAMES))
        )

    @classmethod
    def _from_entry(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> ReferenceStats:
        return cls(
            fcd_mu=arrays["fcd_mu"],
            fcd_sigma=arrays["fcd_sigma"],
            fingerprints=arrays["fingerprints"],
            fragments=_counts_from_arrays(arrays["fragment_smiles"], arrays["fragment_counts"]),
            scaffolds=_counts_from_arrays(arrays["scaffold_smiles"], arrays["scaffold_counts"]),
            properties=arrays["properties"],
            n_input=int(meta["n_input"]),
            source=meta.get("source"),
            source_sha256=meta.get("source_sha256"),
        )
