"""Every numeric option of every command declares its accepted range, and a value outside it
(zero, negative, huge, NaN, infinity, not a number) is a usage error: exit 2, one line naming
the option and the range, no traceback, refused while the options are parsed (before a model
is loaded or a file written).

The test walks the app as ``test_help.py`` does, so an option added later is covered without
being listed here. The command's other required arguments are filled with shipped files, and
those filled command lines are first checked to parse with an in-range value: the refusal is
about the option, not a missing argument.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import typer

from .runner import molvae
from .test_help import _commands

REPO = Path(__file__).resolve().parents[2]
DRUGS = REPO / "datasets" / "common_drugs.csv"
MOSES_TEST = REPO / "datasets" / "moses_test_sample.csv"

# Required arguments and options, by parameter name: shipped molecule files, SMILES, the
# bundled model. A new required parameter fails test_required_parameters_are_known.
FILLERS = {
    "data": str(DRUGS),
    "seeds": str(DRUGS),
    "reference": str(MOSES_TEST),
    "latents": str(DRUGS),
    "smiles": "CC(=O)Oc1ccccc1C(=O)O",
    "smiles_a": "CC(=O)Oc1ccccc1C(=O)O",
    "smiles_b": "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "column": "logP",
    "run": "default",
    "name": "moses",
}
OUT = "out"  # required --out: a path under the test's tmp directory


def _is_number(param) -> bool:
    annotation = param.type_descriptor.annotation
    args = getattr(annotation, "__args__", ())
    return annotation in (int, float) or int in args or float in args


def _is_integer(param) -> bool:
    annotation = param.type_descriptor.annotation
    return annotation is int or int in getattr(annotation, "__args__", ())


def _numeric_options() -> list[tuple[str, object, object]]:
    """(command name, command, option) for every int and float option of the app."""
    found = []
    for name, command in _commands():
        for param in command.params:
            if param.param_type_name == "option" and _is_number(param):
                found.append((name, command, param))
    return sorted(found, key=lambda t: (t[0], t[2].opts[0]))


NUMERIC = _numeric_options()


def _filled(command, tmp_path: Path) -> list[str]:
    """The command's required arguments and options, in order, from FILLERS."""
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        value = str(tmp_path / OUT) if param.name == OUT else FILLERS[param.name]
        if param.param_type_name == "argument":
            args.append(value)
        else:
            args += [param.opts[0], value]
    return args


def _range(param) -> str:
    return f"{param.min}<=x<={param.max}"


def _bad_values(param) -> list[str]:
    """Zero, negative, huge, non-finite and non-numeric values outside the option's range."""
    lo, hi = param.min, param.max
    values = ["abc", "", "10**12", "1,5"]
    if _is_integer(param):
        values += [str(lo - 1), str(hi + 1), str(10**12), "1e308", "9" * 400, "2.5", "nan",
                   "inf"]
        if lo > 0:
            values += ["0", "-5"]
    else:
        values += ["nan", "inf", "-inf", "1e308", "1e400", "-1e308", str(hi * 2 + 1)]
        values += [str(lo - 1), "-0.5"] if lo > -1 else [str(lo * 2)]
        if lo > 0:
            values.append("0")
    return values


def test_the_walk_sees_every_numeric_option():
    names = {f"{name} {param.opts[0]}" for name, _, param in NUMERIC}
    assert len(NUMERIC) > 100
    for expected in ("molvae sample -n", "molvae sample --temperature", "molvae train --latent-dim",
                     "molvae train --batch-size", "molvae design --budget",
                     "molvae decode --beam-width", "molvae generate --weight",
                     "molvae screen --max-similarity"):
        assert expected in names


@pytest.mark.parametrize(("name", "command", "param"), NUMERIC,
                         ids=[f"{n[7:]} {p.opts[0]}" for n, _, p in NUMERIC])
def test_every_numeric_option_declares_a_finite_range(name, command, param):
    assert param.min is not None and param.max is not None, f"{name} {param.opts[0]}: no range"
    assert math.isfinite(param.min) and math.isfinite(param.max) and param.min < param.max
    assert f"x<={param.max}" in _range(param)
    defaults = param.default if isinstance(param.default, list | tuple) else [param.default]
    for default in defaults:
        assert default is None or param.min <= default <= param.max, f"default {default}"


def test_required_parameters_are_known(tmp_path):
    for name, command in _commands():
        for param in command.params:
            if param.required:
                assert param.name == OUT or param.name in FILLERS, f"{name}: fill {param.name}"


@pytest.mark.parametrize(("name", "command", "param"), NUMERIC,
                         ids=[f"{n[7:]} {p.opts[0]}" for n, _, p in NUMERIC])
def test_bounds_are_accepted_and_the_filled_command_line_parses(name, command, param, tmp_path):
    """The ends of the range parse (so the refusals below are about the option alone)."""
    filled = _filled(command, tmp_path)
    for value in (param.min, param.max):
        ctx = command.make_context(name, [*filled, param.opts[0], str(value)])
        got = ctx.params[param.name]
        got = got[0] if isinstance(got, list | tuple) else got
        assert got == value and isinstance(got, int if _is_integer(param) else float)


@pytest.mark.parametrize(("name", "command", "param"), NUMERIC,
                         ids=[f"{n[7:]} {p.opts[0]}" for n, _, p in NUMERIC])
def test_out_of_range_values_are_refused_while_parsing(name, command, param, tmp_path):
    """Every bad value raises Typer's usage error, one line naming the option and the range."""
    filled = _filled(command, tmp_path)
    wrong = []
    for value in _bad_values(param):
        try:
            command.make_context(name, [*filled, param.opts[0], value])
        except typer.BadParameter as exc:
            message = exc.format_message()
            hint = exc.param.get_error_hint() if exc.param is not None else ""
            if f"'{param.opts[0]}'" not in hint or _range(param) not in message or (
                "\n" in message
            ):
                wrong.append(f"{value!r}: {hint} {message!r}")
        else:
            wrong.append(f"{value!r}: accepted")
    assert not wrong, f"{name} {param.opts[0]}:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("name", "command", "param"), NUMERIC,
                         ids=[f"{n[7:]} {p.opts[0]}" for n, _, p in NUMERIC])
def test_the_command_exits_2_with_one_line(name, command, param, tmp_path):
    """Through the console script's code path: exit 2, the message on one line, no traceback,
    nothing loaded or written. One value per option, below the range or NaN (every value is
    checked above, while parsing)."""
    filled = _filled(command, tmp_path)
    for value in [str(param.min - 1)] if _is_integer(param) else ["nan"]:
        result = molvae(*name.split()[1:], *filled, param.opts[0], value, cwd=tmp_path)
        panel = [line.strip("│ ") for line in result.stderr.splitlines()
                 if line.startswith("│")]
        assert result.returncode == 2, (value, result.stderr)
        assert len(panel) == 1, result.stderr  # one line in Typer's error box
        assert f"Invalid value for '{param.opts[0]}'" in panel[0] and _range(param) in panel[0]
        assert "Traceback" not in result.stderr + result.stdout
        assert "model:" not in result.stderr  # refused before a model was loaded
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing written


def test_numbers_are_read_as_users_write_them():
    _, command = next(c for c in _commands() if c[0] == "molvae sample")
    for text, value in (("1e3", 1000), ("1_000", 1000), (" 7 ", 7), ("+5", 5), ("2.0", 2)):
        assert command.make_context("sample", ["-n", text]).params["n"] == value
    assert command.make_context("sample", ["-t", "1e-1"]).params["temperature"] == 0.1


def test_a_config_file_value_is_checked_the_same(tmp_path):
    config = tmp_path / "sample.toml"
    for line, shown in (("n = -5", "-5"), ("n = 2.5", "2.5 is not an integer"),
                        ("n = true", "true is not an integer"),
                        ("temperature = nan", "nan"), ("n = 1_000_000_000_000", "1000000000000")):
        config.write_text(line + "\n")
        result = molvae("sample", "--config", config, "--out", tmp_path / "s.csv")
        assert result.returncode == 2, line
        assert shown in result.stderr and "<=x<=" in result.stderr, result.stderr
        assert "model:" not in result.stderr


def test_help_shows_the_range():
    result = molvae("sample", "--help")
    assert result.returncode == 0
    assert "1<=x<=1000000" in result.stdout and "0.01<=x<=100" in result.stdout


def test_a_huge_legal_count_is_bounded_by_the_message():
    """`sample -n 10**12` is refused at once with the largest count accepted, not attempted."""
    result = molvae("sample", "-n", str(10**12))
    assert result.returncode == 2
    assert "1000000000000 is not in the range 1<=x<=1000000" in result.stderr


def test_train_refuses_absurd_sizes_before_reading_data(tmp_path):
    for option, value in (("--latent-dim", "1000000000"), ("--batch-size", "1000000000"),
                          ("--epochs", "0"), ("--decoder-hidden", "100000")):
        result = molvae("train", DRUGS, "--out", tmp_path / "run", option, value)
        assert result.returncode == 2 and option in result.stderr, result.stderr
    assert not (tmp_path / "run").exists()


def test_every_command_with_numbers_is_covered():
    covered = {name for name, _, _ in NUMERIC}
    for name, command in _commands():
        if any(isinstance(p, typer.core.TyperOption) and _is_number(p) for p in command.params):
            assert name in covered


@pytest.mark.slow  # builds the model on torch's meta device (seconds under load)
def test_train_refuses_sizes_that_together_make_a_huge_model(tmp_path):
    """Each size flag is in range, but 16 decoder layers of 2,048 would hold 394 million weights:
    refused in one line (exit 1) before the data is read or a tensor allocated."""
    result = molvae("train", DRUGS, "--out", tmp_path / "run", "--decoder-hidden", "2048",
                    "--decoder-layers", "16")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "393,954,788 weights, above the limit of 50,000,000" in lines[0]
    assert not (tmp_path / "run").exists()
