"""Bulk Tanimoto similarity of packed bit fingerprints: the engine behind SNN and IntDiv.

SNN compares 30,000 generated molecules with 176,000 test molecules (5 billion pairs) and IntDiv
compares 30,000 molecules with each other, so a Python loop over pairs is out of the question.
Fingerprints are stored packed (``np.packbits``, 128 bytes for 1024 bits) and unpacked block by
block into 0/1 ``float32`` matrices; the intersection counts ``|A & B|`` of a whole block of
pairs are then one matrix product, which BLAS computes exactly (integers below 2**24 are exact in
float32) and fast. torch does the products and the element-wise arithmetic because, unlike
numpy's, its element-wise kernels use every core. Blocks keep peak memory around 150 MB.
torch is imported on first use, so importing :mod:`molvae.evaluation` stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["max_tanimoto", "mean_tanimoto_powers", "unpack_bits"]

# Rows per block: a (query x reference) block of float32 similarities is 8192 * 4096 * 4 bytes.
_QUERY_BLOCK = 8192
_REFERENCE_BLOCK = 4096
_SELF_BLOCK = 4096


def unpack_bits(packed: np.ndarray, n_bits: int | None = None) -> torch.Tensor:
    """Unpack rows of packed bits (``uint8``) into a 0/1 ``float32`` tensor, ``n_bits`` wide."""
    import torch

    bits = np.unpackbits(np.ascontiguousarray(packed, dtype=np.uint8), axis=1, count=n_bits)
    return torch.from_numpy(bits.astype(np.float32))


def _tanimoto(
    a: torch.Tensor, b: torch.Tensor, a_count: torch.Tensor, b_count: torch.Tensor
) -> torch.Tensor:
    """Tanimoto matrix of 0/1 rows ``a`` x ``b``: ``|a & b| / (|a| + |b| - |a & b|)``.

    Two empty fingerprints have similarity 1, as in MOSES (which replaces 0/0 = NaN by 1).
    """
    both = a @ b.T
    union = a_count[:, None] + b_count[None, :]
    union.sub_(both)
    return both.div_(union).nan_to_num_(nan=1.0)


def max_tanimoto(query: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each query fingerprint, its highest Tanimoto similarity to any reference fingerprint.

    Both arguments are packed bit arrays (rows = molecules) of the same width. Returns a
    ``float64`` array with one value per query row (NaN for all rows if ``reference`` is empty).
    """
    best = np.full(len(query), np.nan if len(reference) == 0 else 0.0)
    if len(query) == 0 or len(reference) == 0:
        return best
    import torch

    with torch.inference_mode():
        _max_tanimoto_into(best, query, reference)
    return best


def _max_tanimoto_into(best: np.ndarray, query: np.ndarray, reference: np.ndarray) -> None:
    import torch

    for qs in range(0, len(query), _QUERY_BLOCK):
        q = unpack_bits(query[qs : qs + _QUERY_BLOCK])
        q_count = q.sum(1)
        block_best = torch.zeros(len(q))
        for rs in range(0, len(reference), _REFERENCE_BLOCK):
            r = unpack_bits(reference[rs : rs + _REFERENCE_BLOCK])
            sim = _tanimoto(q, r, q_count, r.sum(1))
            torch.maximum(block_best, sim.amax(1), out=block_best)
        best[qs : qs + len(q)] = block_best.numpy()


def mean_tanimoto_powers(
    fingerprints: np.ndarray, powers: Sequence[int] = (1, 2)
) -> dict[int, np.ndarray]:
    """For each fingerprint ``i`` and power ``p``: ``mean_j T(i, j) ** p`` over all rows ``j``.

    The mean runs over every row of the same array, the molecule itself and its duplicates
    included, which is what MOSES's internal diversity averages. The matrix is symmetric, so
    only blocks on or above the diagonal are computed and each off-diagonal block is credited
    to both its rows and its columns.
    """
    n = len(fingerprints)
    if n == 0:
        return {p: np.zeros(0) for p in powers}
    import torch

    sums = {p: torch.zeros(n, dtype=torch.float64) for p in powers}
    with torch.inference_mode():
        _add_tanimoto_power_sums(sums, fingerprints)
    return {p: (s / n).numpy() for p, s in sums.items()}


def _add_tanimoto_power_sums(sums: dict[int, torch.Tensor], fingerprints: np.ndarray) -> None:
    import torch

    n = len(fingerprints)
    starts = list(range(0, n, _SELF_BLOCK))
    for i in starts:
        a = unpack_bits(fingerprints[i : i + _SELF_BLOCK])
        a_count = a.sum(1)
        for j in starts:
            if j < i:
                continue
            b = a if j == i else unpack_bits(fingerprints[j : j + _SELF_BLOCK])
            b_count = a_count if j == i else b.sum(1)
            sim = _tanimoto(a, b, a_count, b_count)
            for p, total in sums.items():
                sim_p = sim if p == 1 else sim.pow(p)
                total[i : i + len(a)] += sim_p.sum(1, dtype=torch.float64)
                if j != i:
                    total[j : j + len(b)] += sim_p.sum(0, dtype=torch.float64)
