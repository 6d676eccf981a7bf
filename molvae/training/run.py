"""The run directory: run.json, lineage of fine-tuned models, checkpoints and metrics files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molvae.data.encoding import (
    EncodedDataset,
)
from molvae.data.index import TRAINING_INDEX, save_training_set_index
from molvae.errors import MolvaeError
from molvae.generation.reference import REFERENCE_FILE, reference_from_dataset, save_reference
from molvae.models.config import ModelConfig
from molvae.models.store import (
    WEIGHTS,
    atomic_write_bytes,
    load_model_dir,
    recover_directory,
)
from molvae.models.vae import GRUVAE
from molvae.runtime import file_sha256
from molvae.settings import from_dict
from molvae.tokens import Vocabulary
from molvae.training.config import TrainConfig, train_config_from_record
from molvae.training.prepare import (
    load_dataset,
    prepare_data,
    reason_counts,
    reject_summary,
    save_dataset,
)


def _write_run_json(run_dir: Path, cfg: TrainConfig, model_cfg: ModelConfig, extra: dict) -> None:
    _save_run_json(run_dir, {"train": asdict(cfg), "model": asdict(model_cfg), **extra})


def _save_run_json(run_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_bytes(run_dir / "run.json", json.dumps(data, indent=1).encode())


@dataclass
class Run:
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

    @classmethod
    def in_memory(
        cls,
        cfg: TrainConfig,
        model_cfg: ModelConfig,
        vocabulary: Vocabulary,
        train_set: EncodedDataset,
        val_set: EncodedDataset | None = None,
    ) -> Run:
        """A run with no directory or data file behind it, e.g. for a ``Trainer`` in a
        benchmark or test: no property targets, no provenance, and ``train_set`` validates
        unless ``val_set`` is given."""
        empty = np.zeros(0, dtype=np.float32)
        return cls(
            cfg,
            model_cfg,
            vocabulary,
            train_set,
            train_set if val_set is None else val_set,
            empty,
            empty.copy(),
            {"sha256": None, "path": None},
        )


def read_run_json(run_dir: Path) -> dict[str, Any]:
    """The run directory's ``run.json`` (an error if there is none: nothing to resume)."""
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise MolvaeError(f"{run_dir}: nothing to resume (no run.json)")
    return json.loads(run_json.read_text())


def open_run(run_dir: Path) -> Run:
    """A run as written by ``create_run``: what ``--resume`` and DDP ranks other than 0 read."""
    saved = read_run_json(run_dir)
    run_json = run_dir / "run.json"
    cfg = train_config_from_record(saved["train"], where=f"{run_json} train")
    model_cfg = from_dict(ModelConfig, saved["model"], where=f"{run_json} model")
    names = list(model_cfg.properties)
    data_info = saved["data"]
    return Run(
        cfg,
        model_cfg,
        Vocabulary.from_dict(saved["vocabulary"]),
        load_dataset(run_dir / "data", "train", names),
        load_dataset(run_dir / "data", "validation", names),
        np.asarray(data_info["property_mean"], dtype=np.float32),
        np.asarray(data_info["property_std"], dtype=np.float32),
        data_info,
    )


def lineage(model_dir: Path, training: dict[str, Any]) -> dict[str, Any]:
    """What a fine-tuned model was started from, to store in its training record.

    ``training`` is the parent's training record as loaded with it. A path means nothing on
    another machine; the hash of the parent's weights identifies it, and its own training
    record (with its own parent, if it was fine-tuned too) says how it was made, so the steps
    and wall time behind a model add up along the chain.
    """
    record = {k: training.get(k) for k in ("data_sha256", "train_molecules", "steps",
                                           "wall_seconds", "saved_at", "parent")}
    return {"weights_sha256": file_sha256(model_dir / WEIGHTS), **record}


def create_run(
    data_path: str | Path | None,
    run_dir: Path,
    cfg: TrainConfig | None,
    model_cfg: ModelConfig | None,
    init_from: str | Path | None,
    status: Callable[[str], None],
) -> Run:
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
        wants_prior, prior_hidden = model_cfg.conditional_prior, model_cfg.prior_hidden
        model_cfg = init_bundle.config
        if wants_prior and not model_cfg.conditional_prior:
            # The one architecture change fine-tuning allows: adding a learned prior, which
            # starts as N(0, I) (GRUVAE zero-initializes its output layer).
            if not model_cfg.conditions:
                raise MolvaeError(
                    f"conditional_prior needs a conditional model; {init_from} has no conditions"
                )
            model_cfg.conditional_prior = True
            model_cfg.prior_hidden = prior_hidden
        fixed_props = list(model_cfg.properties)
        if cfg.conditions and cfg.conditions != model_cfg.conditions:
            have = ", ".join(model_cfg.conditions) or "none"
            raise MolvaeError(
                f"fine-tuning keeps the conditions of {init_from} ({have}); drop --condition"
            )
        cfg.conditions = list(model_cfg.conditions)
    elif not cfg.conditions and model_cfg.conditions:
        cfg.conditions = list(model_cfg.conditions)  # named in the [model] table
    prep = prepare_data(data_path, cfg, vocabulary, fixed_props, status=status)
    vocabulary = prep.vocabulary
    model_cfg.vocab_size = len(vocabulary)
    model_cfg.max_length = max(model_cfg.max_length, cfg.max_length + 1)
    model_cfg.properties = list(prep.property_names)
    if init_bundle is None:
        for key, value in prep.condition_fields(cfg.conditions).items():
            setattr(model_cfg, key, value)
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
        "reject_reasons": reason_counts(prep.rejects),
        "property_mean": prop_mean.tolist(),
        "property_std": prop_std.tolist(),
        "init_from": str(init_from) if init_from else None,
        "parent": lineage(Path(init_from), init_bundle.training) if init_bundle else None,
    }

    save_training_set_index(train_set.smiles + val_set.smiles, run_dir / TRAINING_INDEX)
    save_dataset(train_set, run_dir / "data", "train")
    save_dataset(val_set, run_dir / "data", "validation")
    _write_run_json(
        run_dir, cfg, model_cfg, {"vocabulary": vocabulary.to_dict(), "data": data_info}
    )
    if cfg.conditions:  # the molecules a conditional request draws z near
        save_reference(
            reference_from_dataset(train_set, cfg.conditions, seed=cfg.seed),
            run_dir / REFERENCE_FILE,
        )
    status(
        f"{prep.n_input_rows:,} input rows: {len(train_set):,} train, {len(val_set):,} "
        f"validation, {len(prep.rejects):,} rejected"
        + (f", {prep.n_unused:,} unused (max_molecules)" if prep.n_unused else "")
        + (f" (reasons in {run_dir / 'rejects.csv'})" if len(prep.rejects) else "")
    )
    if len(prep.rejects):
        status(f"left out: {reject_summary(prep.rejects)}")
    return Run(
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


def write_reference(run_dir: str | Path) -> Path:
    """Write ``reference.safetensors`` into a conditional run's directory: 20,000 random
    molecules of its training split with their condition values, which a conditional request
    draws z near (:mod:`molvae.generation.reference`). ``molvae train`` writes the same file
    from the split in memory when it prepares a run; call this on an older run directory to
    add it from the split the run saved."""
    run_dir = Path(run_dir)
    saved = read_run_json(run_dir)
    conditions = list(saved["train"].get("conditions") or [])
    if not conditions:
        raise MolvaeError(f"{run_dir}: not a conditional run (no conditions in run.json)")
    train_set = load_dataset(run_dir / "data", "train", list(saved["model"]["properties"]))
    seed = int(saved["train"].get("seed", 0))
    return save_reference(
        reference_from_dataset(train_set, conditions, seed=seed), run_dir / REFERENCE_FILE
    )


def set_run_epochs(run_dir: Path, epochs: int, status: Callable[[str], None]) -> None:
    """Rewrite the run's ``epochs`` in ``run.json`` (what every later resume and rank reads)."""
    if epochs < 1:
        raise MolvaeError(f"--epochs must be at least 1, got {epochs}")
    saved = read_run_json(run_dir)
    before = saved["train"]["epochs"]
    if before != epochs:
        saved["train"]["epochs"] = epochs
        _save_run_json(run_dir, saved)
        status(f"run length changed from {before} to {epochs} epochs")


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The run's last complete checkpoint directory, or None before the first one.

    A ``checkpoint`` or ``model`` directory that a killed process left only as ``.old`` (killed
    mid-swap) is renamed back first.
    """
    for name in ("model", "checkpoint"):
        recover_directory(run_dir / name)
    for name in ("checkpoint", "checkpoint.old"):  # .old survives a kill mid-swap
        candidate = run_dir / name
        if (candidate / "state.json").is_file():
            return candidate
    return None


def truncate_metrics(path: Path, size: int | None) -> None:
    """Cut ``metrics.jsonl`` back to its first ``size`` bytes (as of a checkpoint); with
    ``size`` None, only drop a last line a killed process left without its newline."""
    if not path.exists():
        return
    data = path.read_bytes()
    keep = len(data) if size is None else min(size, len(data))
    keep = data.rfind(b"\n", 0, keep) + 1  # whole lines only
    if keep != len(data):
        atomic_write_bytes(path, data[:keep])


def write_metrics_csv(jsonl: Path, csv: Path) -> None:
    """``metrics.jsonl`` flattened to a CSV table (nested keys joined with dots)."""
    rows = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    flat = pd.json_normalize(rows)
    atomic_write_bytes(csv, flat.to_csv(index=False).encode())
