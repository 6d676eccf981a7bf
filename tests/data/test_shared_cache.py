"""Two processes filling the same cache entry at once: both succeed, the entry is valid
afterwards, and the cache is readable by a team (the umask decides, never 0700/0600).

The processes are forked from the test (torch and RDKit already imported, so each starts in
milliseconds) and released together by a barrier; they run the library calls the commands
run: the dataset cache of ``train``, the reference statistics of ``evaluate`` and the novelty
fingerprints of ``screen --reference``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import stat
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLE, TEST_SAMPLE, tiny_train_config


def _child(barrier, queue, work: Callable[[], object]) -> None:
    try:
        barrier.wait(timeout=60)
        queue.put(("ok", work()))
    except BaseException:  # noqa: BLE001 - the parent reports whatever went wrong
        queue.put(("error", traceback.format_exc()))


def race(work: Callable[[], object], n: int = 2) -> list[object]:
    """``work()`` in ``n`` forked processes started at the same moment; their results."""
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_child, args=(barrier, queue, work)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    errors = [r for kind, r in results if kind == "error"]
    assert errors == []
    return [r for _, r in results]


def team_readable_problems(root: Path) -> list[str]:
    """Paths under ``root`` that the group or others cannot read (or enter, for folders)."""
    problems = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        need = 0o055 if path.is_dir() else 0o044
        if mode & need != need:
            problems.append(f"{path.relative_to(root)}: {oct(mode)}")
    return problems


def leftovers(root: Path) -> list[str]:
    """Temporary files or folders a writer left behind."""
    return [str(p.relative_to(root)) for p in root.rglob(".*")]


@pytest.fixture
def small_reference(tmp_path) -> Path:
    path = tmp_path / "reference.csv"
    pd.read_csv(TEST_SAMPLE).head(100).to_csv(path, index=False)
    return path


def test_two_trains_fill_the_dataset_cache_at_once(tmp_path, umask_022):
    from molvae.training.prepare import prepare_data

    cache = tmp_path / "cache"
    cfg = tiny_train_config(max_molecules=300)

    def work() -> tuple[int, str]:
        prep = prepare_data(SAMPLE, cfg, cache=cache)
        return len(prep.train), "".join(prep.train.smiles)

    results = race(work)
    assert results[0] == results[1]
    statuses: list[str] = []
    again = prepare_data(SAMPLE, cfg, cache=cache, status=statuses.append)
    assert any("using cached tokenized data" in s for s in statuses), statuses
    assert (len(again.train), "".join(again.train.smiles)) == results[0]
    assert leftovers(cache) == []
    assert team_readable_problems(cache) == []


def test_two_evaluates_fill_the_reference_cache_at_once(tmp_path, small_reference, umask_022):
    from molvae.evaluation.reference import ReferenceStats

    cache = tmp_path / "cache"

    def work() -> tuple[int, list[float]]:
        stats = ReferenceStats.load_or_compute(small_reference, cache=cache, n_jobs=1)
        return stats.n_molecules, np.asarray(stats.property_values("logP")).tolist()

    results = race(work)
    assert results[0] == results[1]
    logged: list[str] = []
    stats = ReferenceStats.load_or_compute(small_reference, cache=cache, n_jobs=1,
                                           log=logged.append)
    assert any("loaded cached" in line for line in logged), logged
    assert stats.n_molecules == results[0][0]
    assert leftovers(cache) == []
    assert team_readable_problems(cache) == []


def test_two_screens_fill_the_novelty_cache_at_once(tmp_path, small_reference, umask_022):
    from molvae.screening.novelty import ReferenceFingerprints

    cache = tmp_path / "cache"

    def work() -> int:
        return len(ReferenceFingerprints.load_or_compute(small_reference, cache=cache, n_jobs=1))

    results = race(work)
    assert results[0] == results[1] > 0
    logged: list[str] = []
    again = ReferenceFingerprints.load_or_compute(small_reference, cache=cache, n_jobs=1,
                                                  log=logged.append)
    assert any("loaded cached" in line for line in logged), logged
    assert len(again) == results[0]
    assert leftovers(cache) == []
    assert team_readable_problems(cache) == []


def test_a_cache_written_under_a_group_umask_is_group_writable(tmp_path):
    from molvae.training.prepare import prepare_data

    cache = tmp_path / "cache"
    old = os.umask(0o002)
    try:
        prepare_data(SAMPLE, tiny_train_config(max_molecules=100), cache=cache)
    finally:
        os.umask(old)
    entries = [p for p in cache.iterdir() if p.is_dir()]
    assert entries and all(stat.S_IMODE(p.stat().st_mode) == 0o775 for p in entries)
