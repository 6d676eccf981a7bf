"""``ModelConfig``: the one dataclass that determines a model's architecture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from molvae.errors import MolvaeError

# Upper bounds on the integer sizes of a model. They sit far above any model molvae trains (the
# bundled one: 29 tokens, hidden sizes up to 512, latent 64) and low enough that a config file
# cannot ask for an absurd allocation (a latent of 10^9) before its weights are even read.
SIZE_LIMITS: dict[str, int] = {
    "vocab_size": 100_000,
    "embedding_dim": 8192,
    "encoder_hidden": 8192,
    "encoder_layers": 16,
    "latent_dim": 8192,
    "decoder_hidden": 8192,
    "decoder_layers": 16,
    "max_length": 10_000,
    "predictor_hidden": 8192,
    "predictor_ensemble": 256,
    "prior_hidden": 8192,
}
# Jointly trained and separately fitted property heads, each.
MAX_PROPERTIES = 1000


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
    # Conditional VAE: the encoder and decoder also see these properties (each one of
    # ``properties``), standardized with ``condition_mean``/``condition_std``, as the vector
    # [value * mask, mask]; a zero mask means "not asked for". Empty: an unconditional model.
    # ``condition_min``/``condition_max`` are the range observed in the training split.
    conditions: list[str] = field(default_factory=list)
    condition_mean: list[float] = field(default_factory=list)
    condition_std: list[float] = field(default_factory=list)
    condition_min: list[float] = field(default_factory=list)
    condition_max: list[float] = field(default_factory=list)
    # A learned conditional prior p(z|c) = N(mu_c, sigma_c^2) (an MLP of the condition vector
    # with ``prior_hidden`` units), against which the KL term is taken, instead of N(0, I) for
    # every request. With nothing asked for it is exactly N(0, I). False for models saved
    # before it existed.
    conditional_prior: bool = False
    prior_hidden: int = 128

    @property
    def condition_dim(self) -> int:
        """Width of the condition input: a value and a mask per condition (0 if unconditional)."""
        return 2 * len(self.conditions)

    @property
    def all_properties(self) -> list[str]:
        """Every predicted property: jointly trained ones, then separately fitted ones."""
        return [*self.properties, *self.fitted_properties]

    def validate(self, where: str = "model config") -> None:
        """Raise a one-line ``MolvaeError`` (starting with ``where``) for values that cannot
        build a model, or that would make building it allocate far more than any real model.

        Checked before any tensor exists, so a config file asking for a latent of 10^9 is
        refused at once instead of exhausting memory.
        """
        for name, limit in SIZE_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise MolvaeError(f"{where}: {name} must be an integer, got {value!r}")
            if value <= 0:
                raise MolvaeError(f"{where}: {name} must be positive, got {value}")
            if value > limit:
                raise MolvaeError(f"{where}: {name} is {value}, above the limit of {limit}")
        for name in ("bidirectional", "conditional_prior"):
            if not isinstance(getattr(self, name), bool):
                raise MolvaeError(f"{where}: {name} must be true or false")
        dropout = self.dropout
        if isinstance(dropout, bool) or not isinstance(dropout, int | float):
            raise MolvaeError(f"{where}: dropout must be a number, got {dropout!r}")
        if not 0.0 <= dropout < 1.0:
            raise MolvaeError(f"{where}: dropout must be in [0, 1), got {dropout}")
        for name in ("properties", "fitted_properties"):
            names = getattr(self, name)
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                raise MolvaeError(f"{where}: {name} must be a list of non-empty names")
            if len(names) > MAX_PROPERTIES:
                raise MolvaeError(
                    f"{where}: {name} lists {len(names)} names, above the limit of {MAX_PROPERTIES}"
                )
        repeated = sorted({n for n in self.all_properties if self.all_properties.count(n) > 1})
        if repeated:
            raise MolvaeError(f"{where}: property {repeated[0]!r} is listed more than once")
        self._validate_conditions(where)

    def _validate_conditions(self, where: str) -> None:
        """Conditions name jointly trained properties once each; their statistics are finite
        lists of the same length, with positive std and min <= max."""
        conditions = self.conditions
        if not isinstance(conditions, list) or not all(
            isinstance(n, str) and n for n in conditions
        ):
            raise MolvaeError(f"{where}: conditions must be a list of non-empty names")
        repeated = sorted({n for n in conditions if conditions.count(n) > 1})
        if repeated:
            raise MolvaeError(f"{where}: condition {repeated[0]!r} is listed more than once")
        if self.conditional_prior and not conditions:
            raise MolvaeError(f"{where}: conditional_prior needs conditions")
        unknown = [n for n in conditions if n not in self.properties]
        if unknown:
            raise MolvaeError(
                f"{where}: condition {unknown[0]!r} is not one of the model's properties"
            )
        stats = ("condition_mean", "condition_std", "condition_min", "condition_max")
        for name in stats:
            values = getattr(self, name)
            if not isinstance(values, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in values
            ):
                raise MolvaeError(f"{where}: {name} must be a list of finite numbers")
            if len(values) != len(conditions):
                raise MolvaeError(
                    f"{where}: {name} has {len(values)} values for {len(conditions)} conditions"
                )
        if any(v <= 0 for v in self.condition_std):
            raise MolvaeError(f"{where}: condition_std must be positive")
        if any(lo > hi for lo, hi in zip(self.condition_min, self.condition_max, strict=True)):
            raise MolvaeError(f"{where}: condition_min is above condition_max")
