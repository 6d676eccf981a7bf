"""Tests for molvae.data.public: never touches the network (file:// and a local HTTP server)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from molvae.data import public as dl
from molvae.data.tables import detect_format
from molvae.errors import MolvaeError

CONTENT = b"SMILES\nCCO\nc1ccccc1\n"
UNREACHABLE = "http://127.0.0.1:9/data.csv"  # discard port: connection refused at once


def _entry(url: str, **checksums: str | None) -> dl.Dataset:
    return dl.Dataset(
        name="tiny",
        description="three lines",
        url=url,
        filename="tiny.csv",
        size="2 molecules",
        license="MIT",
        citation="none",
        **checksums,
    )


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    path = tmp_path / "upstream" / "tiny.csv"
    path.parent.mkdir()
    path.write_bytes(CONTENT)
    return path


@pytest.fixture()
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _leftovers(cache: Path) -> list[str]:
    return [p.name for p in cache.glob("*.part")] if cache.exists() else []


def test_file_url_download_records_checksum(source, cache):
    registry = {"tiny": _entry(source.as_uri())}
    path = dl.download("tiny", cache_dir=cache, registry=registry, progress=False)
    assert path == cache / "tiny.csv"
    assert path.read_bytes() == CONTENT
    recorded = json.loads((cache / dl.CHECKSUMS_FILE).read_text())
    assert recorded == {"tiny.csv": hashlib.sha256(CONTENT).hexdigest()}
    assert dl.recorded_checksums(cache) == recorded
    assert _leftovers(cache) == []

    # Cached: no network needed, even with an unreachable URL.
    again = dl.download("tiny", cache_dir=cache, registry=registry, url=UNREACHABLE)
    assert again == path


def test_recorded_checksum_is_verified_on_force(source, cache):
    registry = {"tiny": _entry(source.as_uri())}
    dl.download("tiny", cache_dir=cache, registry=registry, progress=False)
    source.write_bytes(CONTENT + b"CCN\n")  # upstream changed
    with pytest.raises(MolvaeError, match="checksum mismatch.*remove its entry") as info:
        dl.download("tiny", cache_dir=cache, registry=registry, force=True, progress=False)
    assert "\n" not in str(info.value)
    assert (cache / "tiny.csv").read_bytes() == CONTENT  # the good copy was kept
    assert _leftovers(cache) == []


def test_upstream_sha256_mismatch_discards_download(source, cache):
    registry = {"tiny": _entry(source.as_uri(), sha256="0" * 64)}
    with pytest.raises(MolvaeError, match=f"expected sha256 {'0' * 64}, got "):
        dl.download("tiny", cache_dir=cache, registry=registry, progress=False)
    assert not (cache / "tiny.csv").exists()
    assert not (cache / dl.CHECKSUMS_FILE).exists()
    assert _leftovers(cache) == []


def test_upstream_checksums_accepted(source, cache):
    good = {
        "sha256": hashlib.sha256(CONTENT).hexdigest(),
        "md5": hashlib.md5(CONTENT).hexdigest(),
    }
    registry = {"tiny": _entry(source.as_uri(), **good)}
    path = dl.download("tiny", cache_dir=cache, registry=registry, progress=False)
    assert path.read_bytes() == CONTENT
    assert not (cache / dl.CHECKSUMS_FILE).exists()  # nothing to record: upstream sha256 known

    # A cached file that no longer matches the upstream sha256 is reported, not used.
    path.write_bytes(b"tampered")
    with pytest.raises(MolvaeError, match="does not match"):
        dl.download("tiny", cache_dir=cache, registry=registry)


def test_md5_mismatch(source, cache):
    registry = {"tiny": _entry(source.as_uri(), md5="f" * 32)}
    with pytest.raises(MolvaeError, match="expected md5"):
        dl.download("tiny", cache_dir=cache, registry=registry, progress=False)
    assert not (cache / "tiny.csv").exists()


def test_offline_error_is_one_line_with_url_and_path(cache):
    registry = {"tiny": _entry(UNREACHABLE)}
    start = time.monotonic()
    with pytest.raises(MolvaeError) as info:
        dl.download("tiny", cache_dir=cache, registry=registry, progress=False, timeout=5)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "\n" not in message
    assert UNREACHABLE in message
    assert f"place it at {cache / 'tiny.csv'}" in message
    assert _leftovers(cache) == []


def test_missing_file_url_is_reported(tmp_path, cache):
    url = (tmp_path / "nope.csv").as_uri()
    with pytest.raises(MolvaeError, match=re.escape(url)):
        dl.download("tiny", cache_dir=cache, registry={"tiny": _entry(url)}, progress=False)


@pytest.fixture()
def http_root(source):
    handler = partial(SimpleHTTPRequestHandler, directory=str(source.parent))
    handler.log_message = lambda *args: None  # keep test output quiet
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_download_and_http_error(http_root, cache):
    registry = {"tiny": _entry(f"{http_root}/tiny.csv")}
    path = dl.download("tiny", cache_dir=cache, registry=registry, progress=True)
    assert path.read_bytes() == CONTENT
    with pytest.raises(MolvaeError, match=r"HTTP 404"):
        dl.download("tiny", cache_dir=cache, registry=registry, force=True, url=f"{http_root}/x")


def test_data_dir_env_and_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.DATA_DIR_ENV, str(tmp_path / "mine"))
    assert dl.data_dir() == tmp_path / "mine"
    monkeypatch.delenv(dl.DATA_DIR_ENV)
    monkeypatch.setattr(dl.sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert dl.data_dir() == tmp_path / "xdg" / "molvae" / "datasets"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert dl.data_dir() == tmp_path / "home" / ".local" / "share" / "molvae" / "datasets"


def test_registry_lookup_and_table(tmp_path):
    assert dl.get_dataset("MOSES_train").name == "moses-train"
    with pytest.raises(MolvaeError, match="available: moses-train"):
        dl.get_dataset("chembl-99")
    (tmp_path / "moses_test.csv").write_text("SMILES,SPLIT\n")
    table = dl.datasets_table(cache_dir=tmp_path)
    columns = ["name", "description", "size", "url", "license", "cached", "path"]
    assert list(table.columns) == columns
    cached = dict(zip(table["name"], table["cached"], strict=True))
    assert cached["moses-test"] and not cached["moses-train"]
    assert dl.is_cached("moses-test", cache_dir=tmp_path)


def test_registry_entries_are_well_formed():
    filenames = [d.filename for d in dl.DATASETS.values()]
    assert len(set(filenames)) == len(filenames)
    for name, entry in dl.DATASETS.items():
        assert name == entry.name
        assert entry.url.startswith("https://")
        assert entry.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
        assert entry.md5 is None or re.fullmatch(r"[0-9a-f]{32}", entry.md5)
        detect_format(entry.filename)  # molvae.data.tables can read every file it downloads
