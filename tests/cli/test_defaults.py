"""One source of defaults: a command, its settings dataclass and its Python function agree.

The dataclasses in ``molvae.settings`` hold the defaults; the commands' options and the library
functions read them. Here the option defaults are compared field by field, and the Python
functions called with defaults are run against the commands run with defaults on the same model
(``generate`` with a smaller search, the same on both sides).
"""

from __future__ import annotations

import dataclasses
import inspect

import pandas as pd
import pytest
import typer.main

from molvae.generation.model import MolVAE
from molvae.optimize.search import generate
from molvae.optimize.seeds import optimize_seeds
from molvae.settings import GenerateSettings, OptimizeSettings, SampleSettings
from molvae_cli.main import _register_commands, app, invoke
from tests.conftest import REPO

# Option names that differ from their dataclass field.
RENAMED = {"seed_forms": "seed_sites"}
# Options parsed into a field (comma-separated alert sets): None on the command line means [].
PARSED = {"filters"}


def _command(name: str):
    _register_commands()
    return typer.main.get_command(app).commands[name]


@pytest.mark.parametrize(
    ("command", "settings"),
    [("sample", SampleSettings()), ("generate", GenerateSettings()),
     ("optimize", OptimizeSettings())],
)
def test_option_defaults_are_the_settings_defaults(command, settings):
    options = {p.name: p for p in _command(command).params}
    fields = {f.name for f in dataclasses.fields(settings)}
    compared = 0
    for name, option in options.items():
        field = RENAMED.get(name, name)
        if field in fields:
            default = [] if name in PARSED and option.default is None else option.default
            assert default == getattr(settings, field), f"{command} --{name}"
            compared += 1
    assert compared >= 6  # the knobs really are shared, not a coincidence of two names


def test_sample_signature_defaults_are_the_settings_defaults():
    signature = inspect.signature(MolVAE.sample)
    for field in dataclasses.fields(SampleSettings):
        assert signature.parameters[field.name].default == field.default, field.name


def test_generate_and_optimize_take_the_commands_defaults():
    n_option = {p.name: p for p in _command("generate").params}["n"]
    assert inspect.signature(generate).parameters["n"].default == n_option.default
    similarity = {p.name: p for p in _command("optimize").params}["min_similarity"]
    assert similarity.default == OptimizeSettings().min_similarity
    assert GenerateSettings().refine_steps == 30 and GenerateSettings().canonical_only


@pytest.mark.slow
def test_sample_from_python_is_the_command(tiny_run, tiny_vae, tmp_path):
    out = tmp_path / "s.csv"
    assert invoke(["sample", "-n", "40", "--seed", "3", "--model", str(tiny_run),
                   "--out", str(out)]) == 0
    python = tiny_vae.sample(40, seed=3)
    pd.testing.assert_series_equal(
        pd.read_csv(out)["smiles"], python["smiles"].reset_index(drop=True)
    )


@pytest.mark.slow
def test_generate_from_python_is_the_command(tiny_run, tiny_vae, tmp_path):
    # A smaller search than the default 256 starts x 60 steps, given to both sides; every
    # other setting at its default (on the tiny model both searches find the same molecule).
    out = tmp_path / "g.csv"
    args = ["generate", "--target", "logP", "-n", "5", "--model", str(tiny_run),
            "--out", str(out), "--max-rounds", "1", "--starts", "64", "--steps", "20"]
    assert invoke(args) == 0
    settings = GenerateSettings(max_rounds=1, starts=64, steps=20)
    python = generate(tiny_vae, "logP", n=5, settings=settings).table
    assert len(python) >= 1  # a comparison of two empty tables would check nothing
    assert pd.read_csv(out)["smiles"].tolist() == python["smiles"].tolist()


@pytest.mark.slow
def test_optimize_from_python_is_the_command(tiny_run, tiny_vae, tmp_path):
    seeds = ["CCOc1ccccc1C(=O)N", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "c1ccccc1"]
    data, out = tmp_path / "seeds.csv", tmp_path / "o.csv"
    pd.DataFrame({"SMILES": seeds}).to_csv(data, index=False)
    args = ["optimize", str(data), "--target", "logP", "--model", str(tiny_run),
            "--out", str(out), "--starts", "8", "--rescue-rounds", "0"]
    assert invoke(args) == 0
    python = optimize_seeds(tiny_vae, seeds, "logP",
                            settings=OptimizeSettings(starts=8, rescue_rounds=0))
    command = pd.read_csv(out)
    def best(frame: pd.DataFrame) -> list:
        return frame["best"].astype(object).fillna("").tolist()

    assert best(command) == best(python)
    assert command["improvement"].round(6).tolist() == python["improvement"].round(6).tolist()


def test_config_file_sets_options_and_flags_win(tiny_run, tmp_path):
    config, out = tmp_path / "sample.toml", tmp_path / "s.csv"
    config.write_text(f'n = 7\nseed = 1\nout = "{out}"\nmodel = "{tiny_run}"\n')
    assert invoke(["sample", "--config", str(config), "-n", "4"]) == 0
    assert len(pd.read_csv(out)) == 4  # the flag beat the file; the file's out and model held


def test_config_file_with_an_unknown_key_is_a_usage_error(tmp_path, capsys):
    config = tmp_path / "generate.toml"
    config.write_text("steps = 10\nstepz = 3\n")
    assert invoke(["generate", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "stepz" in err and "valid keys" in err


def test_params_md_lists_every_option_of_every_command():
    """configs/PARAMS.md is regenerated by configs/make_configs.py when options change."""
    params = (REPO / "configs" / "PARAMS.md").read_text()
    _register_commands()
    root = typer.main.get_command(app)
    for name, command in root.commands.items():
        for inner in getattr(command, "commands", {name: command}).values():
            for option in inner.params:
                if option.param_type_name == "option" and option.name not in ("help", "config"):
                    assert f"| `{option.name}` |" in params, f"{name}: {option.name}"


def test_unknown_filter_set_fails_before_loading_a_model(capsys):
    assert invoke(["generate", "--filters", "pains,bogus", "--model", "no/such/model"]) == 2
    err = capsys.readouterr().err
    assert "bogus" in err and "pains" in err


def test_every_command_with_options_takes_a_config_file():
    _register_commands()
    root = typer.main.get_command(app)
    for name, command in root.commands.items():
        for inner in getattr(command, "commands", {name: command}).values():
            options = [p.name for p in inner.params if p.param_type_name == "option"]
            if set(options) - {"help"}:
                assert "config" in options, name
