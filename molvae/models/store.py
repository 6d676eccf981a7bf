"""Safe checkpoints: safetensors for tensors, JSON for everything else. Nothing is unpickled.

A model is a directory with ``model.safetensors`` and ``config.json`` (architecture, vocabulary,
representation, property normalization, provenance). Training state for ``--resume`` (optimizer
moments, RNG, step counters) is a second safetensors + JSON pair. Every file is written to a
temporary name and renamed into place, so a run killed at any moment leaves either the old or
the new checkpoint, never a torn one. Any file that is not what it should be gives a one-line
``MolvaeError`` naming the file and the problem.

Nothing is allocated on a file's word. Before a model is built or a tensor read, the loader
checks each file's type (a FIFO, a device or a symlink loop is refused without opening it for
a blocking read), the config's sizes against fixed limits, the safetensors header (read by hand,
8-byte length and JSON, with bounds checks) against the file's size, and the tensors it
declares against the shapes and dtype the config implies.

Models are found by :func:`resolve_model_path`: a model directory, a training run directory, or
the name of a model bundled with the package (``default``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import math
import os
import shutil
import stat
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from molvae._version import __version__
from molvae.errors import MolvaeError, file_not_found
from molvae.models.config import ModelConfig
from molvae.models.vae import GRUVAE
from molvae.runtime import atomic_write, file_sha256
from molvae.settings import from_dict
from molvae.tokens import TOKENIZERS, Vocabulary

__all__ = [
    "FORMAT",
    "ModelBundle",
    "atomic_write_bytes",
    "expected_tensors",
    "load_model_dir",
    "load_training_state",
    "read_safetensors_header",
    "save_model_dir",
    "save_training_state",
]

FORMAT = "molvae-model"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename."""
    atomic_write(path, lambda handle: handle.write(data))


def _atomic_save_tensors(
    tensors: dict[str, torch.Tensor], path: Path, metadata: dict | None
) -> None:
    data = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata)
    atomic_write_bytes(path, data)


# Limits on what a file may claim before anything is allocated for it. A config is a few KB (a
# vocabulary of 100,000 tokens would be about 2 MB); safetensors itself refuses headers above
# 100 MB.
MAX_JSON_BYTES = 16 * 2**20
MAX_HEADER_BYTES = 100_000_000
# Bytes per element of each safetensors dtype molvae can read (sub-byte types are left out).
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E4M3FNUZ": 1, "F8_E5M2": 1,
    "F8_E5M2FNUZ": 1, "F8_E8M0": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
    "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8, "C64": 8,
}  # fmt: skip
# Names PyTorch and pickle-based tools save models under; molvae never opens them, but names
# them when a model directory holds one instead of model.safetensors.
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".joblib")
PICKLE_MESSAGE = "molvae only loads safetensors and never unpickles"


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, word in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return word
    return "a special file"


def _stat_error(path: Path, exc: OSError) -> MolvaeError:
    """The one-line error for a path that cannot be stat'ed or opened."""
    if exc.errno == errno.ELOOP:
        return MolvaeError(f"{path}: symlink loop (the link never resolves)")
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            return MolvaeError(f"{path}: broken symlink (its target does not exist)")
        return _not_found(path)
    if exc.errno == errno.ENOTDIR:
        return MolvaeError(f"{path}: file not found ({path.parent} is not a directory)")
    return MolvaeError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}")


def _not_found(path: Path) -> MolvaeError:
    """``X: file not found``, naming a pickle file beside it (``model.pt``) if there is one."""
    try:
        pickles = sorted(
            p.name for p in path.parent.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES
        )
    except OSError:
        pickles = []
    if not pickles:
        return file_not_found(path)
    return MolvaeError(
        f"{path}: file not found; {pickles[0]} beside it is a pickle-based file, which is never "
        f"loaded ({PICKLE_MESSAGE}): a model is {WEIGHTS} + {CONFIG}"
    )


@contextmanager
def _open_regular(path: Path) -> Iterator[tuple[IO[bytes], int]]:
    """Open a regular file for reading; yields ``(file, size)``.

    The file type is checked with ``os.stat`` before opening, so a FIFO, a device, a directory
    or a symlink loop is refused without blocking; the file is opened non-blocking and checked
    again with ``fstat`` (it may have been swapped in between).
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise _stat_error(path, exc) from None
    if not stat.S_ISREG(mode):
        raise MolvaeError(f"{path}: {_kind(mode)}, not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _stat_error(path, exc) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise MolvaeError(f"{path}: {_kind(info.st_mode)}, not a regular file")
    with os.fdopen(fd, "rb") as handle:
        yield handle, info.st_size


def _looks_pickled(head: bytes) -> bool:
    """A pickle (protocol 2 or later) or a zip archive (``torch.save``)."""
    return (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5) or head[:4] == b"PK\x03\x04"


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as a safetensors header declares it (nothing of it is read)."""

    dtype: str
    shape: tuple[int, ...]


def _short(name: object) -> str:
    text = repr(name)
    return text if len(text) <= 60 else text[:57] + "..."


def read_safetensors_header(path: Path) -> dict[str, TensorInfo]:
    """The tensors a safetensors file declares, after checking its header against the file.

    Only the 8-byte length and the JSON header are read, each after a bounds check: a length
    beyond the file, offsets beyond the data, sizes that do not match shape and dtype, gaps or
    overlaps between tensors each give a one-line ``MolvaeError``. A pickle or zip file under
    this name is named as such and never unpickled.
    """
    with _open_regular(path) as (handle, size):
        prefix = handle.read(8)
        # A header length such as 0x0280 also opens with 0x80 0x02: a pickle has no JSON after.
        if _looks_pickled(prefix) and handle.read(1) != b"{":
            raise MolvaeError(
                f"{path}: looks like a pickle/zip (torch.save) file; {PICKLE_MESSAGE}"
            )
        if size == 0:
            raise MolvaeError(f"{path}: empty file, not a safetensors file")
        if size < 8 or len(prefix) < 8:
            raise MolvaeError(f"{path}: {size} bytes, too short for a safetensors file")
        (length,) = struct.unpack("<Q", prefix)
        if length > size - 8:
            raise MolvaeError(
                f"{path}: not a valid safetensors file (its header claims {length:,} bytes, "
                f"the file has {size:,}: truncated or not safetensors)"
            )
        if length > MAX_HEADER_BYTES:
            raise MolvaeError(
                f"{path}: not a valid safetensors file (header of {length:,} bytes, above the "
                f"limit of {MAX_HEADER_BYTES:,})"
            )
        handle.seek(8)
        raw = handle.read(length)
    if len(raw) != length:
        raise MolvaeError(f"{path}: not a valid safetensors file (truncated while reading)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MolvaeError(
            f"{path}: not a valid safetensors file (its header is not JSON)"
        ) from None
    if not isinstance(header, dict):
        raise MolvaeError(f"{path}: not a valid safetensors file (its header is not an object)")
    data_bytes = size - 8 - length
    tensors: dict[str, TensorInfo] = {}
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise MolvaeError(f"{path}: not a valid safetensors file (bad __metadata__)")
            continue
        where = f"{path}: not a valid safetensors file (tensor {_short(name)}"
        if not isinstance(entry, dict):
            raise MolvaeError(f"{where} is not described by an object)")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
            raise MolvaeError(f"{where} has unsupported dtype {_short(dtype)})")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise MolvaeError(f"{where} has shape {_short(shape)}, not a list of sizes)")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise MolvaeError(f"{where} has data offsets {_short(offsets)})")
        begin, end = offsets
        if end > data_bytes:
            raise MolvaeError(
                f"{where} ends at byte {end:,} of the data, the file holds {data_bytes:,}: "
                "truncated?)"
            )
        needed = math.prod(shape) * DTYPE_BYTES[dtype]
        if needed != end - begin:
            raise MolvaeError(
                f"{where}: {dtype} {tuple(shape)} needs {needed:,} bytes, its offsets span "
                f"{end - begin:,})"
            )
        tensors[name] = TensorInfo(dtype, tuple(shape))
        spans.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            what = "overlaps another" if begin < position else "leaves a gap before it"
            raise MolvaeError(
                f"{path}: not a valid safetensors file (tensor {_short(name)} {what})"
            )
        position = end
    if position != data_bytes:
        raise MolvaeError(
            f"{path}: not a valid safetensors file ({data_bytes - position:,} bytes after the "
            "last tensor)"
        )
    return tensors


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """safetensors' loader, its errors in one line (call after checking the header)."""
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise MolvaeError(f"{path}: not a valid safetensors file ({_first_line(exc)})") from None


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file whose header :func:`read_safetensors_header` accepts."""
    read_safetensors_header(path)
    return _load_tensors(path)


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a regular file of at most ``MAX_JSON_BYTES``; one-line errors."""
    with _open_regular(path) as (handle, size):
        if size > MAX_JSON_BYTES:
            raise MolvaeError(
                f"{path}: {size:,} bytes, too large for a JSON config (limit {MAX_JSON_BYTES:,})"
            )
        raw = handle.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise MolvaeError(f"{path}: too large for a JSON config (limit {MAX_JSON_BYTES:,})")
    if _looks_pickled(raw[:4]):
        raise MolvaeError(f"{path}: looks like a pickle/zip file, not JSON; {PICKLE_MESSAGE}")
    if not raw.strip():
        raise MolvaeError(f"{path}: empty file, not JSON")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MolvaeError(f"{path}: not valid JSON (not UTF-8 text at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise MolvaeError(f"{path}: not valid JSON ({exc})") from None
    except (ValueError, RecursionError) as exc:  # nesting too deep, an integer of 5,000 digits
        raise MolvaeError(f"{path}: not valid JSON ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise MolvaeError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


@dataclass
class ModelBundle:
    """Everything that defines a trained model, apart from its weights."""

    config: ModelConfig
    vocabulary: Vocabulary
    representation: str
    property_mean: list[float] = field(default_factory=list)
    property_std: list[float] = field(default_factory=list)
    property_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "molvae_version": __version__,
            "representation": self.representation,
            "model": _config_json(self.config),
            "vocabulary": self.vocabulary.to_dict(),
            "properties": {
                "names": list(self.config.all_properties),
                "mean": list(self.property_mean),
                "std": list(self.property_std),
                "metrics": self.property_metrics,
            },
            "training": self.training,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> ModelBundle:
        """Check a parsed ``config.json`` and build the bundle; one-line errors naming ``path``.

        Every size is checked against :data:`molvae.models.config.SIZE_LIMITS` here, before
        any tensor exists.
        """
        if data.get("format") != FORMAT:
            raise MolvaeError(
                f"{path}: not a molvae model config (format={_short(data.get('format'))})"
            )
        if data.get("format_version") != FORMAT_VERSION:
            raise MolvaeError(
                f"{path}: format version {_short(data.get('format_version'))} is not supported "
                f"(this molvae reads version {FORMAT_VERSION})"
            )
        missing = [k for k in ("representation", "model", "vocabulary") if k not in data]
        if missing:
            raise MolvaeError(f"{path}: malformed config (no key {missing[0]!r})")
        for key in ("model", "vocabulary", "properties", "training", "metrics"):
            if key in data and not isinstance(data[key], dict):
                raise MolvaeError(
                    f"{path}: malformed config ({key!r} must be an object, got "
                    f"{type(data[key]).__name__})"
                )
        config = from_dict(ModelConfig, dict(data["model"]), where=f"{path} model")
        config.validate(where=str(path))
        try:
            vocabulary = Vocabulary.from_dict(data["vocabulary"])
        except ValueError as exc:
            raise MolvaeError(f"{path}: {exc}") from None
        representation = data["representation"]
        if not isinstance(representation, str) or representation not in TOKENIZERS:
            raise MolvaeError(f"{path}: unknown representation {_short(representation)}")
        if config.vocab_size != len(vocabulary):
            raise MolvaeError(
                f"{path}: vocabulary has {len(vocabulary)} tokens but the model expects "
                f"{config.vocab_size}"
            )
        props = data.get("properties", {})
        mean, std = props.get("mean", []), props.get("std", [])
        n_props = len(config.all_properties)
        for values in (mean, std):
            if not isinstance(values, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in values
            ):
                raise MolvaeError(f"{path}: property normalization must be lists of finite numbers")
        if len(mean) != n_props or len(std) != n_props:
            raise MolvaeError(f"{path}: property normalization does not match model properties")
        metrics = props.get("metrics", {})
        if not isinstance(metrics, dict):
            raise MolvaeError(f"{path}: malformed config (properties.metrics must be an object)")
        return cls(
            config,
            vocabulary,
            representation,
            mean,
            std,
            metrics,
            data.get("training", {}),
            data.get("metrics", {}),
        )


# Fields of a conditional model, left out of an unconditional model's config.json (which so stays
# as it always was).
CONDITION_FIELDS = (
    "conditions", "condition_mean", "condition_std", "condition_min", "condition_max",
)
# Fields of a model with a learned conditional prior, likewise left out of the others'.
PRIOR_FIELDS = ("conditional_prior", "prior_hidden")


def _config_json(config: ModelConfig) -> dict[str, Any]:
    """``config`` as config.json's ``model`` object."""
    data = asdict(config)
    if not config.conditions:
        for key in CONDITION_FIELDS:
            data.pop(key, None)
    if not config.conditional_prior:  # models without a learned prior keep their old files
        for key in PRIOR_FIELDS:
            data.pop(key, None)
    return data


def expected_tensors(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name and shape of every tensor in the state dict of ``GRUVAE(config)``, without
    building it: what a weights file must declare before molvae allocates the model.

    Mirrors :class:`molvae.models.vae.GRUVAE`; a test checks the two agree.
    """
    c = config
    out: dict[str, tuple[int, ...]] = {"embedding.weight": (c.vocab_size, c.embedding_dim)}
    directions = 2 if c.bidirectional else 1

    def gru(prefix: str, layer: int, in_dim: int, hidden: int) -> None:
        out[f"{prefix}weight_ih_l{layer}"] = (3 * hidden, in_dim)
        out[f"{prefix}weight_hh_l{layer}"] = (3 * hidden, hidden)
        out[f"{prefix}bias_ih_l{layer}"] = (3 * hidden,)
        out[f"{prefix}bias_hh_l{layer}"] = (3 * hidden,)

    sides = ("encoder_forward", "encoder_backward")[:directions]
    for layer in range(c.encoder_layers):
        in_dim = c.embedding_dim if layer == 0 else c.encoder_hidden * directions
        for side in sides:
            gru(f"{side}.{layer}.", 0, in_dim, c.encoder_hidden)
    # A conditional model's condition vector widens the encoder's output layer and everything
    # of the decoder that reads z.
    cond = c.condition_dim
    out["to_latent.weight"] = (2 * c.latent_dim, c.encoder_hidden * directions + cond)
    out["to_latent.bias"] = (2 * c.latent_dim,)
    out["latent_to_hidden.weight"] = (c.decoder_hidden * c.decoder_layers, c.latent_dim + cond)
    out["latent_to_hidden.bias"] = (c.decoder_hidden * c.decoder_layers,)
    for layer in range(c.decoder_layers):
        in_dim = c.embedding_dim + c.latent_dim + cond if layer == 0 else c.decoder_hidden
        gru("decoder.", layer, in_dim, c.decoder_hidden)
    out["output.weight"] = (c.vocab_size, c.decoder_hidden)
    out["output.bias"] = (c.vocab_size,)
    if c.conditional_prior:
        out["prior_net.0.weight"] = (c.prior_hidden, cond)
        out["prior_net.0.bias"] = (c.prior_hidden,)
        out["prior_net.2.weight"] = (2 * c.latent_dim, c.prior_hidden)
        out["prior_net.2.bias"] = (2 * c.latent_dim,)
    k, h, latent = c.predictor_ensemble, c.predictor_hidden, c.latent_dim
    heads = [("predictor.", len(c.properties))] if c.properties else []
    heads += [(f"fitted_predictors.{i}.", 1) for i in range(len(c.fitted_properties))]
    for prefix, n in heads:
        for name, shape in (
            ("w1", (k, latent, h)),
            ("b1", (k, 1, h)),
            ("w2", (k, h, h)),
            ("b2", (k, 1, h)),
            ("w3", (k, h, n)),
            ("b3", (k, 1, n)),
        ):
            out[prefix + name] = shape
    return out


# The dtype molvae writes every model tensor in.
MODEL_DTYPE = "F32"


def _check_tensors(
    weights_path: Path,
    config_path: Path,
    declared: dict[str, TensorInfo],
    expected: dict[str, tuple[int, ...]],
) -> None:
    """Compare the tensors a weights file declares with those its config implies."""
    missing = sorted(set(expected) - set(declared))
    unexpected = sorted(set(declared) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise MolvaeError(f"{weights_path}: weights do not match {config_path} ({detail})")
    for key, shape in expected.items():
        info = declared[key]
        if info.shape != shape:
            raise MolvaeError(
                f"{weights_path}: tensor {key} has shape {info.shape}, "
                f"{config_path} implies {shape}"
            )
        if info.dtype != MODEL_DTYPE:
            raise MolvaeError(
                f"{weights_path}: tensor {key} has dtype {info.dtype}, molvae models are "
                f"{MODEL_DTYPE} (float32)"
            )


def save_model_dir(model: torch.nn.Module, bundle: ModelBundle, directory: str | Path) -> Path:
    """Write ``model.safetensors`` + ``config.json`` into ``directory`` (atomically per file).

    The config is written last and carries the weights' sha256, so a reader can tell a
    weights file from a different save apart from the one the config describes.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path = directory / WEIGHTS
    _atomic_save_tensors(model.state_dict(), weights_path, {"format": FORMAT})
    data = bundle.to_json()
    data["weights_sha256"] = file_sha256(weights_path)
    # A fresh dict: the bundle's own training record must not be mutated by saving.
    data["training"] = {
        **data.get("training", {}),
        "saved_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    atomic_write_bytes(directory / CONFIG, json.dumps(data, indent=1).encode())
    return directory


def load_model_dir(directory: str | Path, device: str | torch.device = "cpu"):
    """Load a model directory; returns ``(GRUVAE, ModelBundle)``. Raises one-line MolvaeErrors.

    Nothing is allocated on a file's word: the config's sizes are checked against fixed
    limits, the weights file's header against the file's size, and the tensors it declares
    against the config, all before the model is built or a tensor read.
    """

    directory = Path(directory)
    try:
        mode = os.stat(directory).st_mode
    except OSError as exc:
        if exc.errno == errno.ENOENT and not os.path.islink(directory):
            raise MolvaeError(f"{directory}: model directory not found") from None
        raise _stat_error(directory, exc) from None
    if not stat.S_ISDIR(mode):
        what = "a file" if stat.S_ISREG(mode) else _kind(mode)
        raise MolvaeError(
            f"{directory}: a model is a directory holding {WEIGHTS} and {CONFIG}, not {what}"
        )
    config_path = directory / CONFIG
    bundle = ModelBundle.from_json(_read_json(config_path), config_path)
    weights_path = directory / WEIGHTS
    declared = read_safetensors_header(weights_path)
    _check_tensors(weights_path, config_path, declared, expected_tensors(bundle.config))
    state = _load_tensors(weights_path)
    model = GRUVAE(bundle.config)
    # Again on what was read and what was built: the file may have changed since its header
    # was checked.
    loaded = {
        k: TensorInfo(MODEL_DTYPE if t.dtype == torch.float32 else str(t.dtype), tuple(t.shape))
        for k, t in state.items()
    }
    built = {k: tuple(t.shape) for k, t in model.state_dict().items()}
    _check_tensors(weights_path, config_path, loaded, built)
    model.load_state_dict(state)
    model.to(device)
    model.eval()
    return model, bundle


def save_training_state(
    directory: str | Path, tensors: dict[str, torch.Tensor], info: dict[str, Any]
) -> None:
    """Write resumable training state (optimizer moments, RNG) + JSON counters atomically."""
    directory = Path(directory)
    _atomic_save_tensors(tensors, directory / STATE_TENSORS, None)
    atomic_write_bytes(directory / STATE_JSON, json.dumps(info, indent=1).encode())


def load_training_state(directory: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read what ``save_training_state`` wrote."""
    directory = Path(directory)
    return _read_tensors(directory / STATE_TENSORS), _read_json(directory / STATE_JSON)


def replace_directory(src: Path, dst: Path) -> None:
    """Move a fully written directory ``src`` to ``dst``, replacing ``dst`` if present.

    ``dst`` is first renamed to ``dst.old``: a process killed between the two renames leaves
    ``dst.old`` as the only complete copy, which the next call (or :func:`recover_directory`)
    puts back instead of deleting.
    """
    old = recover_directory(dst)
    if old.exists():
        shutil.rmtree(old)
    if dst.exists():
        os.replace(dst, old)
    os.replace(src, dst)
    if old.exists():
        shutil.rmtree(old)


def recover_directory(dst: Path) -> Path:
    """Undo a swap that ``replace_directory`` did not finish; returns ``dst.old``'s path.

    When ``dst`` is missing and ``dst.old`` exists, the old copy is the last complete one and
    is renamed back to ``dst``.
    """
    old = dst.with_name(dst.name + ".old")
    if not os.path.lexists(dst) and old.is_dir():
        with contextlib.suppress(FileNotFoundError):  # another process put it back first
            os.replace(old, dst)
    return old


BUNDLED_DIR = Path(__file__).resolve().parents[1] / "pretrained"


def resolve_model_path(model: str | Path | None) -> Path:
    """A model directory from a path, a run directory, or the name of a bundled model.

    ``None`` and ``"default"`` mean the bundled default model. A run directory (from
    ``molvae train``) resolves to its best model.
    """
    name = "default" if model is None else str(model)
    path = Path(name)
    if os.path.lexists(path):  # a broken link or a symlink loop is reported by the loader
        if (path / "model" / "config.json").is_file():  # a training run directory
            return path / "model"
        return path
    bundled = BUNDLED_DIR / name
    if bundled.is_dir():
        return bundled
    available = sorted(p.name for p in BUNDLED_DIR.glob("*") if (p / "config.json").is_file())
    hint = f"bundled models: {', '.join(available)}" if available else "no bundled model installed"
    raise MolvaeError(f"model {name!r} not found (not a directory; {hint})")


def require_new_directory(dest: Path) -> None:
    """``MolvaeError`` unless ``dest`` is absent or an empty directory: the check of every
    command that writes a new model directory, made before the work, not after it."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise MolvaeError(f"{dest}: exists and is not empty; choose a new directory")


@contextmanager
def staged_directory(dest: Path) -> Iterator[Path]:
    """A new directory to fill, renamed to ``dest`` when the block succeeds.

    It is ``.<name>.partial`` beside ``dest`` (an empty ``dest`` is replaced; a non-empty one
    is an error, checked first). A process killed inside the block leaves no ``dest`` that
    looks like a whole model, and the next run starts the partial directory afresh.
    """
    require_new_directory(dest)
    staging = dest.with_name(f".{dest.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        yield staging
        if dest.is_dir():
            dest.rmdir()
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def copy_model_dir(source: Path, dest: Path, exclude: Sequence[str] = ()) -> Path:
    """Copy a model directory into a new or empty ``dest``, leaving out the files ``exclude``
    names (a head or critic about to be replaced); a non-empty ``dest`` is an error."""
    require_new_directory(dest)
    shutil.copytree(source, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*exclude))
    return dest
