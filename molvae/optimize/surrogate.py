"""The surrogate of :func:`molvae.design`: an exact Gaussian process with a Tanimoto kernel on
Morgan fingerprints, and batch Thompson sampling from its posterior.

A Tanimoto-kernel GP on fingerprints is a strong, nearly tuning-free surrogate for molecular
objectives (Tripp and Hernandez-Lobato 2024); it needs no gradients and runs in numpy. The
kernel is ``amplitude * T(x, x')`` with ``T`` the Tanimoto similarity of binary Morgan
fingerprints (radius 2, 2,048 bits); the amplitude and the noise variance are picked by the
marginal likelihood on a grid (one eigendecomposition serves the whole grid). Scores are
standardized first. Cost: O(n^3) in the training points, so callers cap them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from molvae import chem

FP_BITS = 2048
AMPLITUDES = (0.25, 0.5, 1.0, 2.0, 4.0)
NOISES = (1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3)


def fingerprints(smiles: Sequence[str]) -> np.ndarray:
    """Binary Morgan fingerprints (radius 2, 2,048 bits) as a float32 matrix (n, 2048)."""
    out = np.zeros((len(smiles), FP_BITS), dtype=np.float32)
    for i, s in enumerate(smiles):
        mol = chem.parse_smiles(s)
        if mol is not None:
            out[i, chem.morgan_on_bits(mol, 2, FP_BITS)] = 1.0
    return out


def tanimoto_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Tanimoto similarity of every row of ``a`` with every row of ``b`` (binary rows)."""
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = np.where(union > 0, inter / np.maximum(union, 1e-9), 1.0)
    return sim.astype(np.float64)


class TanimotoGP:
    """An exact GP on fingerprints, fitted to standardized scores (zero prior mean)."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x = x
        self.y_mean = float(np.mean(y))
        self.y_std = float(np.std(y)) or 1.0
        u = (np.asarray(y, dtype=np.float64) - self.y_mean) / self.y_std
        k = tanimoto_matrix(x, x)
        eigval, eigvec = np.linalg.eigh(k)
        eigval = np.clip(eigval, 0.0, None)
        proj = eigvec.T @ u
        best = None
        for amp in AMPLITUDES:
            for noise in NOISES:
                lam = amp * eigval + noise
                nll = 0.5 * np.sum(proj**2 / lam) + 0.5 * np.sum(np.log(lam))
                if best is None or nll < best[0]:
                    best = (nll, amp, noise)
        _, self.amplitude, self.noise = best
        lam = self.amplitude * eigval + self.noise
        # (amp K + noise I)^-1 = V diag(1/lam) V^T, kept as a factor W = V diag(lam^-1/2)
        self._w = eigvec / np.sqrt(lam)[None, :]
        self._alpha = self._w @ (self._w.T @ u)

    def posterior(self, xc: np.ndarray, full_cov: bool = False):
        """Posterior mean (standardized units) and variance, or covariance with ``full_cov``."""
        kc = self.amplitude * tanimoto_matrix(xc, self.x)  # (m, n)
        mean = kc @ self._alpha
        a = kc @ self._w  # (m, n)
        if full_cov:
            cov = self.amplitude * tanimoto_matrix(xc, xc) - a @ a.T
            return mean, cov
        var = np.clip(self.amplitude - np.einsum("ij,ij->i", a, a), 1e-12, None)
        return mean, var

    def thompson_batch(self, xc: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
        """Indices of ``k`` distinct candidates: each the argmax of a joint posterior draw.

        A draw whose argmax was already picked gives its best candidate not yet picked, so the
        batch always holds ``min(k, len(xc))`` candidates. Joint draws over the candidates
        (not independent marginals) make similar candidates rise and fall together, which
        spreads the batch.
        """
        m = len(xc)
        if k >= m:
            return list(range(m))
        mean, cov = self.posterior(xc, full_cov=True)
        cov = 0.5 * (cov + cov.T)
        jitter = 1e-6 * self.amplitude
        for _ in range(6):
            try:
                chol = np.linalg.cholesky(cov + jitter * np.eye(m))
                break
            except np.linalg.LinAlgError:
                jitter *= 10
        else:  # pragma: no cover - a covariance that no jitter fixes: marginal draws
            chol = np.diag(np.sqrt(np.clip(np.diag(cov), 1e-12, None)))
        draws = mean[:, None] + chol @ rng.standard_normal((m, k))
        picked: list[int] = []
        taken = np.zeros(m, dtype=bool)
        for j in range(k):
            order = np.argsort(-draws[:, j], kind="stable")
            choice = next(int(i) for i in order if not taken[i])
            taken[choice] = True
            picked.append(choice)
        return picked
