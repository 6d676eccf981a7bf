"""Atomic writes: whole files only, with the permissions of an ordinary new file."""

import stat

import pytest

from molvae.runtime import atomic_write


def test_atomic_write_gives_umask_permissions_and_leaves_no_temp_file(tmp_path, umask_022):
    path = tmp_path / "sub" / "model.bin"
    atomic_write(path, lambda handle: handle.write(b"weights"))
    assert path.read_bytes() == b"weights"
    # mkstemp alone would give 0600: a model shared with a team would not load for the others.
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["model.bin"]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "config.json"
    atomic_write(path, lambda handle: handle.write("old"), mode="w")

    def fail(handle):
        handle.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail, mode="w")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]
