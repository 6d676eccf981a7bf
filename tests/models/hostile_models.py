"""Hostile model directories, as data: what a user might hand molvae as a model, and the refusal
each must get.

Each :class:`HostileCase` builds one damaged copy of a valid model directory (absurd sizes in
``config.json``, a safetensors header claiming exabytes, a FIFO or a symlink loop in place of a
file, tensors of the wrong dtype, a critic whose sizes disagree with its weights, pickles under
every name...) and names the file and the message fragment the one-line ``MolvaeError`` must
hold. ``tests/models/test_hostile_model_files.py``
runs every case through the Python API and the CLI; a robustness benchmark can import
:func:`hostile_cases` to count and run them the same way::

    from tests.models.hostile_models import hostile_cases, make_hostile

    for case in hostile_cases():
        path = make_hostile(case, valid_model_dir, workdir / case.name)
        ...  # load ``path``; expect MolvaeError containing case.expected and case.names

Pickle cases hold a pickle whose ``__reduce__`` creates :func:`pickle_marker` ``(target)``: the
marker appearing means molvae ran code from a model file.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CRITIC_JSON = "critic.json"
CRITIC_WEIGHTS = "critic.safetensors"


@dataclass(frozen=True)
class HostileCase:
    """One hostile model directory.

    ``build(target)`` damages ``target`` (a fresh copy of a valid model directory) and returns
    the path to hand to the loader (usually ``target``). The refusal must be one line holding
    ``names`` (the file it blames) and ``expected`` (what is wrong with it).
    """

    name: str
    build: Callable[[Path], Path]
    expected: str
    names: str
    group: str
    pickle: bool = False
    # The damage is in the realism critic, which ``MolVAE.load`` (so every command) reads after
    # the model and ``load_model_dir`` does not.
    critic: bool = False


class _Evil:
    """A pickle that, when loaded, creates a marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (Path(self.marker),))


def pickle_marker(target: Path) -> Path:
    """The file an evil pickle planted in ``target`` would create if it were ever loaded."""
    return target.parent / f"{target.name}.pwned"


def evil_pickle(marker: Path, protocol: int = pickle.DEFAULT_PROTOCOL) -> bytes:
    """Pickle bytes that create ``marker`` when unpickled."""
    return pickle.dumps(_Evil(marker), protocol=protocol)


def make_hostile(case: HostileCase, source: Path, target: Path) -> Path:
    """Copy the model files of ``source`` (with its critic, if it has one) into the new
    directory ``target`` and let ``case`` damage it; returns the path to load."""
    target.mkdir(parents=True)
    for name in (CONFIG, WEIGHTS, CRITIC_JSON, CRITIC_WEIGHTS):
        if name in (CONFIG, WEIGHTS) or (source / name).is_file():
            shutil.copyfile(source / name, target / name)
    return case.build(target)


# ---------------------------------------------------------------------------- config.json
def _config(target: Path) -> dict[str, Any]:
    return json.loads((target / CONFIG).read_text())


def _edit_config(edit: Callable[[dict[str, Any]], object]) -> Callable[[Path], Path]:
    def build(target: Path) -> Path:
        config = _config(target)
        edit(config)
        (target / CONFIG).write_text(json.dumps(config))
        return target

    return build


def _model(**sizes: object) -> Callable[[Path], Path]:
    return _edit_config(lambda c: c["model"].update(sizes))


def _write_config(data: bytes) -> Callable[[Path], Path]:
    def build(target: Path) -> Path:
        (target / CONFIG).write_bytes(data)
        return target

    return build


def _set_key(key: str, value: object) -> Callable[[Path], Path]:
    return _edit_config(lambda c: c.__setitem__(key, value))


def _del_key(key: str) -> Callable[[Path], Path]:
    return _edit_config(lambda c: c.pop(key))


def _grow_config(target: Path) -> Path:
    """A valid config padded to 17 MiB (a vocabulary of 10^8 tokens would weigh ~1 GB)."""
    config = _config(target)
    config["training"]["padding"] = "x" * (17 * 2**20)
    (target / CONFIG).write_text(json.dumps(config))
    return target


def _big_within_limits(config: dict[str, Any]) -> None:
    """Sizes under every limit whose model would weigh about 4 GB: refused by comparing them
    with the tensors the weights file declares, before anything is built."""
    config["model"].update(
        embedding_dim=8192, encoder_hidden=8192, latent_dim=8192, decoder_hidden=8192
    )


# ---------------------------------------------------------------------------- vocabulary
def _vocab(edit: Callable[[list], object]) -> Callable[[Path], Path]:
    return _edit_config(lambda c: edit(c["vocabulary"]["tokens"]))


def _duplicate_token(tokens: list) -> None:
    tokens[-1] = tokens[-2]  # same count, so vocab_size still matches


def _non_string_token(tokens: list) -> None:
    tokens[-1] = 5


# ---------------------------------------------------------------------------- weights
def _split(path: Path) -> tuple[dict[str, Any], bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _join(header: dict[str, Any], data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def _write_weights(data: bytes | Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    def build(target: Path) -> Path:
        path = target / WEIGHTS
        path.write_bytes(data(path.read_bytes()) if callable(data) else data)
        return target

    return build


def _edit_header(edit: Callable[[dict[str, Any]], object]) -> Callable[[Path], Path]:
    def build(target: Path) -> Path:
        header, data = _split(target / WEIGHTS)
        edit(header)
        (target / WEIGHTS).write_bytes(_join(header, data))
        return target

    return build


def _exabyte_length(raw: bytes) -> bytes:
    return struct.pack("<Q", 2**62) + raw[8:]


def _exabyte_tensor(header: dict[str, Any]) -> None:
    """An embedding declared as 10^9 x 10^9 float32 (4 EB), offsets to match."""
    header["embedding.weight"] = {
        "dtype": "F32",
        "shape": [10**9, 10**9],
        "data_offsets": [0, 4 * 10**18],
    }


def _size_lie(header: dict[str, Any]) -> None:
    """A shape larger than the bytes its offsets give it."""
    entry = header["output.bias"]
    entry["shape"] = [entry["shape"][0] * 1000]


def _garbage_header(raw: bytes) -> bytes:
    (n,) = struct.unpack("<Q", raw[:8])
    return raw[:8] + bytes(random.Random(1).randrange(256) for _ in range(n)) + raw[8 + n :]


def _resave(change: Callable[[dict], dict]) -> Callable[[Path], Path]:
    def build(target: Path) -> Path:
        from safetensors.torch import load_file, save_file

        tensors = change(load_file(str(target / WEIGHTS)))
        save_file(tensors, str(target / WEIGHTS))
        return target

    return build


def _as_dtype(dtype_name: str) -> Callable[[dict], dict]:
    def change(tensors: dict) -> dict:
        import torch

        dtype = getattr(torch, dtype_name)
        return {k: v.to(dtype) for k, v in tensors.items()}

    return change


def _transposed(tensors: dict) -> dict:
    tensors["to_latent.weight"] = tensors["to_latent.weight"].T.contiguous()
    return tensors


def _dropped(tensors: dict) -> dict:
    del tensors["output.bias"]
    return tensors


def _extra(tensors: dict) -> dict:
    import torch

    tensors["backdoor.weight"] = torch.zeros(3)
    return tensors


# ---------------------------------------------------------------------------- file types
def _replace(name: str, make: Callable[[Path], object]) -> Callable[[Path], Path]:
    def build(target: Path) -> Path:
        (target / name).unlink()
        make(target / name)
        return target

    return build


def _self_loop(path: Path) -> None:
    path.symlink_to(path.name)


def _two_link_loop(path: Path) -> None:
    other = path.with_name(path.name + ".other")
    path.symlink_to(other.name)
    other.symlink_to(path.name)


def _broken_link(path: Path) -> None:
    path.symlink_to(path.name + ".gone")


def _to_dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")  # endless bytes: reading it would never stop allocating


def _model_dir_fifo(target: Path) -> Path:
    fifo = target / "model_fifo"
    os.mkfifo(fifo)
    return fifo


def _model_dir_loop(target: Path) -> Path:
    link = target / "model_link"
    link.symlink_to(link.name)
    return link


# ---------------------------------------------------------------------------- critic
def _edit_critic(**record: object) -> Callable[[Path], Path]:
    """Change critic.json, keeping it tied to the directory's weights (their sha256 matches)."""

    def build(target: Path) -> Path:
        if not (target / CRITIC_JSON).is_file():
            raise FileNotFoundError(f"{target}: the source model has no critic to damage")
        data = json.loads((target / CRITIC_JSON).read_text())
        data.update(record)
        (target / CRITIC_JSON).write_text(json.dumps(data))
        return target

    return build


def _critic_weights(change: Callable[[bytes], bytes]) -> Callable[[Path], Path]:
    def build(target: Path) -> Path:
        path = target / CRITIC_WEIGHTS
        path.write_bytes(change(path.read_bytes()))
        return target

    return build


def _critic_pickle(target: Path) -> Path:
    (target / CRITIC_WEIGHTS).write_bytes(evil_pickle(pickle_marker(target)))
    return target


# ---------------------------------------------------------------------------- pickles
def _pickle_as(name: str, protocol: int = pickle.DEFAULT_PROTOCOL, drop_weights: bool = False):
    def build(target: Path) -> Path:
        if drop_weights:
            (target / WEIGHTS).unlink()
        (target / name).write_bytes(evil_pickle(pickle_marker(target), protocol))
        return target

    return build


def _torch_save_as(name: str) -> Callable[[Path], Path]:
    def build(target: Path) -> Path:
        import torch

        (target / WEIGHTS).unlink()
        torch.save({"model": _Evil(pickle_marker(target))}, target / name)
        return target

    return build


def hostile_cases() -> list[HostileCase]:
    """Every hostile model directory, with the refusal it must get (one line naming the file)."""
    W, C = WEIGHTS, CONFIG
    cases = [
        # config.json asking for absurd, zero, negative or non-integer sizes
        ("latent_1e9", "sizes", _model(latent_dim=10**9), "latent_dim is 1000000000, above", C),
        ("decoder_hidden_1e9", "sizes", _model(decoder_hidden=10**9), "decoder_hidden is", C),
        ("encoder_hidden_1e9", "sizes", _model(encoder_hidden=10**9), "encoder_hidden is", C),
        ("vocab_size_1e8", "sizes", _model(vocab_size=10**8), "vocab_size is 100000000", C),
        ("layers_1e6", "sizes", _model(decoder_layers=10**6), "decoder_layers is 1000000", C),
        ("ensemble_1e9", "sizes", _model(predictor_ensemble=10**9), "predictor_ensemble is", C),
        ("max_length_1e12", "sizes", _model(max_length=10**12), "max_length is", C),
        ("latent_zero", "sizes", _model(latent_dim=0), "latent_dim must be positive, got 0", C),
        ("layers_negative", "sizes", _model(encoder_layers=-3), "must be positive, got -3", C),
        ("latent_float", "sizes", _model(latent_dim=64.5), "expected an integer", C),
        ("latent_string", "sizes", _model(latent_dim="64"), "expected an integer", C),
        ("latent_bool", "sizes", _model(latent_dim=True), "expected an integer", C),
        ("dropout_nan", "sizes", _model(dropout=float("nan")), "dropout must be in", C),
        ("fitted_heads_1e4", "sizes",
         _model(fitted_properties=[f"p{i}" for i in range(10_000)]), "above the limit", C),
        ("sizes_within_limits_but_not_the_weights", "sizes",
         _edit_config(_big_within_limits), "has shape", W),
        ("latent_off_by_one", "sizes",
         _edit_config(lambda c: c["model"].update(latent_dim=c["model"]["latent_dim"] + 1)),
         "has shape", W),
        ("extra_encoder_layer", "sizes",
         _edit_config(lambda c: c["model"].update(encoder_layers=2)), "missing", W),
        # config.json that is not JSON, not an object, misses keys or has wrong types
        ("config_binary", "config", _write_config(bytes(range(256)) * 4), "not valid JSON", C),
        ("config_empty", "config", _write_config(b""), "empty file", C),
        ("config_array", "config", _write_config(b"[1, 2, 3]"), "expected a JSON object", C),
        ("config_string", "config", _write_config(b'"model"'), "expected a JSON object", C),
        ("config_deep_nesting", "config", _write_config(b"[" * 200_000), "not valid JSON", C),
        ("config_huge_integer", "config", _write_config(b'{"x": ' + b"9" * 5000 + b"}"),
         "not valid JSON", C),
        ("config_17MiB", "config", _grow_config, "too large for a JSON config", C),
        ("no_vocabulary_key", "config", _del_key("vocabulary"), "no key 'vocabulary'", C),
        ("no_model_key", "config", _del_key("model"), "no key 'model'", C),
        ("model_is_a_list", "config", _set_key("model", [1, 2]), "'model' must be an object", C),
        ("representation_a_list", "config", _set_key("representation", ["selfies"]),
         "unknown representation", C),
        ("properties_a_string", "config", _set_key("properties", "logP"),
         "'properties' must be an object", C),
        ("property_std_strings", "config",
         _edit_config(lambda c: c["properties"].update(std=["1"] * len(c["properties"]["std"]))),
         "finite numbers", C),
        ("format_version_2", "config", _set_key("format_version", 2), "format version 2", C),
        # the vocabulary
        ("vocab_duplicate_token", "vocabulary", _vocab(_duplicate_token), "duplicate tokens", C),
        ("vocab_empty", "vocabulary", _vocab(list.clear), "vocabulary is empty", C),
        ("vocab_non_string", "vocabulary", _vocab(_non_string_token), "list of strings", C),
        ("vocab_not_an_object", "vocabulary", _set_key("vocabulary", ["<pad>"]),
         "'vocabulary' must be an object", C),
        ("vocab_empty_token", "vocabulary",
         _vocab(lambda t: t.__setitem__(-1, "")), "empty token", C),
        # the safetensors file: header, truncation, garbage
        ("header_claims_exabytes", "weights", _write_weights(_exabyte_length),
         "header claims 4,611,686,018,427,387,904 bytes", W),
        ("tensor_claims_exabytes", "weights", _edit_header(_exabyte_tensor), "ends at byte", W),
        ("tensor_size_lie", "weights", _edit_header(_size_lie), "needs", W),
        ("truncated_one_byte", "weights", _write_weights(lambda b: b[:-1]), "ends at byte", W),
        ("truncated_in_header", "weights", _write_weights(lambda b: b[:40]), "header claims", W),
        ("truncated_to_4_bytes", "weights", _write_weights(lambda b: b[:4]), "too short", W),
        ("weights_empty", "weights", _write_weights(b""), "empty file", W),
        ("weights_random_bytes", "weights",
         _write_weights(random.Random(0).randbytes(4096)), "not a valid safetensors file", W),
        ("header_garbage", "weights", _write_weights(_garbage_header), "header is not JSON", W),
        ("trailing_bytes", "weights", _write_weights(lambda b: b + b"\0" * 64),
         "bytes after the last tensor", W),
        # tensors of the wrong shape or dtype
        ("tensors_float64", "tensors", _resave(_as_dtype("float64")), "dtype F64", W),
        ("tensors_int8", "tensors", _resave(_as_dtype("int8")), "dtype I8", W),
        ("tensors_float16", "tensors", _resave(_as_dtype("float16")), "dtype F16", W),
        ("tensor_transposed", "tensors", _resave(_transposed), "has shape", W),
        ("tensor_missing", "tensors", _resave(_dropped), "missing", W),
        ("tensor_extra", "tensors", _resave(_extra), "unexpected", W),
        # files that are not regular files
        ("weights_symlink_loop", "file type", _replace(W, _self_loop), "symlink loop", W),
        ("config_symlink_loop", "file type", _replace(C, _two_link_loop), "symlink loop", C),
        ("weights_broken_symlink", "file type", _replace(W, _broken_link), "broken symlink", W),
        ("weights_fifo", "file type", _replace(W, os.mkfifo), "FIFO", W),
        ("config_fifo", "file type", _replace(C, os.mkfifo), "FIFO", C),
        ("weights_directory", "file type", _replace(W, Path.mkdir), "a directory", W),
        ("config_directory", "file type", _replace(C, Path.mkdir), "a directory", C),
        ("weights_dev_zero", "file type", _replace(W, _to_dev_zero), "character device", W),
        ("model_dir_is_fifo", "file type", _model_dir_fifo, "FIFO", "model_fifo"),
        ("model_dir_symlink_loop", "file type", _model_dir_loop, "symlink loop", "model_link"),
    ]
    pickles = [
        ("pickle_model_pt", _pickle_as("model.pt", drop_weights=True), "model.pt beside it", W),
        ("pickle_model_pkl", _pickle_as("model.pkl", drop_weights=True), "model.pkl beside", W),
        ("pickle_model_bin", _pickle_as("model.bin", drop_weights=True), "model.bin beside", W),
        ("torch_save_model_pt", _torch_save_as("model.pt"), "model.pt beside it", W),
        ("pickle_v0_as_safetensors", _pickle_as(W, protocol=0), "not a valid safetensors", W),
        ("pickle_v2_as_safetensors", _pickle_as(W, protocol=2), "looks like a pickle", W),
        ("pickle_as_config", _pickle_as(C), "looks like a pickle", C),
        ("pickle_v0_as_config", _pickle_as(C, protocol=0), "not valid JSON", C),
    ]
    critic = [
        ("critic_hidden_1e6", _edit_critic(hidden=10**6), "do not match the tensors", CRITIC_JSON),
        ("critic_n_bits_1e9", _edit_critic(n_bits=10**9), "do not match the tensors", CRITIC_JSON),
        ("critic_n_bits_infinity", _edit_critic(n_bits=float("inf")), "does not load",
         CRITIC_JSON),
        ("critic_header_exabytes", _critic_weights(_exabyte_length), "header claims",
         CRITIC_WEIGHTS),
        ("critic_n_bits_negative", _edit_critic(n_bits=-5), "do not match the tensors",
         CRITIC_JSON),
        ("critic_json_fifo", _replace(CRITIC_JSON, os.mkfifo), "FIFO", CRITIC_JSON),
    ]
    out = [HostileCase(n, b, e, f, g) for n, g, b, e, f in cases]
    out += [HostileCase(n, b, e, f, "pickle", pickle=True) for n, b, e, f in pickles]
    out += [HostileCase(n, b, e, f, "critic", critic=True) for n, b, e, f in critic]
    out.append(
        HostileCase(
            "critic_pickle", _critic_pickle, "looks like a pickle", CRITIC_WEIGHTS, "critic",
            pickle=True, critic=True,
        )  # fmt: skip
    )
    return out
