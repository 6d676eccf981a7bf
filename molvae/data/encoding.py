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
from molvae.runtime import map_chunks
from molvae.tokens import TokenizationError, Vocabulary, get_tokenizer

__all__ = [
    "Batch",
    "EncodedDataset",
    "LengthBucketSampler",
    "collate",
    "compute_property_matrix",
    "concat_datasets",
    "encode_molecules",
    "split_indices",
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
        ids = np.empty(int(offsets[-1]), dtype=self.ids.dtype)
        # Gather token positions with numpy, a bounded number of molecules at a time: one
        # Python slice per molecule takes ~1 s per million molecules, one int64 position per
        # token for all of MOSES at once would take 500 MB.
        step = 1 << 16
        for a in range(0, len(index), step):
            part, lens = index[a : a + step], lengths[a : a + step]
            shift = np.repeat(self.offsets[part] - offsets[a : a + len(part)], lens)
            ids[offsets[a] : offsets[a + len(part)]] = self.ids[
                np.arange(offsets[a], offsets[a + len(part)]) + shift
            ]
        props = self.properties[index] if self.properties.size else self.properties
        return EncodedDataset(
            ids,
            offsets,
            self.rows[index],
            [self.smiles[i] for i in index],
            props,
            list(self.property_names),
        )


def concat_datasets(first: EncodedDataset, second: EncodedDataset) -> EncodedDataset:
    """The molecules of ``first`` followed by those of ``second`` (same vocabulary)."""
    offsets = np.concatenate([first.offsets, second.offsets[1:] + first.offsets[-1]])
    if first.properties.size or second.properties.size:
        properties = np.concatenate([first.properties, second.properties])
    else:
        properties = first.properties
    return EncodedDataset(
        np.concatenate([first.ids, second.ids]),
        offsets,
        np.concatenate([first.rows, second.rows]).astype(np.int64),
        [*first.smiles, *second.smiles],
        properties,
        list(first.property_names),
    )


@dataclass
class _EncodedChunk:
    """One worker's tokenized chunk, compact for the trip back to the parent process.

    Token strings travel once per chunk (``tokens``); molecules travel as int32 ids into them,
    so pickling 4,000 molecules costs a few arrays instead of 150,000 small strings.
    """

    tokens: list[str]  # the chunk's distinct tokens, in order of first appearance
    counts: np.ndarray  # (len(tokens),) occurrences among the molecules kept by length
    ids: np.ndarray  # int32 ids into ``tokens``, molecules kept by length, concatenated
    lengths: np.ndarray  # (n,) token count of every input, -1 where tokenization failed
    kept: np.ndarray  # (n,) bool: tokenized and within max_length
    errors: list[tuple[int, str]]  # (position in chunk, reason), in input order


def _encode_chunk(
    smiles: Sequence[str], representation: str, max_length: int
) -> list[_EncodedChunk]:
    tokenizer = get_tokenizer(representation)
    local: dict[str, int] = {}
    ids: list[int] = []
    lengths = np.full(len(smiles), -1, dtype=np.int64)
    kept = np.zeros(len(smiles), dtype=bool)
    errors: list[tuple[int, str]] = []
    for i, s in enumerate(smiles):
        try:
            toks = tokenizer.smiles_to_tokens(s)
        except TokenizationError as exc:
            errors.append((i, str(exc)))
            continue
        lengths[i] = len(toks)
        if len(toks) > max_length:
            errors.append((i, f"too long ({len(toks)} tokens > max {max_length})"))
            continue
        kept[i] = True
        ids.extend(local.setdefault(t, len(local)) for t in toks)
    flat = np.asarray(ids, dtype=np.int32)
    counts = np.bincount(flat, minlength=len(local)).astype(np.int64)
    return [_EncodedChunk(list(local), counts, flat, lengths, kept, errors)]


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

    Tokenizing and id lookup run in worker processes (``n_jobs``, see ``map_chunks``); the
    parent only merges per-chunk token tables with numpy, so its serial share stays small
    enough for millions of molecules. The vocabulary is the one ``Vocabulary.build`` makes from
    the molecules that pass tokenization and ``max_length`` (most frequent token first).
    """
    smiles = list(smiles)
    chunks: list[_EncodedChunk] = map_chunks(
        partial(_encode_chunk, representation=representation, max_length=max_length),
        smiles,
        n_jobs=n_jobs,
        on_chunk=on_chunk,
    )
    rejects: list[tuple[int, str, str]] = []
    start = 0
    for chunk in chunks:
        rejects.extend((rows[start + i], smiles[start + i], r) for i, r in chunk.errors)
        start += len(chunk.lengths)
    if vocabulary is None:
        totals: dict[str, int] = {}
        for chunk in chunks:
            for token, count in zip(chunk.tokens, chunk.counts.tolist(), strict=True):
                totals[token] = totals.get(token, 0) + count
        vocabulary = Vocabulary.from_counts({t: c for t, c in totals.items() if c > 0})
    parts: list[np.ndarray] = []
    part_lengths: list[np.ndarray] = []
    kept_positions: list[np.ndarray] = []
    start = 0
    for chunk in chunks:
        positions = np.flatnonzero(chunk.kept)
        lengths = chunk.lengths[positions]
        lookup = np.asarray([vocabulary.index.get(t, -1) for t in chunk.tokens], dtype=np.int64)
        mapped = lookup[chunk.ids] if len(chunk.ids) else np.zeros(0, dtype=np.int64)
        # Which molecule each token belongs to; a molecule with any unknown token is rejected.
        owner = np.repeat(np.arange(len(positions)), lengths)
        unknown = np.bincount(owner[mapped < 0], minlength=len(positions)) > 0
        starts = np.concatenate([[0], np.cumsum(lengths)])
        for j in np.flatnonzero(unknown):
            local = chunk.ids[starts[j] : starts[j + 1]]
            missing = sorted({chunk.tokens[k] for k in local[lookup[local] < 0].tolist()})
            names = ", ".join(repr(t) for t in missing)
            i = start + int(positions[j])
            rejects.append((rows[i], smiles[i], f"token(s) not in vocabulary: {names}"))
        parts.append(mapped[~unknown[owner]])
        part_lengths.append(lengths[~unknown])
        kept_positions.append(start + positions[~unknown])
        start += len(chunk.lengths)
    token_ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    lengths = np.concatenate(part_lengths) if part_lengths else np.zeros(0, dtype=np.int64)
    kept = np.concatenate(kept_positions) if kept_positions else np.zeros(0, dtype=np.int64)
    # Each molecule's ids followed by eos, in one flat int16 array.
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=offsets[1:])
    ids = np.full(int(offsets[-1]), Vocabulary.eos_id, dtype=np.int16)
    ids[np.arange(len(token_ids)) + np.repeat(np.arange(len(lengths)), lengths)] = token_ids
    dataset = EncodedDataset(
        ids=ids,
        offsets=offsets,
        rows=np.asarray([rows[i] for i in kept.tolist()], dtype=np.int64),
        smiles=[smiles[i] for i in kept.tolist()],
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
