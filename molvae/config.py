"""Configuration dataclasses: the model architecture and the training recipe.

``ModelConfig`` alone determines the network (it is stored in every checkpoint and rebuilds the
model); ``TrainConfig`` is the recipe (optimizer, schedules, data handling). Both load from TOML
with strict validation: an unknown key is an error, not a silently ignored typo.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from molvae.errors import MolvaeError

__all__ = ["ModelConfig", "TrainConfig", "from_dict", "load_toml"]


@dataclass
class ModelConfig:
    """Architecture of the GRU VAE (and its latent property predictor)."""

    vocab_size: int = 0
    embedding_dim: int = 64
    encoder_hidden: int = 256
    encoder_layers: int = 1
    bidirectional: bool = True
    latent_dim: int = 64
    decoder_hidden: int = 512
    decoder_layers: int = 1
    dropout: float = 0.0
    max_length: int = 100
    # Latent property predictor: an ensemble of small MLPs on mu (its spread is the uncertainty).
    properties: list[str] = field(default_factory=list)
    predictor_hidden: int = 128
    predictor_ensemble: int = 4
    # Properties fitted later on the frozen VAE (``molvae fit-property``), one ensemble each.
    fitted_properties: list[str] = field(default_factory=list)

    @property
    def all_properties(self) -> list[str]:
        """Every predicted property: jointly trained ones, then separately fitted ones."""
        return [*self.properties, *self.fitted_properties]

    def validate(self) -> None:
        """Raise ``MolvaeError`` for values that cannot build a model."""
        positive = [
            "vocab_size",
            "embedding_dim",
            "encoder_hidden",
            "encoder_layers",
            "latent_dim",
            "decoder_hidden",
            "decoder_layers",
            "max_length",
            "predictor_hidden",
            "predictor_ensemble",
        ]
        for name in positive:
            if getattr(self, name) <= 0:
                raise MolvaeError(
                    f"model config: {name} must be positive, got {getattr(self, name)}"
                )
        if not 0.0 <= self.dropout < 1.0:
            raise MolvaeError(f"model config: dropout must be in [0, 1), got {self.dropout}")


@dataclass
class TrainConfig:
    """How to train: data handling, optimization, KL schedule, checkpoints, stopping."""

    representation: str = "selfies"
    smiles_column: str | None = None
    standardize: bool = False
    max_length: int = 100
    max_molecules: int | None = None
    validation_fraction: float = 0.05
    validation_max: int = 10000
    properties: list[str] = field(default_factory=list)
    property_columns: list[str] = field(default_factory=list)
    property_weight: float = 1.0
    batch_size: int = 256
    epochs: int = 50
    max_minutes: float | None = None
    # With max_minutes: the cosine decay follows the clock too (whichever is further along),
    # so a budgeted run ends annealed. Learning rates then depend on the machine's speed.
    schedule_by_time: bool = False
    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-4
    warmup_steps: int = 200
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    beta: float = 0.5
    kl_schedule: str = "linear"
    kl_warmup_steps: int = 5000
    kl_start_step: int = 0
    kl_cycles: int = 4
    free_bits: float = 0.0
    word_dropout: float = 0.0
    precision: str = "auto"
    device: str = "auto"
    seed: int = 0
    early_stopping_patience: int = 5
    checkpoint_every_steps: int = 1000
    log_every_steps: int = 50
    metrics_format: str = "jsonl"
    reconstruction_eval_size: int = 1000
    num_workers: int = 2

    def validate(self) -> None:
        """Raise ``MolvaeError`` for inconsistent options, naming the option."""
        from molvae.annealing import SCHEDULES
        from molvae.tokenizers import TOKENIZERS

        if self.representation not in TOKENIZERS:
            raise MolvaeError(
                f"representation must be one of {', '.join(TOKENIZERS)}, "
                f"got {self.representation!r}"
            )
        if self.kl_schedule not in SCHEDULES:
            raise MolvaeError(
                f"kl_schedule must be one of {', '.join(SCHEDULES)}, got {self.kl_schedule!r}"
            )
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise MolvaeError(f"precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if self.metrics_format not in ("jsonl", "csv"):
            raise MolvaeError(f"metrics_format must be jsonl or csv, got {self.metrics_format!r}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise MolvaeError("validation_fraction must be between 0 and 1")
        if self.batch_size <= 0 or self.epochs <= 0 or self.learning_rate <= 0:
            raise MolvaeError("batch_size, epochs and learning_rate must be positive")
        if not 0.0 <= self.word_dropout < 1.0:
            raise MolvaeError("word_dropout must be in [0, 1)")


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check a TOML value against a dataclass field annotation (strings, with postponed eval)."""
    tp = (
        eval(
            annotation,
            {"list": list, "str": str, "int": int, "float": float, "bool": bool, "None": None},
        )
        if isinstance(annotation, str)
        else annotation
    )
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except MolvaeError as exc:
                errors.append(str(exc))
        raise MolvaeError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise MolvaeError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item, where) for v in value]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise MolvaeError(f"{where}: expected true/false, got {value!r}")
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise MolvaeError(f"{where}: expected an integer, got {value!r}")
    if tp in (str, float) and not isinstance(value, tp):
        raise MolvaeError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type, data: dict[str, Any], where: str = "config") -> Any:
    """Build a config dataclass from a dict, rejecting unknown keys and mistyped values."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise MolvaeError(
            f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(known)}"
        )
    kwargs = {k: _coerce(v, known[k].type, f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def load_toml(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a training TOML: top-level keys are ``TrainConfig``, ``[model]`` is ``ModelConfig``.

    Returns the two raw dicts (validated for unknown keys) so that command-line flags can be
    layered on top before the dataclasses are built.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise MolvaeError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise MolvaeError(f"{path}: invalid TOML: {exc}") from None
    model = data.pop("model", {})
    if not isinstance(model, dict):
        raise MolvaeError(f"{path}: [model] must be a table")
    from_dict(TrainConfig, data, where=str(path))
    from_dict(ModelConfig, model, where=f"{path} [model]")
    return data, model


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config dataclass as a JSON-ready dict."""
    assert dataclasses.is_dataclass(cfg)
    return asdict(cfg)
