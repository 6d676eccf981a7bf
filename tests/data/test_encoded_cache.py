"""The tokenized-dataset cache: reused across runs, invalidated by data or settings."""

import json

import numpy as np
import pandas as pd
import pytest

import molvae.training.prepare as train_module
from molvae.data.encoded_cache import cache_root
from molvae.tokens import Vocabulary
from molvae.training.prepare import prepare_data
from tests.conftest import SAMPLE, tiny_train_config


def _forbid(monkeypatch, name):
    def fail(*args, **kwargs):
        raise AssertionError(f"{name} ran although its result is cached")

    monkeypatch.setattr(train_module, name, fail)


def _prepare(path, cache, messages=None, vocabulary=None, **overrides):
    cfg = tiny_train_config(max_molecules=150, **overrides)
    log = messages.append if messages is not None else (lambda s: None)
    return prepare_data(path, cfg, vocabulary, status=log, cache=cache)


def _same(a, b):
    for x, y in ((a.train, b.train), (a.validation, b.validation)):
        assert np.array_equal(x.ids, y.ids) and np.array_equal(x.offsets, y.offsets)
        assert np.array_equal(x.rows, y.rows) and x.smiles == y.smiles
        assert np.array_equal(x.properties, y.properties, equal_nan=True)
    assert a.vocabulary.tokens == b.vocabulary.tokens
    counts = [(p.n_input_rows, p.n_unused, len(p.rejects)) for p in (a, b)]
    assert counts[0] == counts[1]


def test_second_prepare_reads_the_cache_without_tokenizing(tmp_path, monkeypatch):
    first_log: list[str] = []
    first = _prepare(SAMPLE, tmp_path, first_log, properties=["logP"])
    assert any(m.startswith("tokenizing") for m in first_log)
    (entry,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["settings"]["data_sha256"] == first.data_sha256
    assert (entry / "properties" / "property-logP.npy").is_file()
    assert np.load(entry / "ids.npy", mmap_mode="r").dtype == np.int16

    _forbid(monkeypatch, "encode_molecules")
    _forbid(monkeypatch, "compute_property_matrix")
    monkeypatch.setattr("molvae.data.tables.read_molecules", lambda *a, **k: 1 / 0)
    again_log: list[str] = []
    again = _prepare(SAMPLE, tmp_path, again_log, properties=["logP"])
    assert any(m.startswith("using cached tokenized data") for m in again_log)
    assert not any(m.startswith(("tokenizing", "reading", "computing")) for m in again_log)
    _same(first, again)
    assert len(list(tmp_path.iterdir())) == 1


def test_new_property_is_computed_alone_and_added_to_the_entry(tmp_path, monkeypatch):
    _prepare(SAMPLE, tmp_path, properties=["logP"])
    seen = []
    real = train_module.compute_property_matrix

    def spy(smiles, names, **kwargs):
        seen.append(list(names))
        return real(smiles, names, **kwargs)

    monkeypatch.setattr(train_module, "compute_property_matrix", spy)
    both = _prepare(SAMPLE, tmp_path, properties=["logP", "MW"])
    assert seen == [["MW"]]
    assert both.property_names == ["logP", "MW"]
    assert np.isfinite(both.train.properties).all()


def test_changed_data_or_settings_make_a_new_entry(tmp_path):
    data = tmp_path / "data.csv"
    frame = pd.read_csv(SAMPLE).iloc[:60]
    frame.to_csv(data, index=False)
    cache = tmp_path / "cache"
    base = _prepare(data, cache)
    log: list[str] = []
    _prepare(data, cache, log)
    assert not any(m.startswith("tokenizing") for m in log)

    def tokenizes(**kwargs) -> bool:
        log: list[str] = []
        _prepare(data, cache, log, **kwargs)
        return any(m.startswith("tokenizing") for m in log)

    assert tokenizes(max_length=60)
    assert tokenizes(representation="smiles")
    log = []
    vocab = Vocabulary(base.vocabulary.tokens + ["[Xe]"])  # a fine-tuning vocabulary
    _prepare(data, cache, log, vocabulary=vocab)
    assert any(m.startswith("tokenizing") for m in log)
    frame.iloc[:-1].to_csv(data, index=False)  # the file's bytes change
    assert tokenizes()
    entries = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 5


def test_damaged_entry_is_rebuilt_and_unwritable_cache_still_trains(tmp_path):
    first = _prepare(SAMPLE, tmp_path / "c")
    (entry,) = (tmp_path / "c").iterdir()
    np.save(entry / "offsets.npy", np.zeros(3, dtype=np.int64))  # inconsistent with the rest
    log: list[str] = []
    rebuilt = _prepare(SAMPLE, tmp_path / "c", log)
    assert any(m.startswith("tokenizing") for m in log)
    _same(first, rebuilt)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    _same(first, _prepare(SAMPLE, blocked / "cache"))
    off = _prepare(SAMPLE, False)
    _same(first, off)


def test_default_location_follows_molvae_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(tmp_path / "here"))
    assert cache_root() == tmp_path / "here" / "datasets"
    _prepare(SAMPLE, True)
    assert any((tmp_path / "here" / "datasets").iterdir())


def test_property_column_is_cached_too(tmp_path, monkeypatch):
    data = tmp_path / "assay.csv"
    frame = pd.read_csv(SAMPLE).iloc[:40].copy()
    frame["pIC50"] = [f"{v:.2f}" for v in np.linspace(4, 8, len(frame))]
    frame.loc[3, "pIC50"] = "n/a"
    frame.to_csv(data, index=False)
    first = _prepare(data, tmp_path / "c", property_columns=["pIC50"])
    monkeypatch.setattr("molvae.data.tables.read_molecules", lambda *a, **k: 1 / 0)
    again = _prepare(data, tmp_path / "c", property_columns=["pIC50"])
    _same(first, again)
    values = np.concatenate([again.train.properties[:, 0], again.validation.properties[:, 0]])
    assert np.isnan(values).sum() == 1


def test_unknown_column_with_a_cached_entry_is_still_clear(tmp_path):
    _prepare(SAMPLE, tmp_path)
    from molvae.errors import MolvaeError

    with pytest.raises(MolvaeError, match="property column 'nope'"):
        _prepare(SAMPLE, tmp_path, property_columns=["nope"])
