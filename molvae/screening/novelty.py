"""Novelty against reference sets: exact matches and nearest neighbours, indexed once and cached.

Exact matches use :class:`molvae.evaluation.TrainingSetIndex` (hashes of canonical SMILES; its
cache is shared with ``molvae evaluate``). Nearest neighbours use Morgan fingerprints stored as
lists of set bits: a drug-like molecule sets about 40 of 2048 bits, so the 1.58 million MOSES
training molecules take ~130 MB this way instead of ~400 MB as packed bits. The intersection
counts ``|A & B|`` of a block of reference molecules with every query are one sparse x dense
matrix product (a matrix popcount), and Tanimoto is ``|A & B| / (|A| + |B| - |A & B|)``; on one
busy core that is about 70 million pairs per second, so the nearest neighbours of 1,000
molecules among 1.58 million take about half a minute, with no Python loop over pairs.

Reference fingerprints and canonical SMILES are cached as ``.npz`` (read with
``allow_pickle=False``) + ``.json`` under the cache directory, keyed by the SHA-256 of the
file's bytes and the fingerprint settings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from molvae import chem
from molvae.data.cache import cache_dir, cached_entry
from molvae.data.index import TrainingSetIndex
from molvae.data.tables import iter_molecule_chunks
from molvae.errors import file_not_found
from molvae.runtime import Log, emit, file_sha256, map_chunks

__all__ = ["ReferenceFingerprints", "SparseFingerprints", "nearest_tanimoto"]


_FORMAT = "molvae-screen-reference-fingerprints"
_FORMAT_VERSION = 2
# Reference rows x queries per block: bounds each float32 temporary to ~32 MB.
_BLOCK_CELLS = 1 << 23
_QUERY_BLOCK = 4096


@dataclass(frozen=True, eq=False)
class SparseFingerprints:
    """Bit fingerprints as lists of set bits: row ``i`` is ``on_bits[offsets[i]:offsets[i+1]]``."""

    on_bits: np.ndarray  # uint16 bit indices
    offsets: np.ndarray  # int64, one more than the number of rows
    n_bits: int

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_lists(cls, lists: Sequence[np.ndarray], n_bits: int) -> SparseFingerprints:
        """Stack per-molecule arrays of set-bit indices."""
        lengths = np.fromiter((len(b) for b in lists), dtype=np.int64, count=len(lists))
        on_bits = np.concatenate(lists) if len(lists) else np.zeros(0)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        return cls(on_bits.astype(np.uint16), offsets.astype(np.int64), n_bits)

    @classmethod
    def from_mols(cls, mols: Iterable, radius: int = 2, n_bits: int = 2048) -> SparseFingerprints:
        """Morgan fingerprints of RDKit molecules (see :func:`molvae.chem.morgan_on_bits`)."""
        return cls.from_lists([chem.morgan_on_bits(m, radius, n_bits) for m in mols], n_bits)

    @classmethod
    def concat(cls, parts: Sequence[SparseFingerprints], n_bits: int) -> SparseFingerprints:
        """Rows of several fingerprint sets, in order."""
        if not parts:
            return cls.from_lists([], n_bits)
        starts = np.cumsum([0] + [p.offsets[-1] for p in parts[:-1]])
        offsets = [parts[0].offsets[:1]] + [
            p.offsets[1:] + s for p, s in zip(parts, starts, strict=True)
        ]
        return cls(
            np.concatenate([p.on_bits for p in parts]).astype(np.uint16),
            np.concatenate(offsets).astype(np.int64),
            n_bits,
        )

    def counts(self) -> np.ndarray:
        """Number of set bits per row, as float32."""
        return np.diff(self.offsets).astype(np.float32)

    def dense(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` as a 0/1 ``float32`` matrix, ``n_bits`` wide."""
        stop = len(self) if stop is None else stop
        first, last = self.offsets[start], self.offsets[stop]
        out = np.zeros((stop - start, self.n_bits), dtype=np.float32)
        rows = np.repeat(np.arange(stop - start), np.diff(self.offsets[start : stop + 1]))
        out[rows, self.on_bits[first:last]] = 1.0
        return out

    def sparse(self, start: int, stop: int):
        """Rows ``start:stop`` as a SciPy CSR matrix of ones."""
        from scipy.sparse import csr_matrix

        first, last = self.offsets[start], self.offsets[stop]
        return csr_matrix(
            (
                np.ones(last - first, dtype=np.float32),
                self.on_bits[first:last].astype(np.int32),
                self.offsets[start : stop + 1] - first,
            ),
            shape=(stop - start, self.n_bits),
        )


def nearest_tanimoto(
    query: SparseFingerprints, reference: SparseFingerprints
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest reference row of each query row by Tanimoto: ``(similarity, index)`` arrays.

    Similarity is 0 between two empty fingerprints; with an empty reference every similarity
    is NaN and every index -1. Ties go to the first reference row.
    """
    if query.n_bits != reference.n_bits:
        raise ValueError(f"fingerprint widths differ: {query.n_bits} vs {reference.n_bits}")
    best = np.full(len(query), np.nan)
    where = np.full(len(query), -1, dtype=np.int64)
    if len(query) == 0 or len(reference) == 0:
        return best, where
    ref_count = reference.counts()
    for qs in range(0, len(query), _QUERY_BLOCK):
        qe = min(qs + _QUERY_BLOCK, len(query))
        q = np.ascontiguousarray(query.dense(qs, qe).T)  # (n_bits, queries)
        q_count = q.sum(0)
        columns = np.arange(qe - qs)
        block_best = np.full(qe - qs, -1.0, dtype=np.float32)
        block_where = np.full(qe - qs, -1, dtype=np.int64)
        step = max(1024, _BLOCK_CELLS // (qe - qs))
        for rs in range(0, len(reference), step):
            re = min(rs + step, len(reference))
            both = np.asarray(reference.sparse(rs, re) @ q)
            union = ref_count[rs:re, None] + q_count[None, :] - both
            sim = np.divide(both, union, out=np.zeros_like(both), where=union > 0)
            index = sim.argmax(0)
            value = sim[index, columns]
            better = value > block_best
            block_best[better] = value[better]
            block_where[better] = index[better] + rs
        best[qs:qe] = block_best
        where[qs:qe] = block_where
    return best, where


def _fingerprint_batch(
    batch: Sequence[str], radius: int, n_bits: int
) -> list[tuple[str | None, bytes]]:
    """Canonical SMILES and set bits (``uint16`` bytes); ``(None, b"")`` if it does not parse."""
    out: list[tuple[str | None, bytes]] = []
    for smiles in batch:
        mol = chem.parse_smiles(smiles)
        canonical = chem.canonical_smiles(mol) if mol is not None else None
        if canonical is None:
            out.append((None, b""))
        else:
            out.append((canonical, chem.morgan_on_bits(mol, radius, n_bits).tobytes()))
    return out


@dataclass(frozen=True, eq=False)
class ReferenceFingerprints:
    """Fingerprints and canonical SMILES of a reference set, for nearest-neighbour novelty.

    SMILES are one UTF-8 byte array with offsets (about 45 bytes per molecule, and an ``.npz``
    that needs no pickle). Invalid reference SMILES are dropped.
    """

    fingerprints: SparseFingerprints
    smiles_data: np.ndarray  # uint8
    smiles_offsets: np.ndarray  # int64
    radius: int
    source: str | None = None
    source_sha256: str | None = None

    def __len__(self) -> int:
        return len(self.fingerprints)

    @property
    def n_bits(self) -> int:
        """Fingerprint width."""
        return self.fingerprints.n_bits

    def smiles(self, index: int) -> str:
        """Canonical SMILES of reference molecule ``index``."""
        start, stop = int(self.smiles_offsets[index]), int(self.smiles_offsets[index + 1])
        return self.smiles_data[start:stop].tobytes().decode("utf-8")

    def nearest(self, query: SparseFingerprints) -> tuple[np.ndarray, list[str]]:
        """Similarity to, and SMILES of, the nearest reference molecule of each query row."""
        sims, where = nearest_tanimoto(query, self.fingerprints)
        return sims, [self.smiles(i) if i >= 0 else "" for i in where]

    @classmethod
    def from_smiles(
        cls, smiles: Sequence[str], radius: int = 2, n_bits: int = 2048, n_jobs: int | None = None
    ) -> ReferenceFingerprints:
        """Fingerprint a list of SMILES, without caching."""
        return cls._build([smiles], radius, n_bits, n_jobs)

    @classmethod
    def _build(
        cls,
        chunks: Iterable[Sequence[str]],
        radius: int,
        n_bits: int,
        n_jobs: int | None,
        source: str | None = None,
        sha: str | None = None,
    ) -> ReferenceFingerprints:
        func = partial(_fingerprint_batch, radius=radius, n_bits=n_bits)
        fps: list[SparseFingerprints] = []
        texts: list[bytes] = []
        lengths: list[np.ndarray] = []
        for chunk in chunks:
            done = [r for r in map_chunks(func, list(chunk), n_jobs, 2000, 5000) if r[0]]
            bits = [np.frombuffer(b, dtype=np.uint16) for _, b in done]
            fps.append(SparseFingerprints.from_lists(bits, n_bits))
            encoded = [s.encode("utf-8") for s, _ in done]
            texts.append(b"".join(encoded))
            lengths.append(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
        all_lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        return cls(
            fingerprints=SparseFingerprints.concat(fps, n_bits),
            smiles_data=np.frombuffer(b"".join(texts), dtype=np.uint8),
            smiles_offsets=np.concatenate([[0], np.cumsum(all_lengths)]).astype(np.int64),
            radius=radius,
            source=source,
            source_sha256=sha,
        )

    @classmethod
    def load_or_compute(
        cls,
        path: str | os.PathLike[str],
        *,
        radius: int = 2,
        n_bits: int = 2048,
        cache: str | os.PathLike[str] | None = None,
        n_jobs: int | None = None,
        log: Log | None = None,
    ) -> ReferenceFingerprints:
        """Fingerprints of the molecule file at ``path``, cached by its SHA-256 and settings."""
        from rdkit import rdBase

        # The evaluation cache's helpers: same directory, atomic npz + json entries, no pickle.

        sha = file_sha256(path)
        stem = cache_dir(cache) / f"screen-fingerprints-{sha}-r{radius}-{n_bits}"
        settings = {
            "format_version": _FORMAT_VERSION,
            "radius": radius,
            "bits": n_bits,
            "rdkit": rdBase.rdkitVersion,
        }

        def build() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
            emit(log, f"reference: fingerprinting {path} (once; cached by file hash)")
            chunks = (
                t.records["smiles"].tolist()
                for t in iter_molecule_chunks(
                    path, canonicalize=False, workers=1 if n_jobs == 1 else None
                )
            )
            refs = cls._build(chunks, radius, n_bits, n_jobs, str(path), sha)
            arrays = {
                "on_bits": refs.fingerprints.on_bits,
                "bit_offsets": refs.fingerprints.offsets,
                "smiles_data": refs.smiles_data,
                "smiles_offsets": refs.smiles_offsets,
            }
            return arrays, {"source": str(path), "n_molecules": len(refs)}

        arrays, meta = cached_entry(
            stem,
            {"format": _FORMAT, "settings": settings, "source_sha256": sha},
            build,
            what="fingerprints",
            emit=lambda message: emit(log, f"reference: {message}"),
        )
        fps = SparseFingerprints(arrays["on_bits"], arrays["bit_offsets"], n_bits)
        return cls(fps, arrays["smiles_data"], arrays["smiles_offsets"], radius,
                   meta.get("source"), sha)


@dataclass
class Reference:
    """One reference set as the screen uses it: display name, exact index, fingerprints."""

    name: str
    index: Any  # molvae.evaluation.TrainingSetIndex
    fingerprints: ReferenceFingerprints | None


def load_references(
    paths: Sequence[str],
    *,
    neighbours: bool,
    radius: int,
    n_bits: int,
    cache: str | None,
    n_jobs: int,
    log: Log | None,
) -> list[Reference]:
    """Index every reference file (from the cache when possible)."""
    if not paths:
        return []

    out = []
    for path in paths:
        if not Path(path).is_file():
            raise file_not_found(path)
        index = TrainingSetIndex.load_or_compute(path, cache=cache, n_jobs=n_jobs, log=log)
        fps = None
        if neighbours:
            fps = ReferenceFingerprints.load_or_compute(
                path, radius=radius, n_bits=n_bits, cache=cache, n_jobs=n_jobs, log=log
            )
        out.append(Reference(Path(path).name, index, fps))
    return out


