"""CLI tests for ``molvae datasets``; never the network.

The listing and the error convention (one line on stderr, exit 1) go through the whole CLI's
entry point in-process (see runner.py); the rest uses Typer's CliRunner on an app holding only
this command group, which still goes through the command's option parsing.
"""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from molvae.data.public import DATASETS
from molvae.errors import MolvaeError
from molvae_cli import datasets as datasets_cmd

from .runner import molvae as run_molvae


@pytest.fixture()
def molvae(monkeypatch, tmp_path):
    """The whole CLI, in-process, with the data directory ``tmp_path``."""
    monkeypatch.setenv("MOLVAE_DATA_DIR", str(tmp_path))
    return run_molvae


@pytest.fixture()
def invoke(monkeypatch, tmp_path):
    monkeypatch.setenv("MOLVAE_DATA_DIR", str(tmp_path / "cache"))
    app = typer.Typer()
    datasets_cmd.register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_list_shows_every_dataset_and_cache_state(molvae, tmp_path):
    (tmp_path / DATASETS["zinc250k"].filename).write_text("smiles\n")
    result = molvae("datasets", "list")
    assert result.returncode == 0, result.stderr
    for name in DATASETS:
        assert name in result.stdout
    assert "MIT" in result.stdout
    lines = result.stdout.splitlines()
    assert "yes" in next(line for line in lines if "zinc250k" in line)
    assert "yes" not in next(line for line in lines if "moses-test " in line)


def test_download_offline_is_one_line_error(molvae, tmp_path):
    url = "http://127.0.0.1:9/zinc.csv"
    result = molvae("datasets", "download", "zinc250k", "--url", url)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot download zinc250k")
    assert url in lines[0]
    assert str(tmp_path / DATASETS["zinc250k"].filename) in lines[0]


def test_download_from_file_url_prints_path(invoke, tmp_path):
    upstream = tmp_path / "zinc.csv"
    upstream.write_text("smiles,logP\nCCO,0.1\n")
    result = invoke("datasets", "download", "zinc250k", "--url", upstream.as_uri(), "-q")
    assert result.exit_code == 0, result.output
    target = tmp_path / "cache" / DATASETS["zinc250k"].filename
    assert result.stdout.strip() == str(target)
    assert target.read_text() == upstream.read_text()


def test_download_checksum_mismatch_raises(invoke, tmp_path):
    upstream = tmp_path / "test.csv"
    upstream.write_text("SMILES,SPLIT\nCCO,test\n")  # not the real MOSES file
    result = invoke("datasets", "download", "moses-test", "--url", upstream.as_uri(), "-q")
    assert isinstance(result.exception, MolvaeError)
    assert "checksum mismatch" in str(result.exception)


def test_unknown_dataset_is_a_usage_error(invoke):
    result = invoke("datasets", "download", "nope")
    assert result.exit_code == 2
    assert "moses-train" in result.output
