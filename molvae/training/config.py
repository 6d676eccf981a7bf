"""``TrainConfig``: every setting of a training run (data, optimizer, KL schedule, budget).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from molvae.errors import MolvaeError
from molvae.models.config import ModelConfig
from molvae.settings import from_dict, read_toml
from molvae.tokens import TOKENIZERS
from molvae.training.annealing import SCHEDULES

# Upper bounds, the same for flags and TOML keys: a bigger batch does not fit a CPU's memory
# for the default architecture, and more epochs than this is a typo, not a plan.
MAX_TRAIN_BATCH = 4096
MAX_EPOCHS = 10_000

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
    # Conditional VAE: properties (RDKit names or numeric data columns) the encoder and decoder
    # see; each is also a predictor property. Each condition is hidden from the model with
    # probability ``condition_dropout`` per molecule, and all of them together with probability
    # ``condition_drop_all``, so the model also learns to sample with one, two or no conditions.
    conditions: list[str] = field(default_factory=list)
    condition_dropout: float = 0.3
    condition_drop_all: float = 0.1
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

    def validate(self) -> None:
        """Raise ``MolvaeError`` for inconsistent options, naming the option."""

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
        if self.batch_size > MAX_TRAIN_BATCH:
            raise MolvaeError(
                f"batch_size must be at most {MAX_TRAIN_BATCH}, got {self.batch_size}"
            )
        if self.epochs > MAX_EPOCHS:
            raise MolvaeError(f"epochs must be at most {MAX_EPOCHS}, got {self.epochs}")
        if not 0.0 <= self.word_dropout < 1.0:
            raise MolvaeError("word_dropout must be in [0, 1)")
        if not 0.0 <= self.condition_dropout < 1.0:
            raise MolvaeError("condition_dropout must be in [0, 1)")
        if not 0.0 <= self.condition_drop_all < 1.0:
            raise MolvaeError("condition_drop_all must be in [0, 1)")
        if not isinstance(self.conditions, list) or not all(
            isinstance(n, str) and n.strip() for n in self.conditions
        ):
            raise MolvaeError("conditions must be a list of property names")


def load_toml(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a training TOML: top-level keys are ``TrainConfig``, ``[model]`` is ``ModelConfig``.

    Returns the two raw dicts (validated for unknown keys) so that command-line flags can be
    layered on top before the dataclasses are built.
    """
    path = Path(path)
    data = read_toml(path)
    model = data.pop("model", {})
    if not isinstance(model, dict):
        raise MolvaeError(f"{path}: [model] must be a table")
    from_dict(TrainConfig, data, where=str(path))
    from_dict(ModelConfig, model, where=f"{path} [model]")
    return data, model


# Keys that older run records hold but TrainConfig no longer has (they were never read).
RETIRED_KEYS = ("num_workers",)


def train_config_from_record(data: dict[str, Any], where: str = "run record") -> TrainConfig:
    """The ``TrainConfig`` a run directory recorded, accepting keys that were retired since."""
    return from_dict(TrainConfig, {k: v for k, v in data.items() if k not in RETIRED_KEYS}, where)
