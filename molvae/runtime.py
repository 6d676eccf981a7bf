"""Where and how computation runs: device, precision, worker processes, atomic file writes,
file hashes and a description of the machine.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib
import multiprocessing as mp
import os
import platform
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from molvae.errors import MolvaeError, cannot_read, file_not_found

if TYPE_CHECKING:
    import torch


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU; an unavailable device is a clear error."""
    import torch  # lazy: the command line starts without it

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise MolvaeError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MolvaeError(f"device {name!r} requested but CUDA is not available")
    return device


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """Mixed-precision dtype for ``precision`` on ``device`` (None = full fp32).

    ``auto`` uses bf16 on CUDA GPUs that support it (fp16 otherwise) and on CPUs with native
    bf16 instructions, where the GRU matmuls run about 2.5x faster than fp32 (measured in
    benchmarks/throughput.py); weights, optimizer and loss stay fp32.
    """
    import torch  # lazy: the command line starts without it

    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        with contextlib.suppress(Exception):
            if torch.ops.mkldnn._is_mkldnn_bf16_supported():
                return torch.bfloat16
    return None


def device_summary(device: torch.device) -> str:
    """The accelerator's name, or a line describing the CPU machine."""
    if device.type == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    return machine_summary()


T = TypeVar("T")


R = TypeVar("R")


def default_jobs() -> int:
    """Worker processes to use: the CPUs this process may run on (``MOLVAE_JOBS`` overrides)."""

    env = os.environ.get("MOLVAE_JOBS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _context() -> Any:
    # fork is fastest and the workers only run RDKit/SELFIES code, never torch.
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def map_chunks(
    func: Callable[[Sequence[T]], list[R]],
    items: Sequence[T],
    n_jobs: int | None = None,
    chunk_size: int = 4000,
    min_parallel: int = 20000,
    on_chunk: Callable[[int], None] | None = None,
) -> list[R]:
    """``func`` maps a chunk (list) to a list of results; returns the concatenated results.

    ``func`` must be a picklable top-level function. ``on_chunk(n_done_items)`` is called after
    each chunk so callers can drive a progress bar.
    """
    n_jobs = default_jobs() if n_jobs is None else n_jobs
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    results: list[R] = []
    if n_jobs <= 1 or len(items) < min_parallel:
        for chunk in chunks:
            results.extend(func(chunk))
            if on_chunk:
                on_chunk(len(chunk))
        return results
    with _context().Pool(n_jobs) as pool:
        for chunk, out in zip(chunks, pool.imap(func, chunks), strict=True):
            results.extend(out)
            if on_chunk:
                on_chunk(len(chunk))
    return results


def _default_mode() -> int:
    """The permissions ``open()`` would give a new file under the current umask."""
    return default_dir_mode() & 0o666


def default_dir_mode() -> int:
    """The permissions ``mkdir()`` would give a new directory under the current umask
    (``tempfile.mkdtemp`` alone gives 0700, unreadable for the rest of a team)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


class DiskFullError(MolvaeError, OSError):
    """A write failed because the file system is full (or over quota): one line for the user,
    and still an ``OSError`` for code that treats a failed write as a lost cache entry."""


def disk_full(path: str | os.PathLike[str], exc: OSError) -> OSError:
    """``exc`` as a one-line :class:`DiskFullError` naming ``path`` when it means a full disk
    (ENOSPC, EDQUOT), else ``exc`` itself."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        error = DiskFullError(f"{path}: cannot write: no space left on device")
        error.errno = exc.errno
        return error
    return exc


def atomic_write(path: Path, write: Callable[[IO[Any]], None], mode: str = "wb") -> None:
    """Write ``path`` through ``write(handle)`` on a temporary file in the same folder, then
    rename it into place: a reader never sees a half-written file, and a failed write (a full
    disk: :class:`DiskFullError`, one line) leaves the previous ``path`` as it was. The file
    gets the usual
    permissions for a new file (``mkstemp`` alone would leave it readable by its owner only,
    so a model written for a team would not load for the others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _default_mode())
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        error = disk_full(path, exc)
        if error is exc:
            raise
        raise error from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_sha256(path: str | os.PathLike[str], block: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes; keys caches and records which data trained a model."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(block), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise file_not_found(path) from None
    except OSError as exc:
        raise cannot_read(path, exc.strerror or exc) from None
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


Log = Callable[[str], None]


def emit(log: Log | None, message: str) -> None:
    """Send a progress message to ``log`` when one was given (library code never prints)."""
    if log is not None:
        log(message)


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) that imports each exported name on first use.

    A package's ``__init__`` re-exports its public names this way, so that importing one of its
    modules does not import the others (the command line starts without torch).
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
