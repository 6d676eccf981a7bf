"""Standard public molecule data sets: a registry, a local cache and verified downloads.

Each :class:`Dataset` names its canonical upstream URL, license and, where upstream publishes one,
its checksum. Files are cached in ``$MOLVAE_DATA_DIR`` or the platform's user data directory
(``$XDG_DATA_HOME/molvae/datasets``, by default ``~/.local/share/molvae/datasets`` on Linux).

Checksums: the MOSES splits carry the sha256 recorded in the upstream repository's git-lfs
pointers; the GuacaMol files carry the md5 sums published in the GuacaMol README. A file with no
upstream sha256 is trusted on first download: its sha256 is written to ``checksums.json`` in the
cache directory and every later download (``--force``) must match it, so a silently changed or
truncated upstream file is caught.

A download goes to a temporary file in the cache directory and is renamed into place only after
it is complete and verified, so an interrupted download never leaves a half file that looks
cached. When the network is unreachable the error names the URL and the exact path where the file
can be placed by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from molvae._version import __version__
from molvae.errors import MolvaeError, cannot_read
from molvae.runtime import atomic_write, file_sha256

__all__ = [
    "CHECKSUMS_FILE",
    "DATASETS",
    "DATA_DIR_ENV",
    "Dataset",
    "data_dir",
    "dataset_path",
    "datasets_table",
    "download",
    "get_dataset",
    "is_cached",
    "recorded_checksums",
]

DATA_DIR_ENV = "MOLVAE_DATA_DIR"
CHECKSUMS_FILE = "checksums.json"
_BLOCK = 1 << 20  # 1 MiB read size: large enough for speed, small enough for a live progress bar


@dataclass(frozen=True)
class Dataset:
    """One downloadable data set: where it comes from, what it is, and how to verify it."""

    name: str
    description: str
    url: str
    filename: str
    size: str
    license: str
    citation: str
    sha256: str | None = None
    md5: str | None = None


_MOSES_CITATION = (
    "Polykovskiy et al., Molecular Sets (MOSES): a benchmarking platform for molecular "
    "generation models, Front. Pharmacol. 2020"
)
_MOSES_DATA = "https://media.githubusercontent.com/media/molecularsets/moses/master/data"
_GUACAMOL_CITATION = (
    "Brown et al., GuacaMol: benchmarking models for de novo molecular design, "
    "J. Chem. Inf. Model. 2019"
)
_GUACAMOL_LICENSE = "derived from ChEMBL 24 (CC BY-SA 3.0)"

# Registry: the CLI's dataset choices are exactly these names.
DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="moses-train",
            description="MOSES training split (ZINC clean leads), columns SMILES,SPLIT",
            url=f"{_MOSES_DATA}/train.csv",
            filename="moses_train.csv",
            size="1,584,663 molecules, 67.9 MB",
            license="MIT",
            citation=_MOSES_CITATION,
            sha256="49fe1aae29604ec0f5023ea34edc8789415f954138f2903dabd005a4b888a961",
        ),
        Dataset(
            name="moses-test",
            description="MOSES test split, columns SMILES,SPLIT",
            url=f"{_MOSES_DATA}/test.csv",
            filename="moses_test.csv",
            size="176,074 molecules, 7.4 MB",
            license="MIT",
            citation=_MOSES_CITATION,
            sha256="257165e8f1e1be2d5712db51c93d2b1544564b782dc303d7d19c887c21a858e6",
        ),
        Dataset(
            name="moses-test-scaffolds",
            description="MOSES scaffold test split (scaffolds unseen in train), SMILES,SPLIT",
            url=f"{_MOSES_DATA}/test_scaffolds.csv",
            filename="moses_test_scaffolds.csv",
            size="176,225 molecules, 9.2 MB",
            license="MIT",
            citation=_MOSES_CITATION,
            sha256="8bc942dd807147e07b506151fe8675f58780ed8e494801b705c4bdadb3df3440",
        ),
        Dataset(
            name="zinc250k",
            description="ZINC-250k drug-like subset with logP, qed, SAS (chemical VAE paper)",
            url=(
                "https://raw.githubusercontent.com/aspuru-guzik-group/chemical_vae/master/"
                "models/zinc_properties/250k_rndm_zinc_drugs_clean_3.csv"
            ),
            filename="250k_rndm_zinc_drugs_clean_3.csv",
            size="249,455 molecules",
            license="Apache-2.0 (chemical_vae repository)",
            citation=(
                "Gomez-Bombarelli et al., Automatic chemical design using a data-driven "
                "continuous representation of molecules, ACS Cent. Sci. 2018"
            ),
        ),
        Dataset(
            name="guacamol-train",
            description="GuacaMol ChEMBL training split, one SMILES per line",
            url="https://ndownloader.figshare.com/files/13612760",
            filename="guacamol_v1_train.smiles",
            size="1,273,104 molecules",
            license=_GUACAMOL_LICENSE,
            citation=_GUACAMOL_CITATION,
            md5="05ad85d871958a05c02ab51a4fde8530",
        ),
        Dataset(
            name="guacamol-valid",
            description="GuacaMol ChEMBL validation split, one SMILES per line",
            url="https://ndownloader.figshare.com/files/13612766",
            filename="guacamol_v1_valid.smiles",
            size="79,568 molecules",
            license=_GUACAMOL_LICENSE,
            citation=_GUACAMOL_CITATION,
            md5="e53db4bff7dc4784123ae6df72e3b1f0",
        ),
        Dataset(
            name="guacamol-test",
            description="GuacaMol ChEMBL test split, one SMILES per line",
            url="https://ndownloader.figshare.com/files/13612757",
            filename="guacamol_v1_test.smiles",
            size="238,706 molecules",
            license=_GUACAMOL_LICENSE,
            citation=_GUACAMOL_CITATION,
            md5="677b757ccec4809febd83850b43e1616",
        ),
        Dataset(
            name="guacamol-all",
            description="GuacaMol ChEMBL, all splits together, one SMILES per line",
            url="https://ndownloader.figshare.com/files/13612745",
            filename="guacamol_v1_all.smiles",
            size="1,591,378 molecules",
            license=_GUACAMOL_LICENSE,
            citation=_GUACAMOL_CITATION,
            md5="7d45bc95c33c10cb96ef5e78c38ac0b6",
        ),
    )
}


# --------------------------------------------------------------------------------------------
# Cache directory and registry look-ups
# --------------------------------------------------------------------------------------------


def data_dir() -> Path:
    """The dataset cache directory (not created here).

    ``$MOLVAE_DATA_DIR`` if set; otherwise the platform's user data directory + ``molvae/datasets``:
    ``$XDG_DATA_HOME`` or ``~/.local/share`` on Linux and other Unixes, ``~/Library/Application
    Support`` on macOS, ``%LOCALAPPDATA%`` on Windows.
    """
    override = os.environ.get(DATA_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "").strip()
        # The XDG spec says a relative path is invalid and must be ignored.
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "molvae" / "datasets"


def get_dataset(name: str, registry: Mapping[str, Dataset] | None = None) -> Dataset:
    """Registry entry for ``name`` (case-insensitive, ``_`` accepted for ``-``)."""
    registry = DATASETS if registry is None else registry
    key = name.strip().lower().replace("_", "-")
    for entry_name, entry in registry.items():
        if entry_name.lower() == key:
            return entry
    raise MolvaeError(f"unknown dataset {name!r}; available: {', '.join(registry)}")


def dataset_path(
    name: str, *, cache_dir: Path | None = None, registry: Mapping[str, Dataset] | None = None
) -> Path:
    """Where ``name`` is (or would be) cached; see :func:`is_cached` to know whether it is."""
    return (cache_dir or data_dir()) / get_dataset(name, registry).filename


def is_cached(
    name: str, *, cache_dir: Path | None = None, registry: Mapping[str, Dataset] | None = None
) -> bool:
    """True if the dataset's file is present in the cache directory."""
    return dataset_path(name, cache_dir=cache_dir, registry=registry).is_file()


def datasets_table(
    *, cache_dir: Path | None = None, registry: Mapping[str, Dataset] | None = None
) -> pd.DataFrame:
    """One row per registered dataset: name, description, size, url, license, cached, path."""
    registry = DATASETS if registry is None else registry
    cache_dir = cache_dir or data_dir()
    rows = []
    for entry in registry.values():
        path = cache_dir / entry.filename
        rows.append(
            {
                "name": entry.name,
                "description": entry.description,
                "size": entry.size,
                "url": entry.url,
                "license": entry.license,
                "cached": path.is_file(),
                "path": str(path),
            }
        )
    columns = ["name", "description", "size", "url", "license", "cached", "path"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------------------------
# Checksums
# --------------------------------------------------------------------------------------------



def recorded_checksums(cache_dir: Path | None = None) -> dict[str, str]:
    """The sha256 sums recorded on first download, keyed by file name (empty if none yet)."""
    path = (cache_dir or data_dir()) / CHECKSUMS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise cannot_read(path, f"{exc}; fix or delete this record of checksums") from exc
    if not isinstance(data, dict):
        raise MolvaeError(f"recorded checksums {path} is not a JSON object; fix or delete it")
    return {str(k): str(v) for k, v in data.items()}


def _record_checksum(cache_dir: Path, filename: str, sha256: str) -> None:
    checksums = recorded_checksums(cache_dir)
    checksums[filename] = sha256
    text = json.dumps(checksums, indent=2, sort_keys=True) + "\n"
    atomic_write(cache_dir / CHECKSUMS_FILE, lambda handle: handle.write(text.encode()))


def _expected_sha256(entry: Dataset, cache_dir: Path) -> tuple[str | None, bool]:
    """The sha256 to check against and whether it was recorded locally (not from upstream)."""
    if entry.sha256:
        return entry.sha256.lower(), False
    recorded = recorded_checksums(cache_dir).get(entry.filename)
    return (recorded.lower(), True) if recorded else (None, False)


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------


def _fetch(
    url: str, handle: BinaryIO, *, label: str, progress: bool, timeout: float
) -> tuple[str, str]:
    """Stream ``url`` into the open binary ``handle``; returns its (sha256, md5) hex digests."""
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    request = urllib.request.Request(url, headers={"User-Agent": f"molvae/{__version__}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
            task = bar.add_task(label, total=total)
            for block in iter(lambda: response.read(_BLOCK), b""):
                handle.write(block)
                sha256.update(block)
                md5.update(block)
                bar.advance(task, len(block))
    return sha256.hexdigest(), md5.hexdigest()


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def download(
    name: str,
    *,
    force: bool = False,
    url: str | None = None,
    cache_dir: Path | None = None,
    registry: Mapping[str, Dataset] | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download dataset ``name`` into the cache (if not there yet) and return its path.

    An already cached file is checked against the known sha256 (if any) and returned without
    network access; ``force`` downloads again. ``url`` overrides the registry's URL (a mirror, or
    a ``file://`` URL in tests); ``registry`` replaces the built-in registry. Checksums are
    verified before the file is moved into place; a file without an upstream sha256 has its
    sha256 recorded in ``checksums.json`` on first download and verified on later ones.
    """
    entry = get_dataset(name, registry)
    cache_dir = cache_dir or data_dir()
    dest = cache_dir / entry.filename
    source = url or entry.url
    expected, recorded = _expected_sha256(entry, cache_dir)

    if dest.is_file() and not force:
        if expected and file_sha256(dest) != expected:
            raise MolvaeError(
                f"cached file {dest} does not match the expected sha256 {expected}; "
                f"download it again with --force (force=True)"
            )
        return dest

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MolvaeError(
            f"cannot create the data directory {cache_dir} ({_one_line(exc)}); "
            f"set {DATA_DIR_ENV} to a writable directory"
        ) from exc

    digests: dict[str, str] = {}

    def fetch_checked(handle: IO[bytes]) -> None:
        """Download into ``handle``; a failure or a checksum mismatch leaves ``dest`` as it was."""
        try:
            digests["sha256"], digests["md5"] = _fetch(
                source, handle, label=entry.name, progress=progress, timeout=timeout
            )
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} {exc.reason}"
            raise _unreachable(entry, source, dest, reason) from exc
        except urllib.error.URLError as exc:
            raise _unreachable(entry, source, dest, exc.reason) from exc
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise _unreachable(entry, source, dest, exc) from exc
        sha256, md5 = digests["sha256"], digests["md5"]
        if expected and sha256 != expected:
            hint = (
                f" (if the upstream file changed on purpose, remove its entry from "
                f"{cache_dir / CHECKSUMS_FILE})"
                if recorded
                else ""
            )
            raise MolvaeError(
                f"checksum mismatch for {entry.name} from {source}: expected sha256 {expected}, "
                f"got {sha256}; the download was discarded{hint}"
            )
        if entry.md5 and md5 != entry.md5.lower():
            raise MolvaeError(
                f"checksum mismatch for {entry.name} from {source}: expected md5 {entry.md5}, "
                f"got {md5}; the download was discarded"
            )

    atomic_write(dest, fetch_checked)
    sha256 = digests["sha256"]

    if not entry.sha256 and not recorded:
        _record_checksum(cache_dir, entry.filename, sha256)
    return dest


def _unreachable(entry: Dataset, url: str, dest: Path, reason: object) -> MolvaeError:
    return MolvaeError(
        f"cannot download {entry.name} from {url} ({_one_line(reason)}); "
        f"download it by hand and place it at {dest}"
    )
