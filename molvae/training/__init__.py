"""Training: the run config, data preparation, loss and annealing, the training loop with
checkpoints and resumption, multi-process launch, and heads fitted on a frozen model.

Names are loaded on first use (PEP 562): importing one module of the package does not
import the others (the command line starts without torch).
"""

from __future__ import annotations

from molvae.runtime import lazy_exports

_EXPORTS = {
    "CriticFit": "molvae.training.heads",
    "FitResult": "molvae.training.heads",
    "PreparedData": "molvae.training.prepare",
    "TrainConfig": "molvae.training.config",
    "TrainResult": "molvae.training.trainer",
    "evaluate": "molvae.training.validate",
    "exact_reconstruction": "molvae.training.validate",
    "fit_critic": "molvae.training.heads",
    "fit_property": "molvae.training.heads",
    "learning_rate": "molvae.training.loss",
    "prepare_data": "molvae.training.prepare",
    "property_metrics": "molvae.training.validate",
    "train": "molvae.training.trainer",
    "vae_loss": "molvae.training.loss",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
