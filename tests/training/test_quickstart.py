"""The training quick start: its config, its shipped data, and a (tiny) run of the recipe."""

import gzip
import hashlib
import re

import pandas as pd

from molvae.models.config import ModelConfig
from molvae.settings import from_dict
from molvae.training.config import TrainConfig, load_toml
from tests.cli.runner import molvae
from tests.conftest import REPO, TEST_SAMPLE

CONFIG = REPO / "configs" / "quickstart.toml"
DATA = REPO / "datasets" / "moses_train_30k.csv.gz"


def test_config_is_a_valid_train_config():
    raw_train, raw_model = load_toml(CONFIG)
    cfg = from_dict(TrainConfig, raw_train, where=str(CONFIG))
    cfg.validate()
    model = from_dict(ModelConfig, raw_model, where=str(CONFIG))
    # Small GRUs train several times faster in fp32 than under bf16 autocast on a CPU.
    assert cfg.precision == "fp32"
    assert model.decoder_hidden < ModelConfig().decoder_hidden


def test_shipped_data_matches_its_provenance_and_never_overlaps_the_test_sample():
    assert DATA.stat().st_size <= 2_000_000
    digest = hashlib.sha256(DATA.read_bytes()).hexdigest()
    readme = (REPO / "datasets" / "README.md").read_text()
    assert re.search(rf"`moses_train_30k\.csv\.gz`: `{digest}`", readme)
    with gzip.open(DATA, "rt") as fh:
        train = pd.read_csv(fh)
    assert list(train.columns) == ["SMILES"] and len(train) == 30_000
    assert train["SMILES"].is_unique
    assert not set(train["SMILES"]) & set(pd.read_csv(TEST_SAMPLE)["SMILES"])


def test_the_recipe_runs_from_the_command_line(tmp_path):
    # The quick start's command with tiny sizes: the config's keys are read and flags win.
    # The data settings (file, config, --max-molecules 1000) are those of the documents' quick
    # start blocks (README.md, docs/training.md) and of tests/test_examples.py: the test run's
    # shared cache then holds the tokenized subset, and the 30,000 rows are read once.
    out = tmp_path / "qs"
    res = molvae("train", DATA, "--config", CONFIG, "--out", out, "--quiet",
                 "--max-molecules", "1000", "--epochs", "1", "--encoder-hidden", "16",
                 "--decoder-hidden", "32", "--latent-dim", "8")
    assert res.returncode == 0, res.stderr
    assert "done: " in res.stderr and (out / "model" / "model.safetensors").is_file()
    assert "model not usable yet" in res.stderr  # one epoch on 950 molecules
