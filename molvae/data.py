"""Turning molecules into training tensors: tokenization, splits and length-bucketed batches.

Every molecule either becomes a row of an ``EncodedDataset`` or a reject with its input row
number and reason (``SELFIES cannot encode``, ``token 'X' not in vocabulary``, ``too long``).
Token ids live in one flat array with offsets, so 1.6M molecules take tens of MB, not GB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from molvae import chem
from molvae.parallel import map_chunks
from molvae.tokenizers import TokenizationError, Vocabulary, get_tokenizer

__all__ = [
    "Batch",
    "EncodedDataset",
    "LengthBucketSampler",
    "collate",
    "compute_property_matrix",
    "encode_molecules",
    "split_indices",
    "tokenize_many",
]


def _tokenize_chunk(smiles: Sequence[str], representation: str) -> list[list[str] | str]:
    tokenizer = get_tokenizer(representation)
    out: list[list[str] | str] = []
    for s in smiles:
        try:
            out.append(tokenizer.smiles_to_tokens(s))
        except TokenizationError as exc:
            out.append(str(exc))
    return out


def tokenize_many(
    smiles: Sequence[str],
    representation: str,
    n_jobs: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> list[list[str] | str]:
    """Tokens for each SMILES, or the reason (a string) it cannot be tokenized."""
    return map_chunks(
        partial(_tokenize_chunk, representation=representation),
        list(smiles),
        n_jobs=n_jobs,
        on_chunk=on_chunk,
    )


def _properties_chunk(smiles: Sequence[str], names: Sequence[str]) -> list[list[float]]:
    out = []
    for s in smiles:
        values = chem.compute_properties(chem.parse_smiles(s), names)
        out.append([values[chem.get_property(n).name] for n in names])
    return out


def compute_property_matrix(
    smiles: Sequence[str],
    names: Sequence[str],
    n_jobs: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> np.ndarray:
    """RDKit properties (float32, shape (n, len(names))); NaN where RDKit fails."""
    if not names:
        return np.zeros((len(smiles), 0), dtype=np.float32)
    rows = map_chunks(
        partial(_properties_chunk, names=list(names)),
        list(smiles),
        n_jobs=n_jobs,
        chunk_size=2000,
        min_parallel=5000,
        on_chunk=on_chunk,
    )
    return np.asarray(rows, dtype=np.float32).reshape(len(smiles), len(names))


@dataclass
class EncodedDataset:
    """Tokenized molecules: ids (+eos) in a flat int16 array, with input rows and properties."""

    ids: np.ndarray  # flat token ids, each molecule followed by eos
    offsets: np.ndarray  # (n + 1,) start of each molecule in ``ids``
    rows: np.ndarray  # input row number of each molecule (for reports)
    smiles: list[str]  # canonical SMILES
    properties: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    property_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Sequence length of each molecule including eos."""
        return np.diff(self.offsets)

    def subset(self, index: np.ndarray) -> EncodedDataset:
        """A new dataset holding the molecules at ``index`` (in that order)."""
        index = np.asarray(index, dtype=np.int64)
        lengths = self.lengths[index]
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = (
            np.concatenate([self.ids[self.offsets[i] : self.offsets[i + 1]] for i in index])
            if len(index)
            else np.zeros(0, dtype=self.ids.dtype)
        )
        props = self.properties[index] if self.properties.size else self.properties
        return EncodedDataset(
            ids,
            offsets,
            self.rows[index],
            [self.smiles[i] for i in index],
            props,
            list(self.property_names),
        )


def encode_molecules(
    smiles: Sequence[str],
    rows: Sequence[int],
    representation: str,
    vocabulary: Vocabulary | None,
    max_length: int,
    n_jobs: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[EncodedDataset, Vocabulary, pd.DataFrame]:
    """Tokenize canonical SMILES, build (or apply) a vocabulary and encode to ids.

    Returns the dataset, the vocabulary, and a rejects frame (``row``, ``smiles``, ``reason``)
    with every molecule that could not be encoded. With a given ``vocabulary`` (fine-tuning),
    molecules holding tokens outside it are rejected naming the tokens.
    """
    tokenized = tokenize_many(smiles, representation, n_jobs=n_jobs, on_chunk=on_chunk)
    keep: list[int] = []
    rejects: list[tuple[int, str, str]] = []
    for i, toks in enumerate(tokenized):
        if isinstance(toks, str):
            rejects.append((rows[i], smiles[i], toks))
        elif len(toks) > max_length:
            rejects.append(
                (rows[i], smiles[i], f"too long ({len(toks)} tokens > max {max_length})")
            )
        else:
            keep.append(i)
    if vocabulary is None:
        vocabulary = Vocabulary.build(tokenized[i] for i in keep)
    kept: list[int] = []
    encoded: list[list[int]] = []
    for i in keep:
        missing = sorted({t for t in tokenized[i] if t not in vocabulary})
        if missing:
            names = ", ".join(repr(t) for t in missing)
            rejects.append((rows[i], smiles[i], f"token(s) not in vocabulary: {names}"))
            continue
        kept.append(i)
        encoded.append(vocabulary.encode(tokenized[i]) + [Vocabulary.eos_id])
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.fromiter((t for e in encoded for t in e), dtype=np.int16, count=int(offsets[-1]))
    dataset = EncodedDataset(
        ids=ids,
        offsets=offsets,
        rows=np.asarray([rows[i] for i in kept], dtype=np.int64),
        smiles=[smiles[i] for i in kept],
    )
    reject_frame = pd.DataFrame(rejects, columns=["row", "smiles", "reason"])
    return dataset, vocabulary, reject_frame


def split_indices(
    n: int, validation_fraction: float, validation_max: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation split of ``n`` items (validation at least 1 when n >= 2)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_val = min(int(round(n * validation_fraction)), validation_max)
    n_val = max(n_val, 1) if n >= 2 else 0
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


class LengthBucketSampler:
    """Epoch-deterministic batches of similar length (little padding, fast GRUs).

    Batch order is a pure function of (seed, epoch), so a resumed run replays the same epoch and
    skips the batches it already trained on.
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int, bucket_batches: int = 50):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.bucket = batch_size * bucket_batches

    def batches(self, epoch: int) -> list[np.ndarray]:
        """All batches (index arrays) of ``epoch``, shuffled."""
        rng = np.random.default_rng([self.seed, epoch])
        perm = rng.permutation(len(self.lengths))
        batches = []
        for start in range(0, len(perm), self.bucket):
            chunk = perm[start : start + self.bucket]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches.extend(
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            )
        order = rng.permutation(len(batches))
        return [batches[i] for i in order]

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size) if len(self.lengths) else 0

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.batches(0))


@dataclass
class Batch:
    """Padded tensors for one batch: encoder tokens (with eos), decoder inputs/targets."""

    tokens: Tensor  # (B, T): ids + eos, padded
    lengths: Tensor  # (B,)
    decoder_inputs: Tensor  # (B, T): bos + ids
    targets: Tensor  # (B, T): ids + eos (== tokens)
    properties: Tensor | None  # (B, P) standardized, NaN = missing
    index: np.ndarray

    def to(self, device: torch.device) -> Batch:
        return Batch(
            self.tokens.to(device),
            self.lengths.to(device),
            self.decoder_inputs.to(device),
            self.targets.to(device),
            None if self.properties is None else self.properties.to(device),
            self.index,
        )


def collate(
    dataset: EncodedDataset,
    index: np.ndarray,
    property_mean: np.ndarray | None = None,
    property_std: np.ndarray | None = None,
) -> Batch:
    """Build a padded ``Batch`` from dataset positions ``index``."""
    lengths = dataset.lengths[index]
    max_len = int(lengths.max())
    tokens = np.full((len(index), max_len), Vocabulary.pad_id, dtype=np.int64)
    for r, i in enumerate(index):
        tokens[r, : lengths[r]] = dataset.ids[dataset.offsets[i] : dataset.offsets[i + 1]]
    decoder_inputs = np.empty_like(tokens)
    decoder_inputs[:, 0] = Vocabulary.bos_id
    decoder_inputs[:, 1:] = tokens[:, :-1]
    decoder_inputs[decoder_inputs == Vocabulary.eos_id] = Vocabulary.pad_id
    props = None
    if dataset.properties.size:
        p = dataset.properties[index]
        if property_mean is not None and property_std is not None:
            p = (p - property_mean) / property_std
        props = torch.from_numpy(np.ascontiguousarray(p, dtype=np.float32))
    t = torch.from_numpy(tokens)
    return Batch(
        t,
        torch.from_numpy(lengths.astype(np.int64)),
        torch.from_numpy(decoder_inputs),
        t,
        props,
        np.asarray(index),
    )
