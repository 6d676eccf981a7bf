"""Morgan fingerprints, Tanimoto similarity and MaxMin diversity picking.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from molvae.chem.molecules import parse_smiles


@lru_cache(maxsize=4)
def _morgan_generator(radius: int, fp_size: int):
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=fp_size)


def morgan_count_fingerprint(mol: Chem.Mol, radius: int = 2):
    """Unfolded Morgan count fingerprint (the constrained-optimization benchmark's similarity)."""
    return _morgan_generator(radius, 2048).GetSparseCountFingerprint(mol)


def morgan_fingerprints(mols: Iterable[Chem.Mol], radius: int = 2, fp_size: int = 2048) -> list:
    """Folded Morgan bit-vector fingerprints, for bulk similarity searches."""
    gen = _morgan_generator(radius, fp_size)
    return [gen.GetFingerprint(m) for m in mols]


def tanimoto(fp_a, fp_b) -> float:
    """Tanimoto similarity of two RDKit fingerprints (bit or count)."""
    return float(DataStructs.TanimotoSimilarity(fp_a, fp_b))


def bulk_tanimoto(fp, fps: Sequence) -> np.ndarray:
    """Tanimoto similarity of one fingerprint against many, as a float array."""
    return np.asarray(DataStructs.BulkTanimotoSimilarity(fp, list(fps)), dtype=np.float64)


def similarity_to(query: str, smiles: Sequence[str | None]) -> np.ndarray:
    """Tanimoto similarity (Morgan radius-2 counts) of each SMILES to ``query``; NaN if unparsable.

    The same fingerprint as ``--min-similarity`` in generation (the constrained-optimization
    benchmark's), so similarities printed by different commands can be compared.
    """
    out = np.full(len(smiles), np.nan)
    query_mol = parse_smiles(query)
    if query_mol is None:
        return out
    query_fp = morgan_count_fingerprint(query_mol)
    for i, s in enumerate(smiles):
        mol = parse_smiles(s) if isinstance(s, str) else None
        if mol is not None:
            out[i] = tanimoto(query_fp, morgan_count_fingerprint(mol))
    return out


def morgan_on_bits(mol: Chem.Mol, radius: int = 2, fp_size: int = 2048) -> np.ndarray:
    """Indices of the set bits of a folded Morgan fingerprint, ``uint16`` (``fp_size <= 65536``).

    Morgan fingerprints are sparse (about 40 of 2048 bits set for drug-like molecules), so lists
    of set bits store a large reference set compactly and feed sparse-matrix Tanimoto searches.
    The bits are those of :func:`morgan_fingerprints`.
    """
    fp = _morgan_generator(radius, fp_size).GetFingerprint(mol)
    return np.fromiter(fp.GetOnBits(), dtype=np.uint16)


def maxmin_pick(
    fingerprints: Sequence, n: int, first_picks: Sequence[int] = (), seed: int = 42
) -> list[int]:
    """Indices of ``n`` mutually dissimilar fingerprints (RDKit ``MaxMinPicker``, Tanimoto).

    Each pick is the fingerprint farthest from everything picked so far; ``first_picks`` seeds the
    selection (e.g. the best-scored molecule). Returns all indices when ``n >= len(fingerprints)``.
    """
    from rdkit.SimDivFilters import rdSimDivPickers

    size = len(fingerprints)
    if n >= size:
        return list(range(size))
    if n <= 0:
        return []
    picker = rdSimDivPickers.MaxMinPicker()
    picks = picker.LazyBitVectorPick(
        list(fingerprints), size, n, firstPicks=list(first_picks), seed=seed
    )
    return [int(i) for i in picks]
