"""Registry of CLI command modules: each exposes ``register(app)``."""

from __future__ import annotations

import importlib

import typer

# One entry per topic module under cli/; adding a command group is one line here.
COMMAND_MODULES = [
    "train_cmd",
    "sample_cmd",
    "datasets_cmd",
    "generate_cmd",
    "fit_cmd",
    "models_cmd",
    "evaluate_cmd",
    "screen_cmd",
    "latent_cmd",
    "report_cmd",
]


def register_all(app: typer.Typer) -> None:
    """Import every command module and let it attach its commands to ``app``."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(app)
