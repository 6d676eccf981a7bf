"""Process-parallel map for RDKit and SELFIES work, which holds the GIL.

Small inputs run in-process (a pool costs more than it saves); large ones are split into chunks
and mapped over ``n_jobs`` worker processes, preserving order.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["default_jobs", "map_chunks"]

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
