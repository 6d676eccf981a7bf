import json
import pickle
import shutil

import pytest
import torch

from molvae.errors import MolvaeError
from molvae.models.store import load_model_dir


def test_round_trip_gives_identical_outputs(tiny_run, tmp_path):
    model, bundle = load_model_dir(tiny_run / "model")
    from molvae.models.store import save_model_dir

    save_model_dir(model, bundle, tmp_path / "copy")
    again, bundle2 = load_model_dir(tmp_path / "copy")
    z = torch.randn(5, model.config.latent_dim)
    assert torch.equal(model.generate(z), again.generate(z))
    assert bundle2.vocabulary.tokens == bundle.vocabulary.tokens
    assert bundle2.config == bundle.config
    assert bundle2.training["data_sha256"] == bundle.training["data_sha256"]


def test_saved_model_files_are_readable_by_others_under_the_umask(tiny_run, tmp_path, umask_022):
    import stat

    from molvae.models.store import save_model_dir

    model, bundle = load_model_dir(tiny_run / "model")
    save_model_dir(model, bundle, tmp_path / "shared")
    for name in ("model.safetensors", "config.json"):
        assert stat.S_IMODE((tmp_path / "shared" / name).stat().st_mode) == 0o644


class _Evil:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(_Evil.marker),))


def test_pickle_is_rejected_without_being_executed(tiny_run, tmp_path):
    target = tmp_path / "m"
    shutil.copytree(tiny_run / "model", target)
    marker = tmp_path / "pwned"
    _Evil.marker = str(marker)
    (target / "model.safetensors").write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(MolvaeError, match="pickle") as err:
        load_model_dir(target)
    assert not marker.exists()
    assert "model.safetensors" in str(err.value) and "\n" not in str(err.value)
    torch.save({"x": torch.ones(1)}, target / "model.safetensors")  # a torch zip file
    with pytest.raises(MolvaeError, match="never unpickles"):
        load_model_dir(target)


def test_truncated_weights(tiny_run, tmp_path):
    target = tmp_path / "m"
    shutil.copytree(tiny_run / "model", target)
    data = (target / "model.safetensors").read_bytes()
    (target / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(MolvaeError, match="not a valid safetensors file"):
        load_model_dir(target)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["vocabulary"]["tokens"].append("[Xx]"), "vocabulary has"),
        (lambda c: c["model"].update(decoder_hidden=c["model"]["decoder_hidden"] * 2), "has shape"),
        (lambda c: c["model"].update(latent_size=3), "unknown key"),
        (lambda c: c.update(format="other"), "not a molvae model"),
        (lambda c: c["properties"]["mean"].pop(), "property normalization"),
    ],
)
def test_mismatched_config(tiny_run, tmp_path, edit, message):
    target = tmp_path / "m"
    shutil.copytree(tiny_run / "model", target)
    config = json.loads((target / "config.json").read_text())
    edit(config)
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(MolvaeError, match=message):
        load_model_dir(target)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(MolvaeError, match="not found"):
        load_model_dir(tmp_path / "nothing")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(MolvaeError, match="not valid JSON"):
        load_model_dir(tmp_path / "m")
