"""``molvae design``: a Python oracle file, an external command, resume, prior scores, errors."""

from __future__ import annotations

import shlex
import sys

import pandas as pd
import pytest

from molvae.optimize.design import CALL_COLUMNS
from tests.cli.runner import molvae

FAST = ["--batch-size", "10", "--pool-size", "120", "--centers", "4"]

ORACLE = """\
from rdkit import Chem


def heavy_atoms(smiles):
    return [Chem.MolFromSmiles(s).GetNumHeavyAtoms() for s in smiles]


def wrong_length(smiles):
    return [1.0]
"""

SCRIPT = """\
import sys

for line in sys.stdin:
    smiles = line.strip()
    print("nan" if "Cl" in smiles else len(smiles))
"""


@pytest.fixture
def oracle_file(tmp_path):
    path = tmp_path / "oracle.py"
    path.write_text(ORACLE)
    return path


def test_design_with_a_python_oracle_then_resume(oracle_file, tmp_path):
    out = tmp_path / "calls.csv"
    done = molvae("design", "--oracle", f"{oracle_file}:heavy_atoms", "--budget", "20",
                  "--out", out, *FAST)
    assert done.returncode == 0, done.stderr
    calls = pd.read_csv(out)
    assert list(calls.columns) == CALL_COLUMNS and len(calls) == 20
    assert "best 10 of 20 calls" in done.stdout
    assert "20 of 20 calls (0 failed)" in done.stdout
    # Rerun without --resume: refused, the record is untouched.
    again = molvae("design", "--oracle", f"{oracle_file}:heavy_atoms", "--out", out)
    assert again.returncode == 1 and "--resume" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    more = molvae("design", "--oracle", f"{oracle_file}:heavy_atoms", "--budget", "30",
                  "--out", out, "--resume", *FAST)
    assert more.returncode == 0, more.stderr
    assert "resumed from" in more.stderr and "20 calls already made" in more.stderr
    resumed = pd.read_csv(out)
    assert len(resumed) == 30 and resumed["smiles"].is_unique
    pd.testing.assert_frame_equal(resumed.head(20), calls)


def test_design_with_an_external_command(tmp_path):
    script = tmp_path / "score.py"
    script.write_text(SCRIPT)
    out = tmp_path / "calls.csv"
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    start = tmp_path / "start.smi"
    start.write_text("CCCl\nCCO\n")
    done = molvae("design", "--oracle-cmd", command, "--budget", "15", "--out", out,
                  "--start-from", start, *FAST)
    assert done.returncode == 0, done.stderr
    calls = pd.read_csv(out, keep_default_na=False)
    assert len(calls) == 15
    first = calls.iloc[0]
    assert (first["smiles"], first["status"], first["reason"]) == (
        "CCCl", "failed", "oracle returned NaN")
    assert float(calls.iloc[1]["score"]) == 3.0 and calls.iloc[1]["source"] == "start"


def test_prior_scores_are_free(oracle_file, tmp_path):
    scores = tmp_path / "known.csv"
    pd.DataFrame({"SMILES": ["CCO", "c1ccccc1", "bad("], "pIC50": [5.0, 6.0, 7.0]}).to_csv(
        scores, index=False)
    out = tmp_path / "calls.csv"
    done = molvae("design", "--oracle", f"{oracle_file}:heavy_atoms", "--budget", "10",
                  "--out", out, "--scores", scores, "--score-column", "pIC50", *FAST)
    assert done.returncode == 0, done.stderr
    assert "prior knowledge: 2 molecules with known scores" in done.stderr
    assert "1 rejected" in done.stderr
    assert not set(pd.read_csv(out)["smiles"]) & {"CCO", "c1ccccc1"}
    missing = molvae("design", "--oracle", f"{oracle_file}:heavy_atoms", "--out",
                     tmp_path / "other.csv", "--scores", scores)
    assert missing.returncode == 1 and "no column 'score'" in missing.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [("missing.py:score", "missing.py: file not found"),
     ("ORACLE:nope", "no function 'nope' (functions defined there: heavy_atoms, wrong_length)"),
     ("ORACLE", "expected FILE.py:FUNCTION")],
)
def test_oracle_file_errors_are_one_line(oracle_file, tmp_path, spec, message):
    spec = spec.replace("ORACLE", str(oracle_file))
    done = molvae("design", "--oracle", spec, "--out", tmp_path / "calls.csv", cwd=tmp_path)
    assert done.returncode == 1
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "calls.csv").exists()


def test_wrong_number_of_values_is_one_line_and_the_record_is_kept(oracle_file, tmp_path):
    out = tmp_path / "calls.csv"
    done = molvae("design", "--oracle", f"{oracle_file}:wrong_length", "--budget", "20",
                  "--out", out, *FAST)
    assert done.returncode == 1
    assert "returned 1 value(s) for 10 molecule(s)" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(pd.read_csv(out).columns) == CALL_COLUMNS  # the record stays, empty here


def test_one_oracle_is_required(oracle_file, tmp_path):
    neither = molvae("design", "--out", tmp_path / "c.csv")
    both = molvae("design", "--oracle", f"{oracle_file}:heavy_atoms", "--oracle-cmd", "cat",
                  "--out", tmp_path / "c.csv")
    assert neither.returncode == both.returncode == 2
    assert "exactly one of --oracle" in neither.stderr


def test_option_defaults_are_the_settings_defaults():
    import dataclasses

    import typer.main

    from molvae.settings import DesignSettings
    from molvae_cli.main import _register_commands, app

    _register_commands()
    options = {p.name: p for p in typer.main.get_command(app).commands["design"].params}
    settings = DesignSettings()
    compared = 0
    for field in dataclasses.fields(settings):
        if field.name in options:
            default = options[field.name].default
            if field.name == "filters" and default is None:
                default = []
            assert default == getattr(settings, field.name), field.name
            compared += 1
    assert compared >= 10


def test_design_options_reach_the_method(oracle_file, tmp_path):
    """--splice-share, --any-form and --decode-temperature change what is proposed: splices are
    recorded as their own source."""
    out = tmp_path / "calls.csv"
    done = molvae("design", "--oracle", f"{oracle_file}:heavy_atoms", "--budget", "30",
                  "--out", out, *FAST, "--splice-share", "0.6", "--any-form",
                  "--decode-temperature", "0.7", "--tune-every", "0")
    assert done.returncode == 0, done.stderr
    calls = pd.read_csv(out)
    assert len(calls) == 30 and (calls["source"] == "vae-splice").sum() > 0
    bad = molvae("design", "--oracle", f"{oracle_file}:heavy_atoms", "--out", tmp_path / "b.csv",
                 "--prior-share", "0.5", "--splice-share", "0.6")
    assert bad.returncode == 1 and "add up to at most 1" in bad.stderr
