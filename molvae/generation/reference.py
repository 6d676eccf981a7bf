"""Reference molecules of a conditional model: where z comes from for a request.

A conditional model's learned prior p(z|c) misses a request by a mean of about 0.9 logP units on
the bundled ``zinc`` model, and most of the miss enters with z (decoded from the encoding of a
molecule under its own conditions, the decoder stays within about 0.4 of its logP). So a model
can ship some of its training molecules (``reference.safetensors``: their token ids and their
condition values), and a request draws z from the posteriors of the ``pool`` reference molecules
whose values are nearest to it: a random one's mean plus its posterior noise, encoded and decoded
under that molecule's own values with the requested ones put in their place (so the properties
not asked for are a real molecule's, not left open). On the ``zinc`` grid that lowers the mean
error of every property (``benchmarks/conditional_prior.py``).

The file holds token ids of the model's vocabulary, not weights: it stays valid when the model
is fine-tuned with the same vocabulary and conditions. ``molvae train`` writes one for every
conditional run (:func:`save_reference`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from molvae.data.encoding import EncodedDataset
from molvae.errors import MolvaeError

REFERENCE_FILE = "reference.safetensors"
REFERENCE_FORMAT = "molvae-reference"
# Enough molecules that a request at the edge of the training range still finds close ones,
# few enough that the file stays small (about 2 MB for 20,000 ZINC molecules).
DEFAULT_REFERENCE_SIZE = 20_000


@dataclass(frozen=True, eq=False)
class ReferenceSet:
    """Token ids (each molecule followed by eos, as :class:`EncodedDataset` holds them) and the
    condition values, in property units, of some training molecules of a conditional model."""

    ids: np.ndarray  # flat int16 token ids
    offsets: np.ndarray  # (n + 1,) int64 start of each molecule in ids
    values: np.ndarray  # (n, n_conditions) float32; NaN where a molecule has no value
    conditions: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def dataset(self, rows: np.ndarray) -> EncodedDataset:
        """The molecules at ``rows`` as an :class:`EncodedDataset` (for encoding)."""
        whole = EncodedDataset(
            self.ids, self.offsets, np.arange(len(self), dtype=np.int64), [""] * len(self)
        )
        return whole.subset(rows)

    def nearest(
        self, request: Mapping[str, float], scale: Mapping[str, float], k: int
    ) -> np.ndarray:
        """Rows of the ``k`` molecules nearest to ``request`` ({condition: value}), nearest
        first: the largest distance over the requested conditions, each in units of
        ``scale`` (the training standard deviation). Molecules without a value for a requested
        condition come last."""
        if not request:
            raise MolvaeError("a reference pool needs at least one requested condition")
        distance = np.zeros(len(self), dtype=np.float64)
        for name, value in request.items():
            column = self.values[:, self.conditions.index(name)].astype(np.float64)
            gap = np.abs(column - float(value)) / float(scale[name])
            distance = np.maximum(distance, np.where(np.isfinite(gap), gap, np.inf))
        k = min(int(k), len(self))
        rows = np.argpartition(distance, k - 1)[:k] if k < len(self) else np.arange(len(self))
        return rows[np.argsort(distance[rows], kind="stable")]


def reference_from_dataset(
    dataset: EncodedDataset, conditions: Sequence[str], n: int = DEFAULT_REFERENCE_SIZE,
    seed: int = 0,
) -> ReferenceSet:
    """Up to ``n`` random molecules of ``dataset`` (seeded) with their values of ``conditions``
    (columns of ``dataset.properties``)."""
    missing = [c for c in conditions if c not in dataset.property_names]
    if missing:
        raise MolvaeError(f"reference molecules need values of {', '.join(missing)}")
    if len(dataset) == 0:
        raise MolvaeError("no molecules to take reference molecules from")
    rows = np.sort(np.random.default_rng(seed).permutation(len(dataset))[: max(int(n), 1)])
    part = dataset.subset(rows)
    at = [dataset.property_names.index(c) for c in conditions]
    return ReferenceSet(
        part.ids.astype(np.int16),
        part.offsets.astype(np.int64),
        part.properties[:, at].astype(np.float32),
        tuple(conditions),
    )


def save_reference(reference: ReferenceSet, path: str | Path) -> Path:
    """Write ``reference`` as safetensors (its conditions in the file's metadata)."""
    from molvae.models.store import _atomic_save_tensors

    path = Path(path)
    tensors = {
        "ids": torch.from_numpy(np.ascontiguousarray(reference.ids, dtype=np.int16)),
        "offsets": torch.from_numpy(np.ascontiguousarray(reference.offsets, dtype=np.int64)),
        "values": torch.from_numpy(np.ascontiguousarray(reference.values, dtype=np.float32)),
    }
    meta = {"format": REFERENCE_FORMAT, "conditions": json.dumps(list(reference.conditions))}
    _atomic_save_tensors(tensors, path, meta)
    return path


def load_reference(
    model_dir: str | Path, conditions: Sequence[str], vocab_size: int, max_length: int
) -> ReferenceSet | None:
    """The reference molecules beside a model's weights (or in the run directory holding it),
    or None if there are none. A file that is damaged, or written for other conditions or a
    larger vocabulary than the model's, is a one-line ``MolvaeError``."""
    from safetensors import safe_open

    from molvae.models.store import _read_tensors

    model_dir = Path(model_dir)
    for path in (model_dir / REFERENCE_FILE, model_dir.parent / REFERENCE_FILE):
        if os.path.lexists(path):
            break
    else:
        return None
    tensors = _read_tensors(path)
    with safe_open(str(path), "pt") as handle:
        meta = handle.metadata() or {}
    try:
        if meta.get("format") != REFERENCE_FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}, not {REFERENCE_FORMAT!r}")
        named = json.loads(meta.get("conditions", "null"))
        if named != list(conditions):
            raise ValueError(
                f"written for conditions {named}, the model has {list(conditions)}"
            )
        ids, offsets, values = (tensors[k].numpy() for k in ("ids", "offsets", "values"))
        n = len(offsets) - 1
        if ids.dtype != np.int16 or offsets.dtype != np.int64 or values.dtype != np.float32:
            raise ValueError("ids, offsets and values must be int16, int64 and float32")
        shapes_agree = values.shape == (n, len(conditions)) and offsets[-1] == len(ids)
        if n < 1 or not shapes_agree or offsets[0] != 0:
            raise ValueError("ids, offsets and values do not describe the same molecules")
        lengths = np.diff(offsets)
        if lengths.min() < 1 or lengths.max() > max_length:
            raise ValueError(f"a molecule has no tokens or more than the model's {max_length}")
        if ids.min() < 0 or ids.max() >= vocab_size:
            raise ValueError(f"token ids outside the model's vocabulary of {vocab_size}")
    except (KeyError, IndexError, ValueError, json.JSONDecodeError) as exc:
        raise MolvaeError(f"{path}: reference molecules do not load ({exc})") from None
    return ReferenceSet(ids, offsets, values, tuple(conditions))


def pool_sampler(
    encode: Callable[[EncodedDataset], tuple[torch.Tensor, torch.Tensor]],
    reference: ReferenceSet,
    rows: np.ndarray,
    condition: torch.Tensor,
) -> Callable[[int, int | None], tuple[torch.Tensor, torch.Tensor]]:
    """A ``latent_sampler(count, seed)`` drawing z from the posteriors of ``rows`` of
    ``reference``, each encoded by ``encode`` under its row of ``condition``: a random
    molecule's mean plus its posterior noise, returned with that molecule's condition row
    (what the point is decoded under)."""
    mu, logvar = encode(reference.dataset(rows))
    sigma = torch.exp(0.5 * logvar)

    def draw(count: int, seed: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
        pick = torch.randint(0, len(mu), (count,), generator=gen)
        z = mu[pick] + torch.randn(count, mu.shape[1], generator=gen) * sigma[pick]
        return z, condition[pick]

    return draw
