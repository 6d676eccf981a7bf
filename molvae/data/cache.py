"""The user cache directory and its entries: arrays (.npz, never pickled) plus a JSON record
written last as the completion marker.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from molvae._version import __version__
from molvae.runtime import atomic_write

CACHE_DIR_ENV = "MOLVAE_CACHE_DIR"


def cache_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory: ``path``, else ``$MOLVAE_CACHE_DIR``, else ``~/.cache/molvae``."""
    if path is not None:
        return Path(path)
    env = os.environ.get(CACHE_DIR_ENV, "").strip()
    return Path(env) if env else Path.home() / ".cache" / "molvae"


def smiles_hashes(smiles: Sequence[str]) -> np.ndarray:
    """64-bit BLAKE2b digests of SMILES strings, as ``uint64``.

    A stable hash (unlike Python's ``hash``), so a cached index stays valid across processes.
    With 1.6 million training molecules the chance that any generated molecule collides with
    one is about 1e-13 per molecule.
    """
    out = np.empty(len(smiles), dtype=np.uint64)
    for i, s in enumerate(smiles):
        out[i] = int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")
    return out


def write_cache_entry(
    stem: Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]
) -> None:
    """Write ``<stem>.npz`` (arrays, no pickle) then ``<stem>.json`` (metadata), atomically.

    Shared by every molvae cache (reference statistics, training-set index, screening
    fingerprints): the JSON is written last, so an entry with JSON is complete.
    """
    atomic_write(stem.with_suffix(".npz"), lambda h: np.savez_compressed(h, **arrays), "wb")
    text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    atomic_write(stem.with_suffix(".json"), lambda h: h.write(text), "w")


def read_cache_entry(stem: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays and metadata of a cache entry; ``OSError``/``ValueError``/``KeyError`` if unusable."""
    meta = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
    with np.load(stem.with_suffix(".npz"), allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    return arrays, meta


def cached_entry(
    stem: Path,
    expected: Mapping[str, Any],
    build: Callable[[], tuple[dict[str, np.ndarray], dict[str, Any]]],
    *,
    what: str,
    emit: Callable[[str], None],
    recompute: bool = False,
    accept: Callable[[dict[str, np.ndarray]], bool] = lambda arrays: True,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The cache entry at ``stem`` if its metadata holds every ``expected`` item, else built.

    ``build()`` returns ``(arrays, meta)``; the entry is written with ``expected`` merged into
    ``meta``. An unreadable or stale entry is rebuilt; a cache that cannot be written costs only
    reuse, never the result. ``accept`` can reject arrays whose metadata looks right.
    """
    if not recompute:
        try:
            arrays, meta = read_cache_entry(stem)
            if all(meta.get(k) == v for k, v in expected.items()) and accept(arrays):
                emit(f"loaded cached {what} {stem.with_suffix('.npz')}")
                return arrays, meta
        except (OSError, ValueError, KeyError, TypeError):
            pass
    arrays, meta = build()
    meta = {**meta, **expected}
    try:
        write_cache_entry(stem, arrays, meta)
        emit(f"cached {what} in {stem.with_suffix('.npz')}")
    except OSError as exc:  # a read-only cache must not lose the computed result
        emit(f"could not write cache {stem}: {exc}")
    return arrays, meta


def versions() -> dict[str, str]:
    """Versions of the libraries whose output a cache entry holds (recorded, and part of keys)."""
    from importlib.metadata import PackageNotFoundError, version

    import selfies
    from rdkit import rdBase


    try:
        fcd_version = version("fcd")
    except PackageNotFoundError:  # metadata missing in odd installs; provenance only
        fcd_version = "unknown"
    return {"molvae": __version__, "rdkit": rdBase.rdkitVersion, "selfies": selfies.__version__,
            "fcd": fcd_version}
