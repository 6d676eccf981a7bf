import pytest

from molvae.errors import MolvaeError
from molvae.models.config import ModelConfig
from molvae.settings import from_dict
from molvae.training.config import TrainConfig, load_toml


def test_toml_sections(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('epochs = 3\nbeta = 1\nproperties = ["logP"]\n[model]\nlatent_dim = 32\n')
    train, model = load_toml(path)
    assert from_dict(TrainConfig, train).beta == 1.0
    assert from_dict(ModelConfig, model).latent_dim == 32


@pytest.mark.parametrize(
    "text, message",
    [
        ("epochz = 3\n", "unknown key(s) epochz"),
        ("[model]\nlatent = 3\n", "unknown key(s) latent"),
        ("epochs = 'three'\n", "expected an integer"),
        ("standardize = 1\n", "expected true/false"),
        ("properties = 'logP'\n", "expected a list"),
        ("epochs = [\n", "invalid TOML"),
    ],
)
def test_toml_errors_are_one_line(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(MolvaeError) as err:
        load_toml(path)
    assert message in str(err.value)


def test_optional_values():
    cfg = from_dict(TrainConfig, {"max_minutes": None, "smiles_column": "smi"})
    assert cfg.max_minutes is None and cfg.smiles_column == "smi"
    assert from_dict(TrainConfig, {"max_minutes": 5}).max_minutes == 5.0


def test_validate():
    with pytest.raises(MolvaeError, match="kl_schedule"):
        TrainConfig(kl_schedule="exp").validate()
    # A TOML's batch_size and epochs have the upper bounds of the flags.
    with pytest.raises(MolvaeError, match="batch_size must be at most 4096"):
        TrainConfig(batch_size=10**9).validate()
    with pytest.raises(MolvaeError, match="epochs must be at most 10000"):
        TrainConfig(epochs=10**9).validate()
    TrainConfig(batch_size=4096, epochs=10_000).validate()
    with pytest.raises(MolvaeError, match="latent_dim"):
        ModelConfig(vocab_size=10, latent_dim=0).validate()
