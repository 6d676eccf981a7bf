"""Each command that makes or uses a model says in one line when it is not usable yet."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLE

from .runner import molvae

NOT_USABLE = "not usable yet"
TINY = ("--embedding-dim", "16", "--encoder-hidden", "32", "--latent-dim", "8",
        "--decoder-hidden", "64", "--batch-size", "32", "--precision", "fp32")


def _lines(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def test_train_one_epoch_on_a_tiny_set_says_the_model_is_not_usable(tmp_path):
    out = tmp_path / "run"
    res = molvae("train", SAMPLE, "--out", out, "--epochs", "1", "--max-molecules", "200",
                 "--quiet", *TINY)
    assert res.returncode == 0, res.stderr
    [line] = _lines(res.stderr, "model not usable yet")
    assert "exact reconstruction" in line and "train longer" in line
    assert line.index("docs/training.md")
    assert (out / "model" / "model.safetensors").is_file()


def test_sample_with_an_undertrained_model_warns(tiny_run, tmp_path):
    res = molvae("sample", "-n", "50", "--model", tiny_run, "--out", tmp_path / "s.csv",
                 "--seed", "0")
    assert res.returncode == 0, res.stderr
    assert len(_lines(res.stderr, "model not usable yet")) == 1


def test_sample_with_the_bundled_model_does_not_warn(tmp_path):
    res = molvae("sample", "-n", "200", "--out", tmp_path / "s.csv", "--seed", "0")
    assert res.returncode == 0, res.stderr
    assert NOT_USABLE not in res.stderr + res.stdout


def test_fit_property_on_noise_says_the_head_is_not_usable(tiny_run, tmp_path):
    smiles = pd.read_csv(SAMPLE)["SMILES"].head(300)
    noise = np.random.default_rng(0).normal(size=len(smiles))
    data = tmp_path / "noise.csv"
    pd.DataFrame({"smiles": smiles, "noise": noise}).to_csv(data, index=False)
    res = molvae("fit-property", data, "--column", "noise", "--out", tmp_path / "m",
                 "--model", tiny_run, "--epochs", "50")
    assert res.returncode == 0, res.stderr
    [head] = _lines(res.stderr, "noise predictor not usable yet: held-out R^2")
    assert "more labelled molecules" in head
    assert len(_lines(res.stderr, "model not usable yet")) == 1  # the tiny model itself


@pytest.mark.slow
def test_fit_property_with_the_bundled_model_does_not_warn(tmp_path):
    res = molvae("fit-property", SAMPLE, "--column", "HBD", "--out", tmp_path / "m",
                 "--epochs", "100")
    assert res.returncode == 0, res.stderr
    assert NOT_USABLE not in res.stderr + res.stdout


def test_fit_critic_on_an_undertrained_model_says_the_samples_are_not_molecules(
    tiny_run, tmp_path
):
    res = molvae("fit-critic", SAMPLE, "--model", tiny_run, "--out", tmp_path / "m",
                 "--samples", "300", "--epochs", "3")
    assert res.returncode == 0, res.stderr
    [line] = _lines(res.stderr, "critic not usable yet")
    assert "held-out AUC" in line and "train the model longer" in line


def test_report_stores_the_verdict_in_the_page(tiny_run, tmp_path):
    out = tmp_path / "report.html"
    res = molvae("report", tiny_run, "--out", out, "--samples", "100", "--map-points", "20")
    assert res.returncode == 0, res.stderr
    [line] = _lines(res.stderr, "model not usable yet")
    page = out.read_text()
    assert 'data-usable="false"' in page and "model not usable yet" in page


def test_report_of_the_bundled_model_says_it_is_usable(tmp_path):
    out = tmp_path / "report.html"
    res = molvae("report", "default", "--out", out, "--samples", "100", "--map-points", "20")
    assert res.returncode == 0, res.stderr
    assert NOT_USABLE not in res.stderr + res.stdout
    page = out.read_text()
    assert "model looks usable: token accuracy 0.98" in page
    assert 'data-usable="false"' not in page
