"""``ModelConfig``: the one dataclass that determines a model's architecture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from molvae.errors import MolvaeError


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
