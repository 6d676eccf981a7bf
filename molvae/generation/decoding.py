"""Decoding settings and the machinery behind them: RDKit checks of decoded strings in worker
processes, beam picks, and the forked decode workers.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import torch

from molvae import chem
from molvae.settings import DecodeSettings
from molvae.tokens import Tokenizer, get_tokenizer, in_canonical_form


def batch_rows(
    condition: torch.Tensor | None, start: int, batch_size: int
) -> torch.Tensor | None:
    """The condition input of rows ``start:start + batch_size``: one vector for every row is
    shared as it is, a matrix of per-row inputs is sliced."""
    if condition is None or condition.ndim == 1:
        return condition
    return condition[start : start + batch_size]


def check_string(
    text: str, tokenizer: Tokenizer, check_form: bool = True
) -> tuple[str, str | None, bool]:
    """(SMILES as decoded, canonical SMILES or None, in canonical form) of one string; the
    last is only computed with ``check_form`` (else False)."""
    smiles = tokenizer.to_smiles(text) or ""
    canonical = chem.canonical_smiles(smiles) if smiles else None
    return smiles, canonical, check_form and in_canonical_form(text, canonical, tokenizer)


def pick_beam(checked: Sequence[tuple[str, str | None, bool]]) -> tuple[str, str | None, bool]:
    """Of a beam's checked strings (best first, :func:`check_string`), the likeliest in
    canonical form, else the likeliest valid one, else the likeliest: a string off the
    training language is a decoding error."""
    for row in checked:
        if row[2]:
            return row
    return next((row for row in checked if row[1] is not None), checked[0])


def _postprocess_chunk(
    texts: Sequence[str | Sequence[str]], representation: str, check_form: bool = False
) -> list[tuple]:
    """(SMILES as decoded, canonical SMILES or None[, in canonical form]) for each string.

    An item that is a list of strings is a beam (best first): its row is :func:`pick_beam`'s.
    """
    tokenizer = get_tokenizer(representation)
    out: list[tuple] = []
    for text in texts:
        if isinstance(text, str):
            row = check_string(text, tokenizer, check_form)
        else:
            row = pick_beam([check_string(t, tokenizer) for t in text])
        out.append(row if check_form else row[:2])
    return out


class Postprocessor:
    """Runs ``_postprocess_chunk`` asynchronously in a small process pool (or inline)."""

    def __init__(self, representation: str, n_jobs: int, check_form: bool = False):
        self.func = partial(
            _postprocess_chunk, representation=representation, check_form=check_form
        )
        self.pool = None
        if n_jobs > 1 and "fork" in mp.get_all_start_methods():
            self.pool = mp.get_context("fork").Pool(n_jobs)
        self.n_jobs = n_jobs

    def submit(self, texts: list) -> Callable[[], list[tuple]]:
        if self.pool is None:
            result = self.func(texts)
            return lambda: result
        size = max(1, -(-len(texts) // self.n_jobs))
        parts = [
            self.pool.apply_async(self.func, (texts[i : i + size],))
            for i in range(0, len(texts), size)
        ]
        return lambda: [r for p in parts for r in p.get()]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()

    def __enter__(self) -> Postprocessor:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


# Set by decode_in_workers just before it forks its workers, which inherit it (never pickled).
_DECODE_STATE: tuple | None = None


def _single_thread() -> None:
    torch.set_num_threads(1)


def _decode_batch_in_worker(task: tuple[int, int]) -> list[tuple]:
    """In a forked worker: decode one batch and check its molecules with RDKit."""
    vae, z, batch_size, settings, check_form, condition, prefix = _DECODE_STATE
    start, seed = task
    texts = vae._generate_texts(z, start, batch_size, seed, settings, condition, prefix)
    if settings.picks_nearest:
        rows = batch_rows(condition, start, batch_size)
        return vae._pick_nearest(z[start : start + batch_size], texts, check_form, rows)
    return _postprocess_chunk(texts, vae.bundle.representation, check_form)


def decode_in_workers(
    vae: Any,
    z: torch.Tensor,
    batch_size: int,
    settings: DecodeSettings,
    check_form: bool,
    starts: Sequence[int],
    seeds: Sequence[int],
    jobs: int,
    condition: torch.Tensor | None = None,
    prefix: torch.Tensor | None = None,
) -> Iterator[list[tuple]]:
    """Checked rows of each batch, in order, decoded by ``jobs`` forked single-thread workers.

    On the CPU, whole batches go to forked workers that each decode on one thread and check
    their own molecules: more molecules/s than one process decoding on every core while others
    run RDKit (``benchmarks/throughput.py``). The model and z reach the workers by fork, never
    pickled. ``condition`` is the conditional model's condition input for every row;
    ``prefix`` the forced first tokens of each row (:meth:`MolVAE.decode`).
    """
    global _DECODE_STATE
    _DECODE_STATE = (vae, z, batch_size, settings, check_form, condition, prefix)
    try:
        with mp.get_context("fork").Pool(jobs, initializer=_single_thread) as pool:
            yield from pool.imap(_decode_batch_in_worker, zip(starts, seeds, strict=True))
    finally:
        _DECODE_STATE = None


