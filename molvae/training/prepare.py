"""Training data: read, canonicalize, tokenize, compute property targets, split, cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from molvae import chem
from molvae.data.encoded_cache import CachedDataset, cache_settings, create_entry, open_entry
from molvae.data.encoding import (
    EncodedDataset,
    compute_property_matrix,
    encode_molecules,
    split_indices,
)
from molvae.data.tables import read_molecules, reason_kinds
from molvae.errors import MolvaeError
from molvae.models.store import (
    atomic_write_bytes,
)
from molvae.runtime import file_sha256
from molvae.tokens import Vocabulary
from molvae.training.config import TrainConfig


@dataclass
class PreparedData:
    """A training set ready for batching, with everything needed to report on it."""

    train: EncodedDataset
    validation: EncodedDataset
    vocabulary: Vocabulary
    rejects: pd.DataFrame
    n_input_rows: int
    n_unused: int
    property_names: list[str]
    property_mean: np.ndarray
    property_std: np.ndarray
    data_sha256: str
    # Range of each property in the training split (NaN ignored): a conditional model's
    # ``condition_min``/``condition_max``.
    property_min: np.ndarray | None = None
    property_max: np.ndarray | None = None

    def condition_fields(self, conditions: list[str]) -> dict[str, list]:
        """``ModelConfig`` condition fields for ``conditions`` (each one of the properties):
        their names, training normalization and observed range."""
        at = [self.property_names.index(n) for n in conditions]
        low = self.property_min if self.property_min is not None else self.property_mean
        high = self.property_max if self.property_max is not None else self.property_mean
        return {
            "conditions": list(conditions),
            "condition_mean": [float(self.property_mean[i]) for i in at],
            "condition_std": [float(self.property_std[i]) for i in at],
            "condition_min": [float(low[i]) for i in at],
            "condition_max": [float(high[i]) for i in at],
        }


def resolve_conditions(cfg: TrainConfig) -> None:
    """Name ``cfg.conditions`` canonically (``logp`` is ``logP``) and make each one a property
    target too: an RDKit property, else a numeric column of the data."""
    resolved: list[str] = []
    rdkit = [chem.get_property(n).name for n in cfg.properties]
    for name in cfg.conditions:
        name = name.strip()
        if name.lower() in (n.lower() for n in cfg.property_columns):
            canonical = next(n for n in cfg.property_columns if n.lower() == name.lower())
        else:
            try:
                canonical = chem.get_property(name).name
            except KeyError:
                canonical = name
                cfg.property_columns = [*cfg.property_columns, name]
            else:
                if canonical not in rdkit:
                    rdkit.append(canonical)
                    cfg.properties = [*cfg.properties, canonical]
        if canonical in resolved:
            raise MolvaeError(f"condition {canonical!r} is given more than once")
        resolved.append(canonical)
    cfg.conditions = resolved


def _property_targets(
    entry: CachedDataset,
    names: list[str],
    columns: list[str],
    read_records: Callable[[], pd.DataFrame],
    status: Callable[[str], None],
) -> np.ndarray:
    """Property matrix (n, len(names) + len(columns)) float32, reusing cached columns.

    RDKit properties are computed only for the names the cache lacks (QED for MOSES takes
    tens of minutes); data columns are read from the file only when not cached.
    """
    dataset = entry.dataset
    values: dict[str, np.ndarray] = {}
    for name in names:
        cached = entry.load_property(f"property-{name}")
        if cached is not None:
            values[name] = cached
    missing = [n for n in names if n not in values]
    if missing:
        status(f"computing {', '.join(missing)} for {len(dataset):,} molecules")
        matrix = compute_property_matrix(dataset.smiles, missing)
        for j, name in enumerate(missing):
            values[name] = matrix[:, j]
            entry.store_property(f"property-{name}", matrix[:, j])
    elif names:
        status(f"using cached {', '.join(names)}")
    data_columns = []
    for col in columns:
        cached = entry.load_property(f"column-{col}")
        if cached is None:
            records = read_records()
            if col not in records.columns:
                raise MolvaeError(
                    f"property column {col!r} not in the data; columns: "
                    f"{', '.join(map(str, records.columns))}"
                )
            # Non-numeric and empty cells become NaN: masked in the loss, not dropped.
            cell = pd.to_numeric(records[col], errors="coerce").to_numpy()
            position = pd.Series(np.arange(len(records)), index=records["row"].to_numpy())
            cached = cell[position.loc[dataset.rows].to_numpy()].astype(np.float32)
            entry.store_property(f"column-{col}", cached)
        data_columns.append(cached)
    parts = [np.stack([values[n] for n in names], axis=1)] if names else []
    if data_columns:
        parts.append(np.stack(data_columns, axis=1).astype(np.float32))
    if not parts:
        return np.zeros((len(dataset), 0), dtype=np.float32)
    return np.concatenate(parts, axis=1).astype(np.float32)


def prepare_data(
    path: str | Path,
    cfg: TrainConfig,
    vocabulary: Vocabulary | None = None,
    property_names: list[str] | None = None,
    status: Callable[[str], None] = lambda s: None,
    cache: bool | str | Path = True,
) -> PreparedData:
    """Read, canonicalize, tokenize, compute property targets and split a molecule file.

    The encoded molecules and their property targets come from the dataset cache when a run
    with the same file and settings made them before (see ``molvae.data.encoded_cache``); ``cache``
    is True (user cache directory), a directory, or False (always recompute, write nothing).
    """

    path = Path(path)
    sha = file_sha256(path)
    if property_names is None:
        resolve_conditions(cfg)
    else:
        cfg.properties = [n for n in property_names if n in chem.PROPERTIES]
        cfg.property_columns = [n for n in property_names if n not in chem.PROPERTIES]
    settings = cache_settings(
        sha,
        smiles_column=cfg.smiles_column,
        standardize=cfg.standardize,
        max_molecules=cfg.max_molecules,
        seed=cfg.seed,
        representation=cfg.representation,
        max_length=cfg.max_length,
        vocabulary=vocabulary,
    )
    root = None if isinstance(cache, bool) else cache
    entry = open_entry(settings, root) if cache is not False else None
    records_memo: list[pd.DataFrame] = []

    def read_records() -> pd.DataFrame:
        if not records_memo:
            status(f"reading {path}")
            table = read_molecules(
                path, smiles_column=cfg.smiles_column, standardize=cfg.standardize
            )
            records_memo.extend([table.records.reset_index(drop=True), table.rejects])
        return records_memo[0]

    if entry is not None:
        status(f"using cached tokenized data ({len(entry.dataset):,} molecules, {entry.directory})")
    else:
        records = read_records()
        file_rejects = records_memo[1]
        n_input = len(records) + len(file_rejects)
        n_unused = 0
        if cfg.max_molecules is not None and len(records) > cfg.max_molecules:
            # A seeded random subset; the rest is counted as unused, not rejected.
            keep = np.sort(
                np.random.default_rng(cfg.seed).choice(
                    len(records), cfg.max_molecules, replace=False
                )
            )
            n_unused = len(records) - len(keep)
            records = records.iloc[keep].reset_index(drop=True)
        status(f"tokenizing {len(records):,} molecules ({cfg.representation})")
        dataset, built, rejects = encode_molecules(
            records["canonical"].tolist(),
            records["row"].tolist(),
            cfg.representation,
            vocabulary,
            cfg.max_length,
        )
        all_rejects = pd.concat(
            [file_rejects[["row", "smiles", "reason"]], rejects], ignore_index=True
        ).sort_values("row", kind="stable")
        if cache is False:
            entry = CachedDataset(None, dataset, built, all_rejects, n_input, n_unused)
        else:
            entry = create_entry(
                settings, dataset, built, all_rejects, n_input, n_unused, root, str(path)
            )
    dataset = entry.dataset
    if len(dataset) < 2:
        raise MolvaeError(f"{path}: fewer than 2 usable molecules (see the rejects for reasons)")
    names: list[str] = []
    if cfg.properties or cfg.property_columns:
        rdkit_names = [chem.get_property(n).name for n in cfg.properties]
        columns = list(cfg.property_columns)
        dataset.properties = _property_targets(entry, rdkit_names, columns, read_records, status)
        names = rdkit_names + columns
        dataset.property_names = names
    train_idx, val_idx = split_indices(
        len(dataset), cfg.validation_fraction, cfg.validation_max, cfg.seed
    )
    train_set, val_set = dataset.subset(train_idx), dataset.subset(val_idx)
    if names:
        mean = np.nanmean(train_set.properties, axis=0)
        std = np.nanstd(train_set.properties, axis=0)
        bad = [n for n, m in zip(names, mean, strict=True) if not np.isfinite(m)]
        if bad:
            raise MolvaeError(f"property {bad[0]!r} has no numeric values in the training split")
        std = np.where(np.isfinite(std) & (std > 1e-8), std, 1.0)
        low = np.nanmin(train_set.properties, axis=0)
        high = np.nanmax(train_set.properties, axis=0)
    else:
        mean = std = low = high = np.zeros(0)
    return PreparedData(
        train_set,
        val_set,
        entry.vocabulary,
        entry.rejects,
        entry.n_input_rows,
        entry.n_unused,
        names,
        mean.astype(np.float32),
        std.astype(np.float32),
        sha,
        low.astype(np.float32),
        high.astype(np.float32),
    )


def save_dataset(ds: EncodedDataset, directory: Path, name: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(
        directory / f"{name}.npz",
        ids=ds.ids,
        offsets=ds.offsets,
        rows=ds.rows,
        properties=ds.properties,
    )
    atomic_write_bytes(directory / f"{name}.smi", ("\n".join(ds.smiles) + "\n").encode())


def load_dataset(directory: Path, name: str, property_names: list[str]) -> EncodedDataset:
    with np.load(directory / f"{name}.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    smiles = (directory / f"{name}.smi").read_text().split("\n")[:-1]
    return EncodedDataset(
        arrays["ids"],
        arrays["offsets"],
        arrays["rows"],
        smiles,
        arrays["properties"],
        list(property_names),
    )


def reject_summary(rejects: pd.DataFrame, top_tokens: int = 8) -> str:
    """One line: rows left out per reason, with the missing tokens a fine-tuning set brought.

    E.g. ``token(s) not in vocabulary 3 ('[NH3+1]' x2, '[I]' x1), invalid SMILES 1``.
    """
    parts = []
    for kind, count in reason_counts(rejects).items():
        text = f"{kind} {count:,}"
        if kind.startswith("token(s) not in vocabulary"):
            tokens = (
                rejects["reason"].astype(str).str.extract(r"not in vocabulary: (.*)$")[0].dropna()
                .str.split(", ").explode().value_counts()
            )
            shown = ", ".join(f"{t} x{n:,}" for t, n in tokens.head(top_tokens).items())
            more = f", {len(tokens) - top_tokens} more" if len(tokens) > top_tokens else ""
            text += f" ({shown}{more})"
        parts.append(text)
    return ", ".join(parts)


def reason_counts(rejects: pd.DataFrame) -> dict[str, int]:
    if rejects.empty:
        return {}

    kind = reason_kinds(rejects["reason"])
    return {str(k): int(v) for k, v in kind.value_counts().items()}
