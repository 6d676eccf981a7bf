"""Training: from a molecule file to a checkpointed, resumable GRU VAE run directory.

Run directory layout::

    RUN_DIR/run.json          train + model config, data provenance (what ``--resume`` reads)
    RUN_DIR/data/             tokenized dataset cache (resume does not re-tokenize)
    RUN_DIR/rejects.csv       every input row that was not used, with the reason
    RUN_DIR/checkpoint/       latest weights + optimizer/RNG/step state (safetensors + JSON)
    RUN_DIR/model/            best model by validation loss (what ``--model RUN_DIR`` loads)
    RUN_DIR/metrics.jsonl     train log every ``log_every_steps`` and one validation row per epoch

Checkpoints are written to a temporary directory and swapped in, so a run killed at any moment
loses at most the work since the last checkpoint. The learning rate and beta are pure functions
of the step and the batch order a pure function of (seed, epoch), so resuming replays exactly.

The tokenized data and property targets also go to the user-level dataset cache
(``molvae.dataset_cache``), so the next run on the same file skips that work. With several
processes (``devices=N`` or torchrun; see ``molvae.distributed``) every rank runs the same loop
on its share of each global batch; rank 0 alone prepares data, logs and writes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from molvae import chem, distributed
from molvae._version import __version__
from molvae.annealing import kl_weight
from molvae.checkpoint import (
    WEIGHTS,
    ModelBundle,
    atomic_write_bytes,
    load_model_dir,
    load_training_state,
    replace_directory,
    save_model_dir,
    save_training_state,
)
from molvae.config import ModelConfig, TrainConfig, from_dict
from molvae.data import (
    EncodedDataset,
    LengthBucketSampler,
    collate,
    compute_property_matrix,
    encode_molecules,
    split_indices,
)
from molvae.dataset_cache import CachedDataset, cache_settings, create_entry, open_entry
from molvae.errors import MolvaeError
from molvae.model import GRUVAE, kl_divergence
from molvae.provenance import file_sha256
from molvae.tokenizers import Vocabulary, get_tokenizer

__all__ = ["TrainResult", "prepare_data", "resolve_device", "train", "vae_loss"]


# ----------------------------------------------------------------------------- devices


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU; an unavailable device is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise MolvaeError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MolvaeError(f"device {name!r} requested but CUDA is not available")
    return device


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """Mixed-precision dtype for ``precision`` on ``device`` (None = full fp32).

    ``auto`` uses bf16 on CUDA GPUs that support it (fp16 otherwise) and on CPUs with native
    bf16 instructions, where the GRU matmuls run about 2.5x faster than fp32 (measured in
    benchmarks/throughput.py); weights, optimizer and loss stay fp32.
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        with contextlib.suppress(Exception):
            if torch.ops.mkldnn._is_mkldnn_bf16_supported():
                return torch.bfloat16
    return None


# ----------------------------------------------------------------------------- data


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
    with the same file and settings made them before (see ``molvae.dataset_cache``); ``cache``
    is True (user cache directory), a directory, or False (always recompute, write nothing).
    """
    from molvae.io import read_molecules

    path = Path(path)
    sha = file_sha256(path)
    if property_names is not None:
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
    else:
        mean = std = np.zeros(0)
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
    )


def _save_dataset(ds: EncodedDataset, directory: Path, name: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(
        directory / f"{name}.npz",
        ids=ds.ids,
        offsets=ds.offsets,
        rows=ds.rows,
        properties=ds.properties,
    )
    atomic_write_bytes(directory / f"{name}.smi", ("\n".join(ds.smiles) + "\n").encode())


def _load_dataset(directory: Path, name: str, property_names: list[str]) -> EncodedDataset:
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


# ----------------------------------------------------------------------------- loss


def vae_loss(
    out: dict[str, torch.Tensor],
    targets: torch.Tensor,
    properties: torch.Tensor | None,
    beta: float,
    free_bits: float = 0.0,
    property_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Reconstruction (summed over tokens, mean over molecules) + beta * KL (+ property MSE).

    Padding is excluded from the reconstruction term. With ``free_bits`` > 0 each latent
    dimension's batch-mean KL below that many nats is not penalized (Kingma et al. 2016), which
    keeps units from collapsing. Missing property values (NaN) are masked out.
    """
    batch = targets.shape[0]
    logits = out["logits"].float()
    recon = (
        F.cross_entropy(
            logits.transpose(1, 2), targets, ignore_index=Vocabulary.pad_id, reduction="sum"
        )
        / batch
    )
    kl_dims = kl_divergence(out["mu"], out["logvar"]).mean(dim=0)
    kl = kl_dims.sum()
    kl_term = kl_dims.clamp(min=free_bits).sum() if free_bits > 0 else kl
    loss = recon + beta * kl_term
    result = {"recon": recon, "kl": kl}
    if properties is not None and "properties" in out:
        pred = out["properties"].float()  # (k, B, P)
        mask = torch.isfinite(properties)
        target = torch.where(mask, properties, torch.zeros_like(properties))
        err = (pred - target.unsqueeze(0)).pow(2) * mask.unsqueeze(0)
        prop_loss = err.sum() / (mask.sum().clamp(min=1) * pred.shape[0])
        loss = loss + property_weight * prop_loss
        result["property_mse"] = prop_loss
    result["loss"] = loss
    return result


def learning_rate(
    step: int, cfg: TrainConfig, total_steps: int, time_fraction: float = 0.0
) -> float:
    """Linear warm-up, then cosine decay from ``learning_rate`` to ``min_learning_rate``.

    ``time_fraction`` (the share of a time budget used, with ``schedule_by_time``) moves the
    decay along when the clock is further ahead than the steps, so a run stopped by its time
    limit has finished its anneal instead of stopping at a high learning rate.
    """
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(total_steps - cfg.warmup_steps, 1)
    progress = min(max(progress, time_fraction), 1.0)
    cos = 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.min_learning_rate + (cfg.learning_rate - cfg.min_learning_rate) * cos


# ----------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(
    model: GRUVAE,
    dataset: EncodedDataset,
    cfg: TrainConfig,
    bundle: ModelBundle,
    device: torch.device,
    amp: torch.dtype | None,
    beta: float,
) -> dict[str, Any]:
    """Validation loss terms, token accuracy, exact reconstruction, active units, property R^2."""
    model.eval()
    sampler = LengthBucketSampler(dataset.lengths, 512, seed=0)
    # Targets exist for the jointly trained properties only (fitted heads come first-class
    # from ``fit-property`` and keep their own normalization after them).
    n_joint = len(bundle.config.properties)
    mean = np.asarray(bundle.property_mean[:n_joint], dtype=np.float32) if n_joint else None
    std = np.asarray(bundle.property_std[:n_joint], dtype=np.float32) if n_joint else None
    totals = {"recon": 0.0, "kl": 0.0}
    correct = tokens = 0
    mus, preds, trues = [], [], []
    for index in sampler.batches(0):
        batch = collate(dataset, index, mean, std).to(device)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            out = model(batch.tokens, batch.lengths, batch.decoder_inputs, sample=False)
        terms = vae_loss(out, batch.targets, None, beta)
        for k in totals:
            totals[k] += float(terms[k]) * len(index)
        mask = batch.targets != Vocabulary.pad_id
        correct += int(((out["logits"].argmax(-1) == batch.targets) & mask).sum())
        tokens += int(mask.sum())
        mus.append(out["mu"].cpu())
        if "properties" in out:
            preds.append(out["properties"].float().mean(0).cpu())
            trues.append(batch.properties.cpu())
    n = len(dataset)
    mu = torch.cat(mus)
    result: dict[str, Any] = {
        "val_recon": totals["recon"] / n,
        "val_kl": totals["kl"] / n,
        "val_loss": (totals["recon"] + cfg.beta * totals["kl"]) / n,
        "val_token_accuracy": correct / max(tokens, 1),
        # A unit is active if its posterior mean varies across molecules (Burda et al. 2016).
        "active_units": int((mu.var(dim=0, correction=0) > 0.01).sum()),
    }
    if preds:
        pred = torch.cat(preds).numpy() * std + mean
        true = torch.cat(trues).numpy() * std + mean
        result["property_metrics"] = property_metrics(bundle.config.properties, pred, true)
    subset = np.arange(min(cfg.reconstruction_eval_size, n))
    if len(subset):
        result["val_exact_reconstruction"] = exact_reconstruction(
            model, dataset, subset, bundle, device, amp
        )
    model.train()
    return result


def property_metrics(names: list[str], pred: np.ndarray, true: np.ndarray) -> dict[str, dict]:
    """R^2 and MAE per property over rows where the true value is known."""
    out = {}
    for j, name in enumerate(names):
        ok = np.isfinite(true[:, j])
        if ok.sum() < 2:
            continue
        t, p = true[ok, j], pred[ok, j]
        ss_tot = float(((t - t.mean()) ** 2).sum())
        r2 = 1.0 - float(((t - p) ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
        out[name] = {"r2": r2, "mae": float(np.abs(t - p).mean()), "n": int(ok.sum())}
    return out


@torch.no_grad()
def exact_reconstruction(
    model: GRUVAE,
    dataset: EncodedDataset,
    index: np.ndarray,
    bundle: ModelBundle,
    device: torch.device,
    amp: torch.dtype | None,
) -> float:
    """Fraction of molecules whose greedy decoding of mu gives the same canonical SMILES."""
    tokenizer = get_tokenizer(bundle.representation)
    hits = 0
    for start in range(0, len(index), 512):
        batch = collate(dataset, index[start : start + 512]).to(device)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            mu, _ = model.encode(batch.tokens, batch.lengths)
            ids = model.generate(mu, strategy="greedy")
        for row, i in zip(ids.cpu().numpy(), batch.index, strict=True):
            decoded = tokenizer.to_smiles(tokenizer.detokenize(bundle.vocabulary.decode(row)))
            hits += int(chem.canonical_smiles(decoded or "") == dataset.smiles[i])
    return hits / max(len(index), 1)


# ----------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    """Where the run put things and how it ended."""

    run_dir: Path
    model_dir: Path
    steps: int
    epochs_completed: int
    best_val_loss: float
    stopped: str
    wall_seconds: float


class _StopFlag:
    """SIGINT/SIGTERM ask the loop to checkpoint and stop at the next step.

    A second signal a second or more after the first stops at once. Signals closer together
    are one request: Ctrl-C under torchrun reaches each rank from the terminal and again from
    torchrun, and the rank should still write its checkpoint.
    """

    def __init__(self) -> None:
        self.requested = False
        self._first = 0.0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not in the main thread
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            if time.monotonic() - self._first >= 1.0:  # a second request: stop now
                raise KeyboardInterrupt
            return
        self.requested = True
        self._first = time.monotonic()

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _optimizer_state_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _restore_optimizer(opt: torch.optim.Optimizer, tensors: dict, info: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for name, value in info.get("scalars", {}).items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})


def _write_run_json(run_dir: Path, cfg: TrainConfig, model_cfg: ModelConfig, extra: dict) -> None:
    _save_run_json(run_dir, {"train": asdict(cfg), "model": asdict(model_cfg), **extra})


def _save_run_json(run_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(run_dir / "run.json", json.dumps(data, indent=1).encode())


@dataclass
class _Run:
    """A run directory's recipe and data, ready to train (fresh, resumed, or one DDP rank)."""

    cfg: TrainConfig
    model_cfg: ModelConfig
    vocabulary: Vocabulary
    train_set: EncodedDataset
    val_set: EncodedDataset
    prop_mean: np.ndarray
    prop_std: np.ndarray
    data_info: dict[str, Any]
    init_model: GRUVAE | None = None  # fine-tuning start weights, loaded when first needed


def _read_run_json(run_dir: Path) -> dict[str, Any]:
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise MolvaeError(f"{run_dir}: nothing to resume (no run.json)")
    return json.loads(run_json.read_text())


def _open_run(run_dir: Path) -> _Run:
    """A run as written by ``_create_run``: what ``--resume`` and DDP ranks other than 0 read."""
    saved = _read_run_json(run_dir)
    run_json = run_dir / "run.json"
    cfg = from_dict(TrainConfig, saved["train"], where=f"{run_json} train")
    model_cfg = from_dict(ModelConfig, saved["model"], where=f"{run_json} model")
    names = list(model_cfg.properties)
    data_info = saved["data"]
    return _Run(
        cfg,
        model_cfg,
        Vocabulary.from_dict(saved["vocabulary"]),
        _load_dataset(run_dir / "data", "train", names),
        _load_dataset(run_dir / "data", "validation", names),
        np.asarray(data_info["property_mean"], dtype=np.float32),
        np.asarray(data_info["property_std"], dtype=np.float32),
        data_info,
    )


def _lineage(model_dir: Path, training: dict[str, Any]) -> dict[str, Any]:
    """What a fine-tuned model was started from, to store in its training record.

    ``training`` is the parent's training record as loaded with it. A path means nothing on
    another machine; the hash of the parent's weights identifies it, and its own training
    record (with its own parent, if it was fine-tuned too) says how it was made, so the steps
    and wall time behind a model add up along the chain.
    """
    record = {k: training.get(k) for k in ("data_sha256", "train_molecules", "steps",
                                           "wall_seconds", "saved_at", "parent")}
    return {"weights_sha256": file_sha256(model_dir / WEIGHTS), **record}


def _create_run(
    data_path: str | Path | None,
    run_dir: Path,
    cfg: TrainConfig | None,
    model_cfg: ModelConfig | None,
    init_from: str | Path | None,
    status: Callable[[str], None],
) -> _Run:
    """Prepare the data (or take it from the dataset cache) and write a new run directory."""
    if data_path is None:
        raise MolvaeError("a data file is required unless --resume is given")
    cfg = cfg or TrainConfig()
    model_cfg = model_cfg or ModelConfig()
    cfg.validate()
    if (run_dir / "run.json").exists():
        raise MolvaeError(
            f"{run_dir} already holds a run; use --resume to continue it or choose another --out"
        )
    init_model = init_bundle = None
    vocabulary = None
    fixed_props = None
    if init_from is not None:
        init_model, init_bundle = load_model_dir(init_from)
        vocabulary = init_bundle.vocabulary
        cfg.representation = init_bundle.representation
        model_cfg = init_bundle.config
        fixed_props = list(model_cfg.properties)
    prep = prepare_data(data_path, cfg, vocabulary, fixed_props, status=status)
    vocabulary = prep.vocabulary
    model_cfg.vocab_size = len(vocabulary)
    model_cfg.max_length = max(model_cfg.max_length, cfg.max_length + 1)
    model_cfg.properties = list(prep.property_names)
    train_set, val_set = prep.train, prep.validation
    prop_mean, prop_std = prep.property_mean, prep.property_std
    if init_bundle is not None and init_bundle.property_mean:
        # Keep the parent's normalization so its predictor head stays meaningful.
        prop_mean = np.asarray(init_bundle.property_mean, dtype=np.float32)
        prop_std = np.asarray(init_bundle.property_std, dtype=np.float32)
    run_dir.mkdir(parents=True, exist_ok=True)
    prep.rejects.to_csv(run_dir / "rejects.csv", index=False)
    data_info = {
        "path": str(Path(data_path).resolve()),
        "sha256": prep.data_sha256,
        "input_rows": prep.n_input_rows,
        "rejected": len(prep.rejects),
        "unused": prep.n_unused,
        "train": len(train_set),
        "validation": len(val_set),
        "reject_reasons": _reason_counts(prep.rejects),
        "property_mean": prop_mean.tolist(),
        "property_std": prop_std.tolist(),
        "init_from": str(init_from) if init_from else None,
        "parent": _lineage(Path(init_from), init_bundle.training) if init_bundle else None,
    }
    from molvae.api import TRAINING_INDEX, save_training_set_index

    save_training_set_index(train_set.smiles + val_set.smiles, run_dir / TRAINING_INDEX)
    _save_dataset(train_set, run_dir / "data", "train")
    _save_dataset(val_set, run_dir / "data", "validation")
    _write_run_json(
        run_dir, cfg, model_cfg, {"vocabulary": vocabulary.to_dict(), "data": data_info}
    )
    status(
        f"{prep.n_input_rows:,} input rows: {len(train_set):,} train, {len(val_set):,} "
        f"validation, {len(prep.rejects):,} rejected"
        + (f", {prep.n_unused:,} unused (max_molecules)" if prep.n_unused else "")
        + (f" (reasons in {run_dir / 'rejects.csv'})" if len(prep.rejects) else "")
    )
    if len(prep.rejects):
        status(f"left out: {_reject_summary(prep.rejects)}")
    return _Run(
        cfg,
        model_cfg,
        vocabulary,
        train_set,
        val_set,
        prop_mean,
        prop_std,
        data_info,
        init_model,
    )


def _rank_device(name: str, local_rank: int) -> torch.device:
    """The device of one DDP rank: the GPU of its local rank, or the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = resolve_device(name)
    if device.type != "cuda":
        return device
    if device.index is not None:
        raise MolvaeError(
            f"--device {name}: with several processes each one takes the GPU of its local "
            "rank; use --device cuda (or auto)"
        )
    if local_rank >= torch.cuda.device_count():
        raise MolvaeError(
            f"local rank {local_rank} has no GPU: this machine has "
            f"{torch.cuda.device_count()} CUDA device(s)"
        )
    device = torch.device("cuda", local_rank)
    torch.cuda.set_device(device)
    return device


def _rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """A seed for rank ``rank`` > 0 (rank 0 keeps the single-process random stream)."""
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])


@dataclass
class _Request:
    """What ``train`` was asked to do: handed to the local launcher and to every DDP rank."""

    data_path: str | Path | None
    run_dir: Path
    cfg: TrainConfig | None
    model_cfg: ModelConfig | None
    resume: bool
    init_from: str | Path | None
    progress: bool
    status: Callable[[str], None] | None
    stop_after_steps: int | None


def train(
    data_path: str | Path | None,
    run_dir: str | Path,
    cfg: TrainConfig | None = None,
    model_cfg: ModelConfig | None = None,
    resume: bool = False,
    init_from: str | Path | None = None,
    progress: bool = True,
    status: Callable[[str], None] = print,
    stop_after_steps: int | None = None,
    devices: int | None = None,
    resume_epochs: int | None = None,
) -> TrainResult:
    """Train a GRU VAE on ``data_path`` into ``run_dir`` (or continue it with ``resume``).

    ``resume_epochs`` (with ``resume``) changes the run's length: the cosine learning-rate
    schedule and the last epoch follow the new value from the next step on, and ``run.json``
    records it. Shortening a long run this way anneals it now instead of epochs later.

    ``init_from`` starts from an existing model (fine-tuning; a path, a run directory or a
    bundled model's name such as ``"default"``): its architecture and vocabulary are kept and
    molecules with unknown tokens are rejected with those tokens named.
    ``stop_after_steps`` ends the run right after that global step's checkpoint, as if killed
    (used to test resuming).

    Data-parallel training (DistributedDataParallel): ``devices=N`` > 1 prepares the data here,
    then trains in N processes on this machine (one per GPU, or N gloo processes on the CPU).
    A process started by torchrun (``RANK``/``WORLD_SIZE`` set) joins its job instead; rank 0
    prepares the data while the others wait. ``cfg.batch_size`` is the global batch: each
    step's batch is split across the processes and their gradients averaged, so the loss curve
    and learning rate are those of one process with the same batch size. Only rank 0 logs and
    writes checkpoints, metrics and the model.
    """
    if init_from is not None:
        # A model directory, a training run directory, or a bundled model's name ("default").
        from molvae.api import resolve_model_path

        init_from = resolve_model_path(init_from)
    request = _Request(
        data_path,
        Path(run_dir),
        cfg,
        model_cfg,
        resume,
        init_from,
        progress,
        status,
        stop_after_steps,
    )
    started = time.monotonic()
    if devices is not None and devices < 1:
        raise MolvaeError(f"--devices must be at least 1, got {devices}")
    if resume_epochs is not None:
        if not resume:
            raise MolvaeError("resume_epochs needs resume (a new run takes cfg.epochs)")
        _set_run_epochs(Path(run_dir), resume_epochs, status)
    env = distributed.environment()
    if env is not None:
        if devices is not None and devices != env.world_size and env.rank == 0:
            status(f"--devices {devices} ignored: torchrun started {env.world_size} processes")
        return _train_rank(env, request, run_created=False)
    if devices is not None and devices > 1:
        return _launch(devices, request)
    if resume:
        run = _open_run(request.run_dir)
    else:
        run = _create_run(data_path, request.run_dir, cfg, model_cfg, init_from, status)
    device = resolve_device(run.cfg.device)
    return _fit(run, request, started, device, None)


def _set_run_epochs(run_dir: Path, epochs: int, status: Callable[[str], None]) -> None:
    """Rewrite the run's ``epochs`` in ``run.json`` (what every later resume and rank reads)."""
    if epochs < 1:
        raise MolvaeError(f"--epochs must be at least 1, got {epochs}")
    saved = _read_run_json(run_dir)
    before = saved["train"]["epochs"]
    if before != epochs:
        saved["train"]["epochs"] = epochs
        _save_run_json(run_dir, saved)
        status(f"run length changed from {before} to {epochs} epochs")


def _launch(devices: int, request: _Request) -> TrainResult:
    """``--devices N``: prepare the run once in this process, then train in N spawned ranks."""
    status = request.status or print
    if request.resume:
        device_name = from_dict(TrainConfig, _read_run_json(request.run_dir)["train"]).device
    else:
        device_name = (request.cfg or TrainConfig()).device
    wants_cuda = device_name.startswith("cuda") or (
        device_name == "auto" and torch.cuda.is_available()
    )
    if wants_cuda and devices > torch.cuda.device_count():
        raise MolvaeError(
            f"--devices {devices}: this machine has {torch.cuda.device_count()} CUDA device(s); "
            "use torchrun to train on several machines"
        )
    if not request.resume:
        # Tokenizing and RDKit properties happen here, once, before any rank exists.
        r = request
        _create_run(r.data_path, r.run_dir, r.cfg, r.model_cfg, r.init_from, status)
    status(f"starting {devices} training processes ({'nccl' if wants_cuda else 'gloo'})")
    # The ranks get this request by pickling: a lambda status becomes printing to stderr.
    spawned = replace(
        request,
        data_path=None,
        cfg=None,
        model_cfg=None,
        status=status if distributed.picklable(status) else None,
    )
    return distributed.launch_local(devices, _spawned_rank, (spawned,))


def _spawned_rank(request: _Request) -> TrainResult:
    """Body of one rank started by ``_launch`` (the run directory already exists)."""
    env = distributed.environment()
    if env is None:
        raise MolvaeError("a training rank was started without RANK/WORLD_SIZE")
    return _train_rank(env, request, run_created=True)


def _train_rank(env: distributed.DistEnv, request: _Request, run_created: bool) -> TrainResult:
    """One DDP rank: join the group, get the run (rank 0 creates a new one), train."""
    started = time.monotonic()
    r = request
    if r.resume or run_created:
        device_name = from_dict(TrainConfig, _read_run_json(r.run_dir)["train"]).device
    else:
        device_name = (r.cfg or TrainConfig()).device
    device = _rank_device(device_name, env.local_rank)
    status = r.status or distributed.print_status
    quiet_unless_main = replace(r, status=status if env.rank == 0 else (lambda s: None))
    with distributed.ProcessGroup(env, device) as group:
        run = None
        if not (r.resume or run_created):
            ok = False
            try:
                if group.is_main:
                    run = _create_run(
                        r.data_path, r.run_dir, r.cfg, r.model_cfg, r.init_from, status
                    )
                ok = True
            finally:
                # Collective: the other ranks wait here while rank 0 prepares the data.
                all_ok = group.setup_done(ok)
            if not all_ok:
                raise MolvaeError("rank 0 could not prepare the run (see its error)")
        if run is None:
            run = _open_run(r.run_dir)
        return _fit(run, quiet_unless_main, started, device, group)


def _parallel_info(cfg: TrainConfig, group: distributed.ProcessGroup | None) -> dict[str, Any]:
    world = 1 if group is None else group.world_size
    return {
        "world_size": world,
        "backend": None if group is None else group.backend,
        "global_batch_size": cfg.batch_size,
        "batch_size_per_process": round(cfg.batch_size / world, 2),
        "learning_rate": cfg.learning_rate,
        "batch_semantics": "batch_size is global: each step's batch is split across processes",
    }


def _fit(
    run: _Run,
    request: _Request,
    started: float,
    device: torch.device,
    group: distributed.ProcessGroup | None,
) -> TrainResult:
    """The training loop; with ``group`` this process is one rank of a DDP job."""
    run_dir, resume, progress = request.run_dir, request.resume, request.progress
    status = request.status or print
    stop_after_steps = request.stop_after_steps
    cfg, model_cfg, vocabulary = run.cfg, run.model_cfg, run.vocabulary
    train_set, val_set = run.train_set, run.val_set
    prop_mean, prop_std, data_info = run.prop_mean, run.prop_std, run.data_info
    is_main = group is None or group.is_main
    rank = 0 if group is None else group.rank
    world = 1 if group is None else group.world_size
    amp = autocast_dtype(cfg.precision, device)
    torch.manual_seed(cfg.seed)
    model = GRUVAE(model_cfg).to(device)
    ckpt = _latest_checkpoint(run_dir) if resume else None
    if resume and ckpt is None:
        status("no checkpoint yet: starting the run from step 0")
    if ckpt is None and (run.init_model is not None or data_info.get("init_from")):
        if run.init_model is None:  # a rank that did not create the run loads it itself
            run.init_model, _ = load_model_dir(data_info["init_from"])
        model.load_state_dict(run.init_model.state_dict())
    if rank > 0:
        # Each rank draws its own reparameterization noise and word dropout.
        torch.manual_seed(_rank_seed(cfg.seed, rank))
    bundle = ModelBundle(
        model_cfg,
        vocabulary,
        cfg.representation,
        prop_mean.tolist(),
        prop_std.tolist(),
        training={
            "data_sha256": data_info["sha256"],
            "data_path": data_info["path"],
            "molvae_version": __version__,
            "train_config": asdict(cfg),
            "train_molecules": len(train_set),
            "init_from": data_info.get("init_from"),
            "parent": data_info.get("parent"),
        },
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
    )
    scaler = (
        torch.amp.GradScaler("cuda") if amp == torch.float16 and device.type == "cuda" else None
    )
    n_joint = len(model_cfg.properties)
    joint_mean, joint_std = prop_mean[:n_joint], prop_std[:n_joint]
    sampler = LengthBucketSampler(train_set.lengths, cfg.batch_size, cfg.seed)
    steps_per_epoch = len(sampler)
    total_steps = steps_per_epoch * cfg.epochs
    state = {
        "step": 0,
        "epoch": 0,
        "batch_in_epoch": 0,
        "best_val_loss": float("inf"),
        "bad_epochs": 0,
        "wall_seconds": 0.0,
        "history": [],
    }
    if ckpt is not None:
        tensors, info = load_training_state(ckpt)
        weights, _ = load_model_dir(ckpt)
        model.load_state_dict(weights.state_dict())
        _restore_optimizer(optimizer, tensors, info["optimizer"])
        state.update(info["counters"])
        suffix = "" if rank == 0 else f".rank{rank}"
        if f"rng.torch{suffix}" in tensors:
            torch.set_rng_state(tensors[f"rng.torch{suffix}"])
            if device.type == "cuda" and f"rng.cuda{suffix}" in tensors:
                torch.cuda.set_rng_state(tensors[f"rng.cuda{suffix}"])
        else:
            # Saved by fewer processes: this rank's noise starts afresh (still seeded).
            torch.manual_seed(_rank_seed(cfg.seed, rank, int(state["step"])))
        saved_world = int(info.get("world_size", 1))
        status(
            f"resuming at step {state['step']} (epoch {state['epoch'] + 1}, "
            f"batch {state['batch_in_epoch']})"
            + (f"; checkpoint written by {saved_world} process(es)" if saved_world != world else "")
        )
    net: torch.nn.Module = model
    if group is not None:
        from torch.nn.parallel import DistributedDataParallel

        # Heads added by ``fit-property`` take no part in the VAE loss: DDP must not wait for
        # their gradients (one process leaves them alone just the same, they get none).
        for param in model.fitted_predictors.parameters():
            param.requires_grad_(False)
        net = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
        status(
            f"data-parallel: {world} processes ({group.backend}, {device.type}); global batch "
            f"{cfg.batch_size} (about {cfg.batch_size / world:.1f} per process), learning rate "
            f"{cfg.learning_rate:g}: as one process with batch {cfg.batch_size}"
        )
    if is_main:
        saved = json.loads((run_dir / "run.json").read_text())
        if saved.get("parallel") != _parallel_info(cfg, group):
            saved["parallel"] = _parallel_info(cfg, group)
            atomic_write_bytes(run_dir / "run.json", json.dumps(saved, indent=1).encode())

    metrics_path = run_dir / "metrics.jsonl"

    def log(row: dict[str, Any]) -> None:
        if is_main:
            with open(metrics_path, "a") as fh:
                fh.write(json.dumps(row) + "\n")

    def write_swapped(name: str, rng: dict[str, torch.Tensor] | None) -> None:
        # Written in full under a temporary name, then swapped in (see replace_directory).
        tmp = run_dir / f"{name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        save_model_dir(model, bundle, tmp)
        if rng is not None:
            tensors, opt_info = _optimizer_state_tensors(optimizer)
            tensors.update(rng)
            info: dict[str, Any] = {"optimizer": opt_info, "counters": state}
            if world > 1:
                info["world_size"] = world
            save_training_state(tmp, tensors, info)
        replace_directory(tmp, run_dir / name)

    def rng_states() -> dict[str, torch.Tensor]:
        # Every rank's generator state, so a resumed run draws the same noise on every rank.
        own = {"rng.torch": torch.get_rng_state()}
        if device.type == "cuda":
            own["rng.cuda"] = torch.cuda.get_rng_state(device)
        if group is None:
            return own
        states = {}
        for key, tensor in own.items():
            for r, gathered in enumerate(group.gather_bytes(tensor)):
                states[key if r == 0 else f"{key}.rank{r}"] = gathered
        return states

    def checkpoint(is_best: bool, val: dict | None = None) -> None:
        rng = rng_states()  # a collective under DDP: every rank comes here at the same steps
        if not is_main:
            return
        state["wall_seconds"] = wall_before + (time.monotonic() - started)
        bundle.training["steps"] = state["step"]
        bundle.training["wall_seconds"] = round(state["wall_seconds"], 1)
        bundle.training["hardware"] = _hardware(device)
        if world > 1:
            bundle.training["processes"] = world
        write_swapped("checkpoint", rng)
        if is_best:
            if val is not None:
                bundle.metrics = {k: v for k, v in val.items() if k != "property_metrics"}
                bundle.property_metrics = val.get("property_metrics", {})
            write_swapped("model", None)

    wall_before = float(state["wall_seconds"])
    deadline = started + cfg.max_minutes * 60 if cfg.max_minutes else None
    stopped = "epochs"
    model.train()
    progress_ctx = _progress(progress and is_main)
    with _StopFlag() as stop_flag, progress_ctx as bar:
        task = bar.add_task("training", total=total_steps, completed=state["step"], info="")
        window = {
            "mols": 0,
            "t": time.monotonic(),
            "loss": 0.0,
            "recon": 0.0,
            "kl": 0.0,
            "n": 0,
            "prop": 0.0,
        }
        def beta_at(step: int) -> float:
            return kl_weight(
                step, cfg.kl_schedule, cfg.beta, cfg.kl_warmup_steps, cfg.kl_start_step,
                cfg.kl_cycles,
            )

        while state["epoch"] < cfg.epochs:
            batches = sampler.batches(state["epoch"])
            # Defined even when a resume lands after an epoch's last batch, before validation.
            beta = beta_at(state["step"])
            while state["batch_in_epoch"] < len(batches):
                index = batches[state["batch_in_epoch"]]
                share = 1.0
                local = index
                if group is not None:
                    local, share = distributed.shard_batch(index, rank, world)
                step = state["step"]
                batch = collate(train_set, local, joint_mean, joint_std).to(device)
                if cfg.word_dropout > 0:
                    drop = torch.rand(batch.decoder_inputs.shape, device=device) < cfg.word_dropout
                    drop[:, 0] = False  # keep bos
                    drop &= batch.decoder_inputs != Vocabulary.pad_id
                    batch.decoder_inputs = batch.decoder_inputs.masked_fill(drop, Vocabulary.unk_id)
                clock = (
                    (time.monotonic() - started) / (cfg.max_minutes * 60)
                    if cfg.schedule_by_time and cfg.max_minutes
                    else 0.0
                )
                lr = learning_rate(step, cfg, total_steps, clock)
                for group_ in optimizer.param_groups:
                    group_["lr"] = lr
                beta = beta_at(step)
                with torch.autocast(
                    device.type, dtype=amp or torch.float32, enabled=amp is not None
                ):
                    out = net(batch.tokens, batch.lengths, batch.decoder_inputs)
                terms = vae_loss(
                    out, batch.targets, batch.properties, beta, cfg.free_bits, cfg.property_weight
                )
                # DDP averages gradients over ranks; weighting each rank's mean loss by its
                # share of the molecules makes that the gradient of the global batch's mean.
                # Exact for reconstruction and KL; free bits (clamped per-shard KL means) and
                # properties with missing values (per-shard counts) are close, not identical.
                objective = terms["loss"] if group is None else terms["loss"] * (share * world)
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(objective).backward()
                    scaler.unscale_(optimizer)
                else:
                    objective.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                state["step"] += 1
                state["batch_in_epoch"] += 1
                window["mols"] += len(index)
                window["n"] += 1
                for key, term in (
                    ("loss", "loss"),
                    ("recon", "recon"),
                    ("kl", "kl"),
                    ("prop", "property_mse"),
                ):
                    if term in terms:
                        value = float(terms[term].detach())
                        window[key] += value if group is None else value * share
                if not math.isfinite(float(terms["loss"].detach())):
                    raise MolvaeError(
                        f"loss became {float(terms['loss'])} at step {step}; try a lower "
                        "learning rate or --precision fp32"
                    )
                if state["step"] % cfg.log_every_steps == 0 or state["batch_in_epoch"] == len(
                    batches
                ):
                    if group is not None:  # each rank holds its share of the batch means
                        keys = ("loss", "recon", "kl", "prop")
                        window.update(zip(keys, group.sum([window[k] for k in keys]), strict=True))
                    elapsed = max(time.monotonic() - window["t"], 1e-9)
                    n = max(window["n"], 1)
                    row = {
                        "split": "train",
                        "step": state["step"],
                        "epoch": state["epoch"] + 1,
                        "loss": window["loss"] / n,
                        "recon": window["recon"] / n,
                        "kl": window["kl"] / n,
                        "beta": beta,
                        "lr": lr,
                        "molecules_per_s": window["mols"] / elapsed,
                    }
                    if model_cfg.properties:
                        row["property_mse"] = window["prop"] / n
                    log(row)
                    bar.update(
                        task,
                        completed=state["step"],
                        info=(
                            f"loss {row['loss']:.2f} recon {row['recon']:.2f} kl {row['kl']:.2f} "
                            f"beta {beta:.3f} {row['molecules_per_s']:.0f} mol/s"
                        ),
                    )
                    window.update(
                        mols=0, t=time.monotonic(), loss=0.0, recon=0.0, kl=0.0, n=0, prop=0.0
                    )
                requested = stop_flag.requested
                out_of_time = deadline is not None and time.monotonic() >= deadline
                if group is not None:  # every rank stops at the same step
                    requested, out_of_time = group.any([requested, out_of_time])
                if requested or out_of_time:
                    stopped = "signal" if requested else "max_minutes"
                    break
                if state["step"] % cfg.checkpoint_every_steps == 0:
                    checkpoint(is_best=False)
                if stop_after_steps is not None and state["step"] >= stop_after_steps:
                    checkpoint(is_best=False)
                    return TrainResult(
                        run_dir,
                        run_dir / "model",
                        state["step"],
                        state["epoch"],
                        state["best_val_loss"],
                        "stop_after_steps",
                        state["wall_seconds"],
                    )
            epoch_done = state["batch_in_epoch"] >= len(batches)
            # Rank 0 validates; the others only need the loss, for the same decisions.
            val: dict[str, Any] = {}
            if is_main:
                val = evaluate(model, val_set, cfg, bundle, device, amp, beta)
            if group is not None:
                val["val_loss"] = group.broadcast([val.get("val_loss", 0.0)])[0]
            val.update(
                split="validation",
                step=state["step"],
                epoch=state["epoch"] + 1,
                epoch_complete=epoch_done,
            )
            log(val)
            is_best = val["val_loss"] < state["best_val_loss"]
            if is_best:
                state["best_val_loss"] = val["val_loss"]
                state["bad_epochs"] = 0
            elif epoch_done:
                state["bad_epochs"] += 1
            if epoch_done:
                state["epoch"] += 1
                state["batch_in_epoch"] = 0
            if is_main:
                summary = (
                    f"epoch {val['epoch']}: val loss {val['val_loss']:.3f} recon "
                    f"{val['val_recon']:.3f} kl {val['val_kl']:.2f} token acc "
                    f"{val['val_token_accuracy']:.3f} exact "
                    f"{val.get('val_exact_reconstruction', 0):.3f} "
                    f"active units {val['active_units']}/{model_cfg.latent_dim}"
                )
                if progress:
                    bar.console.print(summary, highlight=False, soft_wrap=True)
                else:
                    status(summary)
            checkpoint(is_best=is_best, val=val)
            if cfg.metrics_format == "csv" and is_main:
                _write_metrics_csv(metrics_path, run_dir / "metrics.csv")
            if not epoch_done:
                break
            if state["bad_epochs"] >= cfg.early_stopping_patience:
                stopped = "early_stopping"
                break
    if is_main and not (run_dir / "model").exists():
        raise MolvaeError(f"{run_dir}: training stopped before any validation; nothing saved")
    return TrainResult(
        run_dir,
        run_dir / "model",
        state["step"],
        state["epoch"],
        state["best_val_loss"],
        stopped,
        state["wall_seconds"],
    )


def _latest_checkpoint(run_dir: Path) -> Path | None:
    for name in ("checkpoint", "checkpoint.old"):  # .old survives a kill mid-swap
        candidate = run_dir / name
        if (candidate / "state.json").is_file():
            return candidate
    return None


def _reject_summary(rejects: pd.DataFrame, top_tokens: int = 8) -> str:
    """One line: rows left out per reason, with the missing tokens a fine-tuning set brought.

    E.g. ``token(s) not in vocabulary 3 ('[NH3+1]' x2, '[I]' x1), invalid SMILES 1``.
    """
    parts = []
    for kind, count in _reason_counts(rejects).items():
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


def _reason_counts(rejects: pd.DataFrame) -> dict[str, int]:
    if rejects.empty:
        return {}
    from molvae.io import reason_kinds

    kind = reason_kinds(rejects["reason"])
    return {str(k): int(v) for k, v in kind.value_counts().items()}


def _write_metrics_csv(jsonl: Path, csv: Path) -> None:
    rows = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    flat = pd.json_normalize(rows)
    atomic_write_bytes(csv, flat.to_csv(index=False).encode())


def _hardware(device: torch.device) -> str:
    from molvae.provenance import machine_summary

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return machine_summary()


def _progress(enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        disable=not enabled,
        transient=False,
    )


def now_iso() -> str:
    """UTC timestamp for provenance fields."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
