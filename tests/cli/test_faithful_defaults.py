"""reconstruct, interpolate and neighbors: the commands' defaults are FaithfulSettings', and so are
the Python functions'; every command that encodes has --strict, off by default."""

import dataclasses
import inspect

import pytest
import typer.main

from molvae.generation.model import MolVAE
from molvae.generation.refine import encode_mean, reconstruct
from molvae.latent.paths import interpolate, neighbors
from molvae.settings import FaithfulSettings
from molvae_cli.main import _register_commands, app

FAITHFUL = FaithfulSettings()


def _options(name: str) -> dict:
    _register_commands()
    return {p.name: p for p in typer.main.get_command(app).commands[name].params}


@pytest.mark.parametrize(
    ("command", "function"),
    [("reconstruct", reconstruct), ("interpolate", interpolate), ("neighbors", neighbors)],
)
def test_faithful_commands_and_functions_share_the_defaults(command, function):
    options = _options(command)
    signature = inspect.signature(function).parameters
    for field in dataclasses.fields(FaithfulSettings):
        if field.name in options:
            assert options[field.name].default == getattr(FAITHFUL, field.name), field.name
            assert signature[field.name].default == getattr(FAITHFUL, field.name), field.name
    assert options["refine_steps"].default > 0 and options["strict"].default is False


def test_python_encoders_default_to_faithful_and_flattened():
    assert inspect.signature(encode_mean).parameters["refine_steps"].default == (
        FAITHFUL.refine_steps
    )
    assert inspect.signature(encode_mean).parameters["strict"].default is FAITHFUL.strict
    assert inspect.signature(MolVAE.encode).parameters["strict"].default is FAITHFUL.strict


@pytest.mark.parametrize(
    "command", ["encode", "embed", "score", "map", "reconstruct", "interpolate", "neighbors"]
)
def test_every_encoding_command_has_strict_off_by_default(command):
    assert _options(command)["strict"].default is False
