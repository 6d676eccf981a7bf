"""Provenance: file checksums and what machine this is (checkpoints, caches, benchmarks)."""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

from molvae.errors import MolvaeError

__all__ = ["cpu_model", "file_sha256", "machine_summary"]


def file_sha256(path: str | os.PathLike[str], block: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes; keys caches and records which data trained a model."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(block), b""):
                digest.update(chunk)
    except OSError as exc:
        raise MolvaeError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else what ``platform`` reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_summary() -> str:
    """One line: CPU model, cores, and torch version/threads when torch is already imported."""
    import sys

    parts = [cpu_model(), f"{os.cpu_count()} cores"]
    torch = sys.modules.get("torch")
    if torch is not None:
        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    return ", ".join(parts)
