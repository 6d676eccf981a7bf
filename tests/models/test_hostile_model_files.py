"""Hostile model directories (tests/models/hostile_models.py) are refused in one line naming the
file and the problem, before the model is built or a tensor read, and no pickle ever runs.

The cases start from the bundled model, so no training is needed. Each refusal's CPU time is
checked only as a generous guard against giant allocations (a latent of 10^9 would take minutes
to allocate, if it fit); CPU time, not wall time, so a busy shared machine does not fail it. A
FIFO opened for a blocking read would hang instead: a watchdog opens its write end after a while,
so such a regression fails the test rather than stalling the suite.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from molvae import MolVAE  # the public API
from molvae.errors import MolvaeError
from molvae.models import critic as critic_module
from molvae.models import store
from molvae.models.config import ModelConfig
from molvae.models.store import expected_tensors, load_model_dir, resolve_model_path
from molvae.models.vae import GRUVAE
from tests.cli.runner import molvae as run_cli
from tests.models.hostile_models import (
    HostileCase,
    evil_pickle,
    hostile_cases,
    make_hostile,
    pickle_marker,
)

CASES = hostile_cases()
GUARD_SECONDS = 5.0  # CPU seconds


@pytest.fixture(scope="module")
def source() -> Path:
    """The bundled model: a valid directory every case damages a copy of."""
    return resolve_model_path("default")


@pytest.fixture(scope="module")
def warm_cli(tmp_path_factory) -> None:
    """Run the command once first, so the time guards do not count importing it."""
    run_cli("sample", "-n", "1", "--model", tmp_path_factory.mktemp("warm") / "absent")


@contextlib.contextmanager
def fifos_unblocked(directory: Path, after: float = 2 * GUARD_SECONDS) -> Iterator[None]:
    """Open the write end of every FIFO in ``directory`` if the test is still running after
    ``after`` seconds: a loader stuck opening one for reading then gets an empty file and the
    test fails on its assertions instead of hanging the suite."""
    done = threading.Event()
    fifos = [p for p in directory.iterdir() if stat.S_ISFIFO(os.lstat(p).st_mode)]

    def unblock() -> None:
        if done.wait(after):
            return
        for fifo in fifos:
            with contextlib.suppress(OSError):  # ENXIO: nobody is reading it, good
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _check_message(case: HostileCase, message: str) -> None:
    assert "\n" not in message.strip(), message
    assert case.names in message, message
    assert case.expected in message, message


LOADERS = {
    "load_model_dir": lambda path: load_model_dir(path),
    "MolVAE.load": lambda path: MolVAE.load(path, device="cpu"),
}


# load_model_dir does not read the critic; MolVAE.load does.
API_CASES = [
    pytest.param(case, loader, id=f"{case.name}-{loader}")
    for case in CASES
    for loader in LOADERS
    if not (case.critic and loader == "load_model_dir")
]


@pytest.mark.parametrize("case, loader", API_CASES)
def test_python_api_refuses_before_building_or_reading(
    case: HostileCase, loader: str, source: Path, tmp_path: Path, monkeypatch
) -> None:
    path = make_hostile(case, source, tmp_path / "m")
    # Building the network or handing the file to safetensors' loader means the file's claims
    # were not checked first: every case must be refused before either (a critic case once the
    # model itself has loaded).
    calls: list[str] = []

    def spy(name: str, real):
        def wrapped(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)

        return wrapped

    if case.critic:
        monkeypatch.setattr(critic_module, "Critic", spy("Critic", critic_module.Critic))
        monkeypatch.setattr(store, "load_file", spy("load_file", store.load_file))
        expected_calls = ["load_file"]  # the model's own weights, before the critic
    else:
        monkeypatch.setattr(store, "GRUVAE", spy("GRUVAE", store.GRUVAE))
        monkeypatch.setattr(store, "load_file", spy("load_file", store.load_file))
        expected_calls = []
    with fifos_unblocked(tmp_path / "m"):
        start = time.process_time()
        with pytest.raises(MolvaeError) as err:
            LOADERS[loader](path)
        elapsed = time.process_time() - start
    _check_message(case, str(err.value))
    assert calls == expected_calls
    assert not pickle_marker(tmp_path / "m").exists()
    assert elapsed < GUARD_SECONDS


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_prints_one_line_and_exits_1(
    case: HostileCase, source: Path, tmp_path: Path, warm_cli: None
) -> None:
    path = make_hostile(case, source, tmp_path / "m")
    with fifos_unblocked(tmp_path / "m"):
        start = time.process_time()
        result = run_cli("sample", "-n", "5", "--model", path, "--out", tmp_path / "s.csv")
        elapsed = time.process_time() - start
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "--debug" not in lines[0]  # a MolvaeError, not an unexpected exception
    _check_message(case, lines[0])
    assert not (tmp_path / "s.csv").exists()
    assert not pickle_marker(tmp_path / "m").exists()
    assert elapsed < GUARD_SECONDS


def test_the_evil_pickles_would_run_if_unpickled(tmp_path: Path) -> None:
    """The marker checks above can fail: unpickling the planted bytes does create the marker."""
    for protocol in (0, 2, pickle.DEFAULT_PROTOCOL):
        marker = tmp_path / f"marker{protocol}"
        pickle.loads(evil_pickle(marker, protocol))
        assert marker.exists()


def test_the_cases_start_from_a_loadable_model(source: Path, tmp_path: Path) -> None:
    """Only the damage makes a case fail: the undamaged copy loads and decodes."""
    intact = HostileCase("intact", lambda target: target, "", "", "control")
    vae = MolVAE.load(make_hostile(intact, source, tmp_path / "m"), device="cpu")
    assert vae.critic is not None  # the critic cases damage a critic that loads
    assert len(vae.bundle.vocabulary) == vae.model.config.vocab_size
    assert len(vae.sample(3, seed=0, canonical_only=False, critic=False)) == 3


def test_cases_are_named_once_and_cover_every_kind() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert {c.group for c in CASES} == {
        "sizes", "config", "vocabulary", "weights", "tensors", "file type", "pickle", "critic"
    }  # fmt: skip
    assert sum(c.pickle for c in CASES) >= 6


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"bidirectional": False},
        {"encoder_layers": 3, "decoder_layers": 2},
        {"encoder_layers": 2, "bidirectional": False, "properties": ["logP", "QED"]},
        {"properties": ["logP"], "fitted_properties": ["pIC50", "MW"], "predictor_ensemble": 3},
    ],
)
def test_expected_tensors_match_the_model(overrides: dict) -> None:
    """The shapes checked against a weights header are exactly those of the built model."""
    config = ModelConfig(
        vocab_size=11, embedding_dim=6, encoder_hidden=5, latent_dim=4, decoder_hidden=7,
        predictor_hidden=3, **overrides,
    )  # fmt: skip
    built = {k: tuple(v.shape) for k, v in GRUVAE(config).state_dict().items()}
    assert expected_tensors(config) == built


@pytest.mark.parametrize(
    "sizes, message",
    [
        ({"latent_dim": 10**9}, "latent_dim is 1000000000, above the limit"),
        ({"vocab_size": 0}, "vocab_size must be positive"),
        ({"decoder_layers": 2.0}, "decoder_layers must be an integer"),
        ({"bidirectional": "yes"}, "bidirectional must be true or false"),
        ({"properties": ["logP", "logP"]}, "'logP' is listed more than once"),
    ],
)
def test_model_config_refuses_before_allocating(sizes: dict, message: str) -> None:
    """A config built in Python is checked the same way, before any tensor exists."""
    config = ModelConfig(**{"vocab_size": 20, **sizes})
    start = time.process_time()
    with pytest.raises(MolvaeError, match=message):
        GRUVAE(config)
    assert time.process_time() - start < GUARD_SECONDS


def test_a_header_length_that_starts_like_a_pickle_still_loads(tmp_path: Path) -> None:
    """A header of 0x0280 bytes opens with 0x80 0x02, as a protocol-2 pickle does."""
    import json
    import struct

    from safetensors.torch import load_file

    tensors = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    header = json.dumps({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}})
    raw = struct.pack("<Q", 0x0280) + header.ljust(0x0280).encode() + tensors["a"].numpy().tobytes()
    assert raw[:2] == b"\x80\x02"
    (tmp_path / "w.safetensors").write_bytes(raw)
    assert store.read_safetensors_header(tmp_path / "w.safetensors") == {
        "a": store.TensorInfo("F32", (2, 3))
    }
    assert torch.equal(load_file(str(tmp_path / "w.safetensors"))["a"], tensors["a"])
