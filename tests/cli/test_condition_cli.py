"""``molvae train --condition`` and ``molvae sample --condition``, in-process (see runner.py)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from molvae import chem
from tests.conftest import SAMPLE
from tests.generation.conditional_model import conditional_run

from .runner import molvae


def test_sample_with_two_conditions_reports_requested_and_rdkit_values(tmp_path):
    out = tmp_path / "s.csv"
    res = molvae("sample", "--model", conditional_run(), "--condition", "logP=2.5",
                 "--condition", "MW=300", "-n", "12", "--any-form", "--seed", "0",
                 "--out", out)  # fmt: skip
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert len(frame) == 12
    assert (frame["requested_logP"] == 2.5).all() and (frame["requested_MW"] == 300).all()
    for row in frame[frame["valid"]].itertuples():
        assert row.logP == pytest.approx(chem.logp(chem.parse_smiles(row.canonical)), abs=1e-4)
    assert "logP: requested 2.5, RDKit mean" in res.stdout
    assert "MW: requested 300, RDKit mean" in res.stdout
    assert "z drawn near the 500 reference molecules nearest the request" in res.stdout


def test_no_reference_samples_from_the_prior(tmp_path):
    args = ["sample", "--model", conditional_run(), "--condition", "logP=2.5", "-n", "12",
            "--any-form", "--seed", "0"]  # fmt: skip
    near = molvae(*args, "--out", tmp_path / "a.csv")
    prior = molvae(*args, "--no-reference", "--out", tmp_path / "b.csv")
    assert near.returncode == 0 and prior.returncode == 0, prior.stderr
    assert "reference molecules" not in prior.stdout
    assert "logP: requested 2.5, RDKit mean" in prior.stdout
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert len(a) == len(b) == 12 and a["smiles"].tolist() != b["smiles"].tolist()
    few = molvae(*args, "--reference-pool", "3", "--out", tmp_path / "c.csv")
    assert few.returncode == 0, few.stderr
    assert "z drawn near the 3 reference molecules nearest the request" in few.stdout
    assert pd.read_csv(tmp_path / "c.csv")["smiles"].tolist() != a["smiles"].tolist()


@pytest.mark.parametrize(
    "condition, message",
    [
        ("QED=0.7", "error: condition 'QED': not a condition of this model; conditions it has: "
                    "logP, MW"),
        ("logP", "expected NAME=VALUE with a finite number"),
        ("logP=high", "expected NAME=VALUE with a finite number"),
        ("logP=1,logP=2", "--condition logP is given more than once"),
    ],
)
def test_bad_conditions_are_one_line_errors(condition, message, tmp_path):
    res = molvae("sample", "--model", conditional_run(), "--condition", condition, "-n", "3",
                 "--out", tmp_path / "s.csv")  # fmt: skip
    assert res.returncode == 1
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()[-1]) > 0
    assert not (tmp_path / "s.csv").exists()


def test_condition_on_an_unconditional_model_is_an_error(tiny_run, tmp_path):
    res = molvae("sample", "--model", tiny_run, "--condition", "logP=2", "-n", "3",
                 "--out", tmp_path / "s.csv")  # fmt: skip
    assert res.returncode == 1
    assert "this model has no conditions" in res.stderr and "conditions it has: none" in res.stderr


def test_a_value_outside_the_training_range_is_a_warning(tmp_path):
    res = molvae("sample", "--model", conditional_run(), "--condition", "MW=600", "-n", "3",
                 "--any-form", "--out", tmp_path / "s.csv")  # fmt: skip
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stderr.splitlines() if x.startswith("warning: condition MW=600"))
    assert "outside the training range" in line and " to " in line
    assert "UserWarning" not in res.stderr


def test_train_with_conditions_from_the_command_line(tmp_path):
    run = tmp_path / "run"
    res = molvae("train", SAMPLE, "--out", run, "--condition", "logp,TPSA", "--epochs", "1",
                 "--max-molecules", "80", "--batch-size", "32", "--embedding-dim", "8",
                 "--encoder-hidden", "16", "--latent-dim", "4", "--decoder-hidden", "16",
                 "--condition-dropout", "0.5", "--quiet")  # fmt: skip
    assert res.returncode == 0, res.stderr
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["model"]["conditions"] == ["logP", "TPSA"]
    assert {"logP", "TPSA"} <= set(config["properties"]["names"])
    assert json.loads((run / "run.json").read_text())["train"]["condition_dropout"] == 0.5


def test_a_config_file_can_ask_for_a_learned_prior_from_scratch(tmp_path):
    """``conditional_prior`` in the [model] table of a new run (no --init-from) trains p(z|c)
    from the first step; the size check before training must not take it for a prior
    without conditions."""
    config = tmp_path / "prior.toml"
    config.write_text('conditions = ["logP", "MW"]\nepochs = 1\nmax_molecules = 80\n'
                      'batch_size = 32\n[model]\nembedding_dim = 8\nencoder_hidden = 16\n'
                      'latent_dim = 4\ndecoder_hidden = 16\nconditional_prior = true\n'
                      'prior_hidden = 8\n')  # fmt: skip
    run = tmp_path / "run"
    res = molvae("train", SAMPLE, "--out", run, "--config", config, "--quiet")
    assert res.returncode == 0, res.stderr
    model = json.loads((run / "model" / "config.json").read_text())["model"]
    assert model["conditional_prior"] is True and model["prior_hidden"] == 8
    assert model["conditions"] == ["logP", "MW"]


def test_sample_with_a_tolerance_keeps_molecules_within_it(tmp_path):
    out = tmp_path / "s.csv"
    res = molvae("sample", "--model", conditional_run(), "--condition", "logP=1.5,MW=300",
                 "--tolerance", "logP=1,MW=40", "-n", "10", "--any-form", "--seed", "0",
                 "--out", out)  # fmt: skip
    assert res.returncode == 0, res.stderr
    frame = pd.read_csv(out)
    assert len(frame) == 10
    assert ((frame["logP"] - 1.5).abs() <= 1).all() and ((frame["MW"] - 300).abs() <= 40).all()
    assert "the rest were invalid or outside the tolerance" in res.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tolerance", "logP=0.3"], "--tolerance applies to requested values: give them with "
                                      "--condition"),
        (["--condition", "logP=2", "--tolerance", "logP"], "--tolerance 'logP': expected "
                                                           "NAME=VALUE"),
        (["--condition", "logP=2", "--tolerance", "MW=15"], "tolerance MW: not among the "
                                                            "requested conditions"),
        (["--condition", "logP=2", "--tolerance", "logP=-1"], "tolerance logP: must be a "
                                                              "positive number"),
    ],
)
def test_bad_tolerances_are_one_line_errors(args, message, tmp_path):
    res = molvae("sample", "--model", conditional_run(), *args, "-n", "3",
                 "--out", tmp_path / "s.csv")  # fmt: skip
    assert res.returncode == 1
    assert message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "s.csv").exists()
