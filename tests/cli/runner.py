"""Run the ``molvae`` CLI in-process, as the console script would, for the CLI tests.

``molvae(*args)`` returns a ``subprocess.CompletedProcess`` (``returncode``, ``stdout``,
``stderr``) like the subprocess it replaces, so tests assert on the same three things. It goes
through the console script's own code path: ``molvae_cli.main.invoke(args)`` (what ``run()``
calls), including the one-line-error convention; only the interpreter start-up is skipped.
Typer's ``CliRunner.isolation`` captures stdout and stderr separately.

A few tests in ``test_entry_point.py`` still start the installed ``molvae`` script in a
subprocess, so the real entry point stays covered.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

# A wide, colourless console whatever the terminal running pytest: rich neither wraps a line an
# assertion looks for nor adds escape codes.
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def molvae(
    *args: str | os.PathLike,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str | None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``molvae ARGS`` in this process; ``env`` overrides variables for this run only."""
    from molvae_cli import main

    argv = [os.fspath(a) for a in args]
    runner = CliRunner()
    with (
        contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext(),
        runner.isolation(env={**ENV, **(env or {})}) as (out, err, _),
        _fresh_cli_state(),
    ):
        try:
            code = main.invoke(argv)
        except SystemExit as exc:  # as the interpreter would turn it into an exit status
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # escaped the entry point (``--debug``): a traceback, exit 1
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        stdout = out.getvalue().decode(runner.charset, "replace")
        stderr = err.getvalue().decode(runner.charset, "replace")
    return subprocess.CompletedProcess(["molvae", *argv], code, stdout, stderr)


def without_module(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make ``import name`` (and its submodules) fail for the rest of the test."""
    for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")] or [name]:
        monkeypatch.setitem(sys.modules, key, None)


def molvae_script() -> Path:
    """The installed ``molvae`` console script (next to this interpreter)."""
    path = Path(sys.executable).with_name("molvae")
    assert path.is_file(), f"{path}: molvae is not installed in this environment (pip install -e .)"
    return path


@contextlib.contextmanager
def _fresh_cli_state() -> Iterator[None]:
    """Give each run the state a new ``molvae`` process would start with, and undo it after.

    - ``--debug`` is remembered in a module-level dict: reset to off.
    - rich picked its colour system when the CLI's consoles were created (a terminal when
      pytest runs with ``-s``); a subprocess writing to a pipe has none, so neither does this.
    - rich also fixed the consoles' width from ``COLUMNS`` as it was then (whichever test
      imported the CLI first): cleared, so the width follows this run's ``COLUMNS``.
    """
    from molvae_cli import _common, main

    debug = main._STATE["debug"]
    main._STATE["debug"] = False
    consoles = [c for c in (_common.console, _common.err_console) if hasattr(c, "_color_system")]
    saved = [(c._color_system, c._width, c._height) for c in consoles]
    for c in consoles:
        c._color_system, c._width, c._height = None, None, None
    try:
        yield
    finally:
        main._STATE["debug"] = debug
        for c, (colour, width, height) in zip(consoles, saved, strict=True):
            c._color_system, c._width, c._height = colour, width, height
