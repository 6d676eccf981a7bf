"""Evaluation of generated molecules with the MOSES metrics.

Typical use (the first call computes and caches the test-set statistics, later calls load them)::

    from molvae.evaluation import evaluate_smiles, metrics_table
    metrics = evaluate_smiles(generated, "test.csv.gz", train="train.csv.gz")
    rich.print(metrics_table(metrics))

Modules: :mod:`.metrics` (the metrics and :func:`evaluate`), :mod:`.reference` (cached
reference and training-set statistics), :mod:`.moses_chem` (MOSES-specific RDKit features),
:mod:`.similarity` (bulk Tanimoto), :mod:`.chemnet` (FCD).
"""

from molvae.data.cache import CACHE_DIR_ENV, cache_dir
from molvae.data.index import TrainingSetIndex
from molvae.evaluation.metrics import (
    DEFAULT_UNIQUE_K,
    METRICS,
    Evaluation,
    MetricInfo,
    cosine_similarity,
    evaluate,
    evaluate_smiles,
    fraction_unique,
    internal_diversity,
    metrics_table,
    novelty,
    snn,
)
from molvae.evaluation.moses_chem import passes_filters
from molvae.evaluation.reference import ReferenceStats

__all__ = [
    "CACHE_DIR_ENV",
    "DEFAULT_UNIQUE_K",
    "METRICS",
    "Evaluation",
    "MetricInfo",
    "ReferenceStats",
    "TrainingSetIndex",
    "cache_dir",
    "cosine_similarity",
    "evaluate",
    "evaluate_smiles",
    "fraction_unique",
    "internal_diversity",
    "metrics_table",
    "novelty",
    "passes_filters",
    "snn",
]
