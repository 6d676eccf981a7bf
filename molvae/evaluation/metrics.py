"""MOSES metrics of generated SMILES against a reference (test) set and a training set.

The definitions follow the MOSES reference implementation (``molsets`` 0.3.1,
``moses/metrics/metrics.py`` and ``utils.py``; Polykovskiy et al. 2020), so numbers are
comparable with published MOSES tables:

* ``valid``: fraction of the generated strings RDKit parses and sanitizes. Empty strings and
  invalid SMILES count as invalid; they are dropped before every other metric, which all use the
  *valid* molecules only, canonicalized, duplicates kept.
* ``unique@k``: number of distinct canonical SMILES among the first ``k`` *valid* molecules,
  divided by how many there are (MOSES takes ``gen[:k]`` after removing invalid ones; with
  fewer than ``k`` valid molecules it uses them all and warns, and so do we).
* ``FCD/Test``: Fréchet ChemNet Distance between the ChemNet activations of the valid
  canonical SMILES and those of the reference (lower is better; see :mod:`.chemnet`).
* ``SNN/Test``: mean over valid molecules of the highest Tanimoto similarity to any reference
  molecule (Morgan radius 2, 1024 bits).
* ``Frag/Test``, ``Scaf/Test``: cosine similarity of the BRICS-fragment and Bemis-Murcko-scaffold
  count vectors (scaffolds with at least two rings; a scaffold seen twice counts twice).
* ``IntDiv``, ``IntDiv2``: ``1 - mean_i (mean_j T(i, j)**p) ** (1/p)`` for p = 1, 2 over all pairs
  of valid molecules, self-pairs and duplicates included (so a set of one molecule has 0).
* ``Filters``: fraction of valid molecules passing MOSES's MCF + PAINS filters with its extra
  conditions (allowed elements, no charges, no ring of 8+ atoms).
* ``logP``, ``SA``, ``QED``, ``weight``: Wasserstein-1 distance between the property
  distributions of the valid molecules and of the reference (lower is better).
* ``Novelty`` (only when a training set is given): fraction of the *distinct* valid canonical
  SMILES that are not in the training set.

Where MOSES would crash or divide by zero, we return NaN instead: no valid molecule (every
metric but ``valid``), fewer than two (FCD), no fragment or scaffold on one side (Frag, Scaf, as
MOSES). An empty list of generated SMILES is a :class:`~molvae.errors.MolvaeError`.

Deliberate differences from MOSES, all of which leave MOSES-style data unaffected:

* Parsing goes through :func:`molvae.chem.parse_smiles`, which strips surrounding whitespace and
  rejects molecules with no atoms (MOSES would pass padded strings to RDKit as they are).
* The training set is canonicalized with the same RDKit before Novelty (MOSES assumes it is
  canonical already; see :class:`~.reference.TrainingSetIndex`).
* A property RDKit fails to compute for a molecule (rare) is left out of that property's
  distance instead of crashing the evaluation.
* FCD: SMILES longer than ChemNet's input are truncated as ``fcd_torch`` does, and multi-fragment
  SMILES are encoded whole (see :mod:`.chemnet`).
* MOSES's ``TestSF`` scores need a second reference: pass ``scaffold_reference`` to get them.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from rich.table import Table
from scipy.stats import wasserstein_distance

from molvae.data.index import TrainingSetIndex
from molvae.errors import MolvaeError
from molvae.evaluation import moses_chem
from molvae.evaluation.chemnet import fcd_statistics, frechet_distance
from molvae.evaluation.reference import ReferenceStats
from molvae.evaluation.similarity import max_tanimoto, mean_tanimoto_powers
from molvae.runtime import Log

__all__ = [
    "DEFAULT_UNIQUE_K",
    "METRICS",
    "Evaluation",
    "MetricInfo",
    "cosine_similarity",
    "evaluate",
    "evaluate_smiles",
    "fraction_unique",
    "internal_diversity",
    "metrics_table",
    "novelty",
    "snn",
]

DEFAULT_UNIQUE_K = (1000, 10000)

ReferenceLike = ReferenceStats | Sequence[str] | str | os.PathLike[str]
TrainLike = TrainingSetIndex | Sequence[str] | str | os.PathLike[str]


@dataclass(frozen=True)
class MetricInfo:
    """How to read a metric: its meaning, whether higher is better, and how to print it."""

    description: str
    higher_is_better: bool
    digits: int = 4


# The MOSES metric families, keyed by the name before any "/Test" or "@k" suffix.
METRICS: dict[str, MetricInfo] = {
    "valid": MetricInfo("fraction of generated SMILES that RDKit parses", True),
    "unique": MetricInfo("fraction of distinct molecules among the first k valid", True),
    "FCD": MetricInfo("Fréchet ChemNet Distance to the reference", False, 3),
    "SNN": MetricInfo("mean Tanimoto similarity to the nearest reference molecule", True),
    "Frag": MetricInfo("cosine similarity of BRICS fragment counts", True),
    "Scaf": MetricInfo("cosine similarity of Bemis-Murcko scaffold counts", True),
    "IntDiv": MetricInfo("internal diversity, 1 - mean pairwise Tanimoto", True),
    "IntDiv2": MetricInfo("internal diversity, 1 - root mean squared pairwise Tanimoto", True),
    "Filters": MetricInfo("fraction passing the MOSES MCF + PAINS filters", True),
    "logP": MetricInfo("Wasserstein distance of logP to the reference", False),
    "SA": MetricInfo("Wasserstein distance of SA score to the reference", False),
    "QED": MetricInfo("Wasserstein distance of QED to the reference", False),
    "weight": MetricInfo("Wasserstein distance of molecular weight to the reference", False, 3),
    "Novelty": MetricInfo("fraction of distinct valid molecules not in the training set", True),
}


def _metric_info(key: str) -> MetricInfo | None:
    return METRICS.get(key.split("/")[0].split("@")[0])


# --------------------------------------------------------------------------------------------
# Individual metrics (inputs already featurized)
# --------------------------------------------------------------------------------------------


def fraction_unique(valid_canonical: Sequence[str], k: int | None = None) -> float:
    """MOSES ``unique@k``: distinct fraction of the first ``k`` valid canonical SMILES.

    Warns (as MOSES does) when there are fewer than ``k``; NaN when there are none.
    """
    if k is not None:
        if len(valid_canonical) < k:
            warnings.warn(
                f"unique@{k} computed on only {len(valid_canonical)} valid molecules",
                stacklevel=2,
            )
        valid_canonical = valid_canonical[:k]
    if len(valid_canonical) == 0:
        return math.nan
    return len(set(valid_canonical)) / len(valid_canonical)


def novelty(valid_canonical: Sequence[str], train: TrainingSetIndex) -> float:
    """Fraction of the distinct valid canonical SMILES absent from the training set."""
    distinct = sorted(set(valid_canonical))
    if not distinct:
        return math.nan
    return float(1.0 - train.contains(distinct).mean())


def snn(fingerprints: np.ndarray, reference_fingerprints: np.ndarray) -> float:
    """Mean over molecules of the highest Tanimoto similarity to a reference molecule."""
    if len(fingerprints) == 0 or len(reference_fingerprints) == 0:
        return math.nan
    return float(max_tanimoto(fingerprints, reference_fingerprints).mean())


def internal_diversity(
    fingerprints: np.ndarray, powers: Sequence[int] = (1, 2)
) -> dict[int, float]:
    """MOSES ``IntDiv_p`` for each ``p``: ``1 - mean_i (mean_j T(i, j)**p) ** (1/p)``."""
    if len(fingerprints) == 0:
        return {p: math.nan for p in powers}
    means = mean_tanimoto_powers(fingerprints, powers)
    return {p: float(1.0 - np.mean(means[p] ** (1.0 / p))) for p in powers}


def cosine_similarity(reference_counts: Mapping[str, int], counts: Mapping[str, int]) -> float:
    """Cosine similarity of two sparse count vectors (missing keys are 0); NaN if one is empty.

    Computed in floating point. (MOSES hands integer count arrays to ``scipy``'s ``cosine``,
    which with current scipy overflows int64 on test-set-sized counts: run today, MOSES reports
    Frag/Test 1.0 where the true cosine of a 30k training sample is 0.9999.)
    """
    if not reference_counts or not counts:
        return math.nan
    dot = sum(float(c) * reference_counts.get(key, 0) for key, c in counts.items())
    norm_ref = math.sqrt(sum(float(c) ** 2 for c in reference_counts.values()))
    norm_gen = math.sqrt(sum(float(c) ** 2 for c in counts.values()))
    return dot / (norm_ref * norm_gen)


def _wasserstein(reference: np.ndarray, values: np.ndarray) -> float:
    reference = reference[np.isfinite(reference)]
    values = values[np.isfinite(values)]
    if len(reference) == 0 or len(values) == 0:
        return math.nan
    return float(wasserstein_distance(reference, values))


# --------------------------------------------------------------------------------------------
# The evaluation
# --------------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """Result of :func:`evaluate`: the metrics, plus what it cost.

    ``timings`` holds wall-clock seconds per stage (``featurize``, ``FCD``, ``SNN``, ...);
    ``feature_seconds`` the CPU seconds per RDKit feature summed over worker processes.
    """

    metrics: dict[str, float]
    n_generated: int
    n_valid: int
    timings: dict[str, float] = field(default_factory=dict)
    feature_seconds: dict[str, float] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The metrics as a DataFrame (``metric``, ``value``, ``higher_is_better``), in order."""
        rows = []
        for key, value in self.metrics.items():
            info = _metric_info(key)
            rows.append(
                {"metric": key, "value": value,
                 "higher_is_better": None if info is None else info.higher_is_better}
            )
        return pd.DataFrame(rows, columns=["metric", "value", "higher_is_better"])


def _generated_strings(generated: Sequence[str] | pd.DataFrame) -> list[str]:
    """The SMILES to score: a list as given, or a DataFrame's ``smiles`` column (as written)."""
    if not isinstance(generated, pd.DataFrame):
        return list(generated)
    for name in ("smiles", "SMILES"):
        if name in generated.columns:
            return generated[name].tolist()
    raise MolvaeError(
        f"no 'smiles' column among {list(generated.columns)}: pass the column, e.g. frame['col']"
    )


def _resolve_reference(
    reference: ReferenceLike,
    n_jobs: int | None,
    cache: str | os.PathLike[str] | None,
    log: Log | None,
) -> ReferenceStats:
    if isinstance(reference, ReferenceStats):
        return reference
    if isinstance(reference, str | os.PathLike):
        return ReferenceStats.load_or_compute(reference, cache=cache, n_jobs=n_jobs, log=log)
    return ReferenceStats.compute(reference, n_jobs=n_jobs, log=log)


def _resolve_train(
    train: TrainLike, n_jobs: int | None, cache: str | os.PathLike[str] | None, log: Log | None
) -> TrainingSetIndex:
    if isinstance(train, TrainingSetIndex):
        return train
    if isinstance(train, str | os.PathLike):
        return TrainingSetIndex.load_or_compute(train, cache=cache, n_jobs=n_jobs, log=log)
    return TrainingSetIndex.compute(train, n_jobs=n_jobs)


class _Stopwatch:
    """Records the wall time of named stages into a dict."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self._last
        self._last = now


def _reference_metrics(
    metrics: dict[str, float],
    suffix: str,
    ref: ReferenceStats,
    features: moses_chem.Features,
    fcd_stats: tuple[np.ndarray, np.ndarray],
    watch: _Stopwatch,
) -> None:
    """FCD, SNN, Frag and Scaf against one reference, under ``<metric>/<suffix>``."""
    metrics[f"FCD/{suffix}"] = frechet_distance(ref.fcd_mu, ref.fcd_sigma, *fcd_stats)
    watch.lap("FCD")
    metrics[f"SNN/{suffix}"] = snn(features.fingerprints, ref.fingerprints)
    watch.lap("SNN")
    metrics[f"Frag/{suffix}"] = cosine_similarity(ref.fragments, features.fragments)
    watch.lap("Frag")
    metrics[f"Scaf/{suffix}"] = cosine_similarity(ref.scaffolds, features.scaffolds)
    watch.lap("Scaf")


def evaluate(
    generated: Sequence[str] | pd.DataFrame,
    reference: ReferenceLike,
    train: TrainLike | None = None,
    *,
    scaffold_reference: ReferenceLike | None = None,
    k: Sequence[int] = DEFAULT_UNIQUE_K,
    n_jobs: int | None = None,
    cache: str | os.PathLike[str] | None = None,
    log: Log | None = None,
) -> Evaluation:
    """Score generated SMILES with the MOSES metrics; see the module docstring for definitions.

    ``generated`` is a list of SMILES or a DataFrame with a ``smiles`` column (e.g. the output
    of ``MolVAE.sample``); ``Evaluation.to_frame()`` gives the metrics as a DataFrame.
    ``reference`` (MOSES's test set) and ``scaffold_reference`` (its scaffold test set, giving
    the ``.../TestSF`` metrics) are :class:`ReferenceStats`, a path to a molecule file (statistics
    cached by the file's SHA-256 in ``cache`` or ``$MOLVAE_CACHE_DIR``) or a list of SMILES
    (computed, not cached). ``train`` likewise is a :class:`TrainingSetIndex`, a path or a list;
    without it there is no ``Novelty``. RDKit work runs in ``n_jobs`` worker processes (default:
    every CPU available) for inputs of 2,000 molecules or more. ``log`` receives progress lines.
    """
    generated = _generated_strings(generated)
    if not generated:
        raise MolvaeError("no generated SMILES to evaluate")
    timings: dict[str, float] = {}
    watch = _Stopwatch(timings)
    ref = _resolve_reference(reference, n_jobs, cache, log)
    scaf_ref = (
        None
        if scaffold_reference is None
        else _resolve_reference(scaffold_reference, n_jobs, cache, log)
    )
    train_index = None if train is None else _resolve_train(train, n_jobs, cache, log)
    watch.lap("load references")

    if log is not None:
        log(f"featurizing {len(generated):,} generated SMILES")
    features = moses_chem.featurize(
        generated, reparse_canonical=True, with_filters=True, n_jobs=n_jobs
    )
    valid = features.valid_canonical
    watch.lap("featurize")

    metrics: dict[str, float] = {"valid": features.n_valid / len(generated)}
    for k_ in k:
        metrics[f"unique@{k_}"] = fraction_unique(valid, k_)
    watch.lap("unique")

    if log is not None:
        log(f"ChemNet activations of {len(valid):,} valid molecules")
    fcd_stats = fcd_statistics(valid)
    watch.lap("FCD")
    _reference_metrics(metrics, "Test", ref, features, fcd_stats, watch)
    if scaf_ref is not None:
        _reference_metrics(metrics, "TestSF", scaf_ref, features, fcd_stats, watch)

    diversity = internal_diversity(features.fingerprints, (1, 2))
    metrics["IntDiv"], metrics["IntDiv2"] = diversity[1], diversity[2]
    watch.lap("IntDiv")
    passes = features.passes_filters
    metrics["Filters"] = float(passes.mean()) if passes is not None and len(passes) else math.nan
    watch.lap("Filters")
    for column, name in enumerate(moses_chem.PROPERTY_NAMES):
        metrics[name] = _wasserstein(ref.properties[:, column], features.properties[:, column])
    watch.lap("properties")
    if train_index is not None:
        metrics["Novelty"] = novelty(valid, train_index)
        watch.lap("Novelty")
    return Evaluation(
        metrics=metrics,
        n_generated=len(generated),
        n_valid=features.n_valid,
        timings=timings,
        feature_seconds=features.seconds,
    )


def evaluate_smiles(
    generated: Sequence[str] | pd.DataFrame,
    reference: ReferenceLike,
    train: TrainLike | None = None,
    *,
    scaffold_reference: ReferenceLike | None = None,
    k: Sequence[int] = DEFAULT_UNIQUE_K,
    n_jobs: int | None = None,
    cache: str | os.PathLike[str] | None = None,
) -> dict[str, float]:
    """The MOSES metrics as a dict, keys named as in MOSES (``valid``, ``unique@1000``, ...).

    A shortcut for ``evaluate(...).metrics``; see :func:`evaluate` for the arguments.
    """
    return evaluate(
        generated,
        reference,
        train,
        scaffold_reference=scaffold_reference,
        k=k,
        n_jobs=n_jobs,
        cache=cache,
    ).metrics


def metrics_table(metrics: Mapping[str, float], title: str | None = "MOSES metrics") -> Table:
    """A rich table of metrics: name, value, whether higher (↑) or lower (↓) is better, meaning."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("", justify="center")
    table.add_column("meaning", style="dim")
    for key, value in metrics.items():
        info = _metric_info(key)
        digits = info.digits if info else 4
        text = "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"
        arrow = "" if info is None else ("↑" if info.higher_is_better else "↓")
        table.add_row(key, text, arrow, info.description if info else "")
    return table
