"""Registry of the CLI's command modules: each exposes ``register(app)``."""

from __future__ import annotations

import importlib

import typer

# One module per command under cli/, in the order `molvae --help` lists them; a new command
# is a new module with a ``register(app)`` and one line here.
COMMAND_MODULES = [
    "train",
    "sample",
    "encode",
    "decode",
    "reconstruct",
    "generate",
    "optimize",
    "design",
    "fit_property",
    "fit_critic",
    "models",
    "evaluate",
    "screen",
    "map",
    "interpolate",
    "neighbors",
    "score",
    "embed",
    "report",
    "datasets",
]


def register_all(app: typer.Typer) -> None:
    """Import every command module and let it attach its commands to ``app``."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(app)
