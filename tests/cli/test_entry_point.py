"""Smoke tests of the installed ``molvae`` console script, each in a new process.

The other CLI tests run in-process (runner.py); these check what only a real process shows:
the script is installed and starts, every command module imports, and exit codes and the
one-line error on stderr reach the shell.
"""

from __future__ import annotations

import os
import subprocess

import pandas as pd

from molvae import __version__

from .runner import molvae_script


def script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(molvae_script()), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **env},
        timeout=300,
    )


def test_entry_point_version():
    out = script("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"molvae {__version__}"


def test_entry_point_help_lists_every_command():
    out = script("--help")
    assert out.returncode == 0, out.stderr
    for command in ("train", "sample", "encode", "generate", "screen", "map", "report", "datasets"):
        assert command in out.stdout


def test_entry_point_runs_a_command(tiny_run, tmp_path):
    samples = tmp_path / "s.csv"
    out = script("sample", "-n", "5", "--model", str(tiny_run), "--out", str(samples),
                 "--seed", "0", "--any-form")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert len(pd.read_csv(samples)) == 5 and "5 decoded" in out.stdout


def test_entry_point_errors_are_one_line_exit_1_and_usage_errors_exit_2(tmp_path):
    missing = str(tmp_path / "missing")
    out = script("sample", "--model", missing)
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "not found" in lines[0]
    debug = script("--debug", "sample", "--model", missing)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert script("sample", "-n", "notanumber").returncode == 2
