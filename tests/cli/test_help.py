"""What the commands say: help text for every option and argument, and one wording per kind of
error (a missing input file reads `X: file not found` from every command)."""

from __future__ import annotations

from collections.abc import Iterator

import typer

from .runner import molvae


def _commands() -> Iterator[tuple[str, typer.core.TyperCommand]]:
    """Every command of the ``molvae`` app, subcommands of groups included, by full name."""
    from molvae_cli import main

    main._register_commands()
    root = typer.main.get_command(main.app)
    stack = [("molvae", root)]
    while stack:
        name, command = stack.pop()
        yield name, command
        if hasattr(command, "commands"):  # a group (`molvae datasets`, the app itself)
            stack.extend((f"{name} {sub}", cmd) for sub, cmd in command.commands.items())


def test_every_option_and_argument_has_help():
    missing = []
    n_params = 0
    for name, command in _commands():
        assert (command.help or command.short_help or "").strip(), f"{name}: no description"
        for param in command.params:
            n_params += 1
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{name} {param.opts[0] if param.opts else param.name}")
    assert n_params > 150  # the walk saw the real commands
    assert not missing, "options or arguments without help text: " + ", ".join(sorted(missing))


def test_help_shows_an_option_help_text():
    out = molvae("screen", "--help")
    assert out.returncode == 0
    assert "SMILES column" in out.stdout


def test_missing_input_file_is_worded_the_same_by_every_command(tmp_path):
    """One wording for a missing file, whatever the command and the file's role."""
    missing = tmp_path / "absent.csv"
    toml = tmp_path / "absent.toml"
    out = tmp_path / "out"
    commands = [
        ("encode", missing, "--out", out / "l.csv"),
        ("decode", missing, "--out", out / "d.csv"),
        ("reconstruct", missing),
        ("score", missing, "--out", out / "s.csv"),
        ("embed", missing, "--out", out / "f.csv"),
        ("map", missing, "--out", out / "m.html"),
        ("optimize", missing, "--target", "logP", "--out", out / "o.csv"),
        ("screen", missing, "--out", out / "s.csv"),
        ("generate", "--start-from", missing, "--out", out / "g.csv"),
        ("evaluate", "--samples", missing, "--reference", missing),
        ("fit-property", missing, "--column", "logP", "--out", out / "p"),
        ("fit-critic", missing, "--out", out / "c"),
        ("train", missing, "--out", out / "run"),
        ("screen", missing, "--out", out / "s.csv", "--config", toml),
    ]
    wrong = []
    for args in commands:
        result = molvae(*args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        expected = {f"error: {missing}: file not found", f"error: {toml}: file not found"}
        if result.returncode != 1 or not lines or lines[-1] not in expected:
            wrong.append(f"molvae {' '.join(map(str, args))}: exit {result.returncode}, "
                         f"{lines[-1] if lines else '(nothing on stderr)'}")
    assert not wrong, "\n".join(wrong)
    assert not [p for p in out.rglob("*") if p.is_file()]  # nothing written before the check
    # A command's --config file is read while the options are parsed: a usage error (exit 2),
    # worded the same inside Typer's usage message.
    usage = molvae("sample", "--config", toml)
    assert usage.returncode == 2 and f"{toml}: file not found" in usage.stderr
