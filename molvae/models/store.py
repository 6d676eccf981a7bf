"""Safe checkpoints: safetensors for tensors, JSON for everything else. Nothing is unpickled.

A model is a directory with ``model.safetensors`` and ``config.json`` (architecture, vocabulary,
representation, property normalization, provenance). Training state for ``--resume`` (optimizer
moments, RNG, step counters) is a second safetensors + JSON pair. Every file is written to a
temporary name and renamed into place, so a run killed at any moment leaves either the old or
the new checkpoint, never a torn one. Any file that is not what it should be gives a one-line
``MolvaeError`` naming the file and the problem.

Models are found by :func:`resolve_model_path`: a model directory, a training run directory, or
the name of a model bundled with the package (``default``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
    "load_model_dir",
    "load_training_state",
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


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise file_not_found(path)
    with open(path, "rb") as fh:
        head = fh.read(9)
    # A safetensors file opens with its header length (u64, little-endian) and a JSON object.
    looks_safetensors = len(head) == 9 and head[8:9] == b"{"
    if not looks_safetensors and (head[:1] == b"\x80" or head[:2] == b"PK"):
        raise MolvaeError(
            f"{path}: looks like a pickle/zip (torch.save) file; molvae only loads safetensors "
            "and never unpickles"
        )
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MolvaeError(f"{path}: not a valid safetensors file ({msg})") from None


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise file_not_found(path)
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MolvaeError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MolvaeError(f"{path}: expected a JSON object")
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
            "model": asdict(self.config),
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
        if data.get("format") != FORMAT:
            raise MolvaeError(f"{path}: not a molvae model config (format={data.get('format')!r})")
        if data.get("format_version") != FORMAT_VERSION:
            raise MolvaeError(
                f"{path}: format version {data.get('format_version')} is not supported "
                f"(this molvae reads version {FORMAT_VERSION})"
            )
        try:
            config = from_dict(ModelConfig, dict(data["model"]), where=f"{path} model")
            config.validate()
            vocabulary = Vocabulary.from_dict(data["vocabulary"])
            representation = data["representation"]
            props = data.get("properties", {})
        except MolvaeError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise MolvaeError(f"{path}: malformed config ({type(exc).__name__}: {exc})") from None
        if representation not in TOKENIZERS:
            raise MolvaeError(f"{path}: unknown representation {representation!r}")
        if config.vocab_size != len(vocabulary):
            raise MolvaeError(
                f"{path}: vocabulary has {len(vocabulary)} tokens but the model expects "
                f"{config.vocab_size}"
            )
        mean, std = props.get("mean", []), props.get("std", [])
        n_props = len(config.all_properties)
        if len(mean) != n_props or len(std) != n_props:
            raise MolvaeError(f"{path}: property normalization does not match model properties")
        return cls(
            config,
            vocabulary,
            representation,
            mean,
            std,
            props.get("metrics", {}),
            data.get("training", {}),
            data.get("metrics", {}),
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
    """Load a model directory; returns ``(GRUVAE, ModelBundle)``. Raises one-line MolvaeErrors."""

    directory = Path(directory)
    if not directory.exists():
        raise MolvaeError(f"{directory}: model directory not found")
    if directory.is_file():
        raise MolvaeError(
            f"{directory}: a model is a directory holding {WEIGHTS} and {CONFIG}, not a file"
        )
    config_path = directory / CONFIG
    bundle = ModelBundle.from_json(_read_json(config_path), config_path)
    weights_path = directory / WEIGHTS
    state = _read_tensors(weights_path)
    model = GRUVAE(bundle.config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise MolvaeError(f"{weights_path}: weights do not match {config_path} ({detail})")
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise MolvaeError(
                f"{weights_path}: tensor {key} has shape {tuple(state[key].shape)}, "
                f"{config_path} implies {tuple(tensor.shape)}"
            )
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
    """Move a fully written directory ``src`` to ``dst``, replacing ``dst`` if present."""
    old = dst.with_name(dst.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if dst.exists():
        os.replace(dst, old)
    os.replace(src, dst)
    if old.exists():
        shutil.rmtree(old)


BUNDLED_DIR = Path(__file__).resolve().parents[1] / "pretrained"


def resolve_model_path(model: str | Path | None) -> Path:
    """A model directory from a path, a run directory, or the name of a bundled model.

    ``None`` and ``"default"`` mean the bundled default model. A run directory (from
    ``molvae train``) resolves to its best model.
    """
    name = "default" if model is None else str(model)
    path = Path(name)
    if path.exists():
        if (path / "model" / "config.json").is_file():  # a training run directory
            return path / "model"
        return path
    bundled = BUNDLED_DIR / name
    if bundled.is_dir():
        return bundled
    available = sorted(p.name for p in BUNDLED_DIR.glob("*") if (p / "config.json").is_file())
    hint = f"bundled models: {', '.join(available)}" if available else "no bundled model installed"
    raise MolvaeError(f"model {name!r} not found (not a directory; {hint})")


def copy_model_dir(source: Path, dest: Path, exclude: Sequence[str] = ()) -> Path:
    """Copy a model directory into a new or empty ``dest``, leaving out the files ``exclude``
    names (a head or critic about to be replaced); a non-empty ``dest`` is an error."""
    if dest.exists() and any(dest.iterdir()):
        raise MolvaeError(f"{dest}: exists and is not empty; choose a new directory")
    shutil.copytree(source, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*exclude))
    return dest
