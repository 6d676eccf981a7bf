"""The screening pipeline: stream chunks through the steps, select, rank.

Per chunk: file-level rejects, standardization (workers), deduplication against every earlier
row, exact novelty, evaluation (workers), then the candidates join the selection pool. With a
top N the pool keeps only the N best so far: a candidate that cannot beat the current N-th is
rejected at once (``below top N``) without a similarity search. At the end come the diversity
pick, the nearest-neighbour annotation of the shortlist and the ranking.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from molvae import chem
from molvae.data.tables import (
    REASON_STANDARDIZATION,
    MoleculeTable,
    from_dataframe,
    iter_molecule_chunks,
)
from molvae.runtime import Log, default_jobs, map_chunks
from molvae.screening.config import ScreenConfig
from molvae.screening.novelty import SparseFingerprints, load_references
from molvae.screening.result import SHORTLIST, STEPS, RejectSink, ScreenResult
from molvae.screening.steps import Prep, evaluate_batch, make_plan, prepare_batch, warm_up

__all__ = ["screen", "screen_file", "screen_frame"]

REASON_NOT_DIVERSE = "not selected (diversity)"
# Worker processes pay off above this many molecules per call (a pool costs ~0.1 s to start).
_PARALLEL_MIN = 1000



def _key_hashes(keys: Sequence[str]) -> np.ndarray:
    """Stable 64-bit BLAKE2b digests of strings, as ``uint64``.

    The same digest as ``molvae.evaluation.reference.smiles_hashes``; not imported from there
    because importing ``molvae.evaluation`` loads torch (seconds and ~300 MB per process).
    """
    out = np.empty(len(keys), dtype=np.uint64)
    for i, key in enumerate(keys):
        out[i] = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    return out


class _SeenKeys:
    """Sorted 64-bit key hashes with the row that first had each key: 16 bytes per molecule.

    A Python set of InChIKey strings would cost ~100 bytes per molecule; the sorted arrays keep
    ten million molecules in 160 MB. Two distinct keys collide with probability ~n^2 / 2^65.
    """

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.uint64)
        self.rows = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.keys)

    def first_rows(self, hashes: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """For each key, the earlier row that had it (-1 if new); then remember the new keys.

        ``rows`` must be increasing, as they are within a chunk.
        """
        out = np.full(len(hashes), -1, dtype=np.int64)
        if len(hashes) == 0:
            return out
        if len(self.keys):
            pos = np.searchsorted(self.keys, hashes).clip(max=len(self.keys) - 1)
            hit = self.keys[pos] == hashes
            out[hit] = self.rows[pos[hit]]
        unique, first_index, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        first_row = rows[first_index][inverse]
        within = (out < 0) & (first_row != rows)
        out[within] = first_row[within]
        new = out[first_index] < 0
        insert_at = np.searchsorted(self.keys, unique[new])
        self.keys = np.insert(self.keys, insert_at, unique[new])
        self.rows = np.insert(self.rows, insert_at, rows[first_index][new])
        return out


# --------------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------------


class _Progress:
    """A rich progress line on stderr (rows screened, rate), or nothing."""

    def __init__(self, enabled: bool, total: int | None) -> None:
        self._bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            columns = [
                SpinnerColumn(),
                TextColumn("screening"),
                BarColumn(),
                TextColumn("{task.completed:,.0f} rows"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
            ]
            if total:
                columns.insert(3, TaskProgressColumn())
            self._bar = Progress(*columns, console=Console(stderr=True))
            self._task = self._bar.add_task("screen", total=total, rate="")
            self._start = time.perf_counter()

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def advance(self, n: int) -> None:
        if self._bar is None or n <= 0:
            return
        self._bar.advance(self._task, n)
        done = self._bar.tasks[0].completed
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        self._bar.update(self._task, rate=f"{done / elapsed:,.0f} rows/s")


class _Batch:
    """One chunk's records as arrays, and which rows are still alive after each step."""

    def __init__(self, records: pd.DataFrame) -> None:
        self.records = records
        self.rows = records["row"].to_numpy(dtype=np.int64)
        self.smiles = records["smiles"].to_numpy(dtype=object)
        self.alive = np.ones(len(records), dtype=bool)
        self.canonical = np.full(len(records), None, dtype=object)
        self.keys = np.full(len(records), None, dtype=object)
        self.novel = np.ones(len(records), dtype=bool)


class _Screener:
    """Runs the steps chunk by chunk, keeping the dedup keys and the selection pool."""

    def __init__(
        self,
        config: ScreenConfig,
        sink: RejectSink,
        progress: _Progress,
        log: Log | None,
    ) -> None:
        config.validate()
        self.config = config
        self.sink = sink
        self.progress = progress
        self.jobs = config.jobs or default_jobs()
        self.plan = make_plan(config)
        self.prep = Prep(
            config.standardize.enabled,
            config.standardize.largest_fragment,
            config.standardize.neutralize,
            config.deduplicate.enabled,
        )
        self.timings: defaultdict[str, float] = defaultdict(float)
        start = time.perf_counter()
        nov = config.novelty
        self.references = load_references(
            nov.references,
            neighbours=nov.nearest_neighbor or nov.max_similarity is not None,
            radius=nov.fingerprint_radius,
            n_bits=nov.fingerprint_bits,
            cache=nov.cache_dir,
            n_jobs=self.jobs,
            log=log,
        )
        self.timings["references"] += time.perf_counter() - start
        warm_up(self.plan)
        self.seen = _SeenKeys()
        self.n_input = 0
        self.pool_size = config.pool_size()
        self.pool: pd.DataFrame | None = None
        self.pool_parts: list[pd.DataFrame] = []
        nov = config.novelty
        self.filter_similar = bool(self.references) and nov.max_similarity is not None
        self.annotate_neighbours = bool(self.references) and nov.nearest_neighbor
        self._below = f"below top {self.pool_size}" if self.pool_size else ""

    # -- helpers ------------------------------------------------------------------------------

    def _map(self, func: Callable, items: list, count_progress: bool = False) -> list:
        size = max(50, min(1000, len(items) // (self.jobs * 8) + 1))
        return map_chunks(
            func,
            items,
            n_jobs=self.jobs,
            chunk_size=size,
            min_parallel=_PARALLEL_MIN,
            on_chunk=self.progress.advance if count_progress else None,
        )

    def _time(self, phase: str, start: float) -> float:
        now = time.perf_counter()
        self.timings[phase] += now - start
        return now

    # -- per chunk ----------------------------------------------------------------------------

    def process(self, table: MoleculeTable, read_seconds: float = 0.0) -> None:
        """Screen one chunk: rejects go to the sink, survivors to the selection pool."""
        self.timings["read"] += read_seconds
        self.n_input += table.n_rows
        rej = table.rejects
        self.sink.add(rej["row"], rej["smiles"], "read", rej["reason"], rej["reason"])
        self.progress.advance(table.n_rejected)
        if table.records.empty:
            self.sink.flush()
            return
        batch = _Batch(table.records.reset_index(drop=True))
        self._standardize(batch)
        if self.config.deduplicate.enabled:
            self._deduplicate(batch)
        if self.references:
            self._check_known(batch)
        # Rows rejected so far count now; the evaluation advances the bar as workers finish.
        self.progress.advance(int(len(batch.rows) - batch.alive.sum()))
        candidates = self._evaluate(batch)
        start = time.perf_counter()
        similarity_before = self.timings["similarity"]
        self._admit(candidates)
        similarity_spent = self.timings["similarity"] - similarity_before
        self.timings["selection"] += time.perf_counter() - start - similarity_spent
        self.sink.flush()

    def _reject(self, batch: _Batch, mask: np.ndarray, step: str, reasons, label) -> None:
        self.sink.add(batch.rows[mask], batch.smiles[mask], step, reasons, label)
        batch.alive &= ~mask

    def _standardize(self, batch: _Batch) -> None:
        """Standardize and canonicalize (and compute InChIKeys) in worker processes."""
        start = time.perf_counter()
        prepared = self._map(partial(prepare_batch, prep=self.prep), batch.smiles.tolist())
        batch.canonical = np.array([p[0] for p in prepared], dtype=object)
        batch.keys = np.array([p[1] for p in prepared], dtype=object)
        failed = np.array([p[2] is not None for p in prepared], dtype=bool)
        reason = REASON_STANDARDIZATION
        self._reject(batch, failed, "standardize", reason, reason)
        self._time("standardize", start)

    def _deduplicate(self, batch: _Batch) -> None:
        """Reject molecules whose InChIKey an earlier row (in any chunk) already had."""
        start = time.perf_counter()
        idx = np.flatnonzero(batch.alive)
        # InChI fails on a few exotic molecules: their canonical SMILES stands in as the key.
        texts = [batch.keys[i] or f"smiles:{batch.canonical[i]}" for i in idx]
        first = self.seen.first_rows(_key_hashes(texts), batch.rows[idx])
        dup = np.zeros(len(batch.rows), dtype=bool)
        dup[idx[first >= 0]] = True
        reasons = [f"duplicate of row {r}" for r in first[first >= 0]]
        self._reject(batch, dup, "deduplicate", reasons, "duplicate")
        self._time("deduplicate", start)

    def _check_known(self, batch: _Batch) -> None:
        """Mark (and by default reject) exact matches with a reference set."""
        start = time.perf_counter()
        idx = np.flatnonzero(batch.alive)
        known_in = np.full(len(batch.rows), "", dtype=object)
        for ref in self.references:
            hit = ref.index.contains(batch.canonical[idx].tolist())
            fresh = hit & (known_in[idx] == "")
            known_in[idx[fresh]] = ref.name
        batch.novel = known_in == ""
        if self.config.novelty.reject_known:
            known = batch.alive & ~batch.novel
            reasons = [f"in reference {name}" for name in known_in[known]]
            self._reject(batch, known, "novelty", reasons, "in reference")
        self._time("novelty", start)

    def _evaluate(self, batch: _Batch) -> pd.DataFrame:
        """Rules to score in worker processes; returns the surviving candidates."""
        start = time.perf_counter()
        idx = np.flatnonzero(batch.alive)
        evaluate = partial(evaluate_batch, plan=self.plan)
        evaluated = self._map(evaluate, batch.canonical[idx].tolist(), count_progress=True)
        failed_by_step: dict[str, list[int]] = defaultdict(list)
        for j, (step, *_rest) in enumerate(evaluated):
            if step is not None:
                failed_by_step[step].append(j)
        for step, js in failed_by_step.items():
            mask = np.zeros(len(batch.rows), dtype=bool)
            mask[idx[js]] = True
            # idx[js] increases with j, so the reasons line up with the rows the mask selects.
            self._reject(
                batch, mask, step, [evaluated[j][1] for j in js], [evaluated[j][2] for j in js]
            )
        keep = np.flatnonzero(batch.alive)
        values = np.array([e[3] for e in evaluated if e[3] is not None], dtype=float)
        values = values.reshape(len(keep), len(self.plan.columns))
        candidates = pd.DataFrame(
            {
                "row": batch.rows[keep],
                "smiles": batch.smiles[keep],
                "canonical": batch.canonical[keep],
            }
        )
        for c, name in enumerate(self.plan.columns):
            candidates[name] = values[:, c]
        if self.config.deduplicate.enabled:
            candidates["inchikey"] = batch.keys[keep]
        if self.references:
            candidates["novel"] = batch.novel[keep]
        candidates["_key"] = candidates["score"] if self.plan.scored else 0.0
        extras = batch.records.drop(columns=["row", "smiles", "canonical"]).iloc[keep]
        reserved = {*candidates.columns, *_leading_columns(self)}
        extras = extras.rename(columns={c: f"input_{c}" for c in extras.columns if c in reserved})
        self._time("evaluate", start)
        return pd.concat([candidates, extras.reset_index(drop=True)], axis=1)

    def _reject_frame(self, frame: pd.DataFrame, step: str, reasons, label) -> None:
        self.sink.add(frame["row"].to_numpy(), frame["smiles"].to_numpy(), step, reasons, label)

    def _admit(self, candidates: pd.DataFrame) -> None:
        """Merge a chunk's candidates into the pool of the best ``pool_size`` (or all)."""
        if candidates.empty:
            return
        k = self.pool_size
        candidates = _ranked(candidates)
        if k is not None and self.pool is not None and len(self.pool) >= k:
            worst_key, worst_row = self.pool["_key"].iat[k - 1], self.pool["row"].iat[k - 1]
            key, row = candidates["_key"], candidates["row"]
            worse = (key < worst_key) | ((key == worst_key) & (row > worst_row))
            # Cannot enter the top k whatever happens later: no similarity search needed.
            self._reject_frame(candidates[worse], "selection", self._below, self._below)
            candidates = candidates[~worse]
        if self.filter_similar and len(candidates):
            start = time.perf_counter()
            candidates = self._filter_similar(candidates)
            self.timings["similarity"] += time.perf_counter() - start
        if k is None:
            self.pool_parts.append(candidates)
            return
        pool = _ranked(pd.concat([p for p in (self.pool, candidates) if p is not None and len(p)]))
        if len(pool) > k:
            self._reject_frame(pool.iloc[k:], "selection", self._below, self._below)
            pool = pool.iloc[:k].reset_index(drop=True)
        self.pool = pool

    def _neighbours(self, canonical: Sequence[str]) -> pd.DataFrame:
        """Nearest reference molecule of each SMILES over all references."""
        nov = self.config.novelty
        mols = [chem.parse_smiles(s) for s in canonical]
        query = SparseFingerprints.from_mols(mols, nov.fingerprint_radius, nov.fingerprint_bits)
        best = np.full(len(canonical), -1.0)
        best_smiles = np.full(len(canonical), "", dtype=object)
        best_ref = np.full(len(canonical), "", dtype=object)
        for ref in self.references:
            sims, neighbours = ref.fingerprints.nearest(query)
            better = np.nan_to_num(sims, nan=-1.0) > best
            best[better] = sims[better]
            best_smiles[better] = np.asarray(neighbours, dtype=object)[better]
            best_ref[better] = ref.name
        best[best < 0] = np.nan
        return pd.DataFrame(
            {"nn_similarity": best, "nn_smiles": best_smiles, "nn_reference": best_ref}
        )

    def _filter_similar(self, candidates: pd.DataFrame) -> pd.DataFrame:
        limit = self.config.novelty.max_similarity
        nn = self._neighbours(candidates["canonical"].tolist())
        candidates = pd.concat([candidates.reset_index(drop=True), nn], axis=1)
        similar = (candidates["nn_similarity"] > limit).to_numpy()
        reasons = [
            f"too similar to {ref} (Tanimoto {s:.2f} > {limit:g}: {smi})"
            for s, smi, ref in candidates.loc[
                similar, ["nn_similarity", "nn_smiles", "nn_reference"]
            ].itertuples(index=False)
        ]
        self._reject_frame(candidates[similar], "similarity", reasons, "too similar")
        return candidates[~similar].reset_index(drop=True)

    # -- the end ------------------------------------------------------------------------------

    def finish(self) -> pd.DataFrame:
        """Diversity selection, neighbour annotation and ranking of the final shortlist."""
        start = time.perf_counter()
        if self.pool_size is None:
            parts = [p for p in self.pool_parts if len(p)]
            pool = _ranked(pd.concat(parts)) if parts else None
        else:
            pool = self.pool
        if pool is None or pool.empty:
            self.sink.flush()
            return _empty_shortlist(self)
        sel = self.config.selection
        if sel.diverse and len(pool) > sel.diverse:
            mols = [chem.parse_smiles(s) for s in pool["canonical"]]
            fps = chem.morgan_fingerprints(mols)
            picks = sorted(chem.maxmin_pick(fps, sel.diverse, first_picks=[0], seed=sel.seed))
            chosen = np.zeros(len(pool), dtype=bool)
            chosen[picks] = True
            self._reject_frame(pool[~chosen], "selection", REASON_NOT_DIVERSE, REASON_NOT_DIVERSE)
            pool = pool[chosen].reset_index(drop=True)
        self.timings["selection"] += time.perf_counter() - start
        if self.annotate_neighbours and "nn_similarity" not in pool.columns:
            start = time.perf_counter()
            pool = pd.concat(
                [pool.reset_index(drop=True), self._neighbours(pool["canonical"].tolist())], axis=1
            )
            self.timings["similarity"] += time.perf_counter() - start
        self.sink.flush()
        return _finalize_columns(pool.reset_index(drop=True), self)


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """Best first: highest score, then earliest row."""
    order = np.lexsort((frame["row"].to_numpy(), -frame["_key"].to_numpy(dtype=float)))
    return frame.iloc[order].reset_index(drop=True)


def _leading_columns(screener: _Screener) -> list[str]:
    cols = ["rank", "row", "smiles", "canonical"]
    if screener.plan.scored:
        cols.append("score")
    cols += list(screener.plan.properties)
    if screener.config.deduplicate.enabled:
        cols.append("inchikey")
    if screener.references:
        cols.append("novel")
        if screener.annotate_neighbours or screener.filter_similar:
            cols += ["nn_similarity", "nn_smiles", "nn_reference"]
    return cols


def _finalize_columns(pool: pd.DataFrame, screener: _Screener) -> pd.DataFrame:
    pool.insert(0, "rank", np.arange(1, len(pool) + 1, dtype=np.int64))
    lead = _leading_columns(screener)
    rest = [c for c in pool.columns if c not in lead and not c.startswith("_")]
    return pool[[c for c in lead if c in pool.columns] + rest]


def _empty_shortlist(screener: _Screener) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in _leading_columns(screener)})


def _run(
    chunks: Iterator[MoleculeTable],
    config: ScreenConfig,
    *,
    rejects_path: str | os.PathLike[str] | None,
    keep_rejects: bool,
    progress: bool,
    total: int | None,
    log: Log | None,
) -> ScreenResult:
    sink = RejectSink(Path(rejects_path) if rejects_path is not None else None, keep_rejects)
    with _Progress(progress, total) as bar:
        screener = _Screener(config, sink, bar, log)
        while True:
            start = time.perf_counter()
            table = next(chunks, None)
            if table is None:
                break
            screener.process(table, time.perf_counter() - start)
        shortlist = screener.finish()
    rejects = sink.result()
    counts = {SHORTLIST: len(shortlist), **{s: sink.counts[s] for s in STEPS}}
    counts = {k: v for k, v in counts.items() if v}
    if sum(counts.values()) != screener.n_input:  # a bookkeeping bug, never a user error
        raise RuntimeError(f"row accounting mismatch: {counts} vs {screener.n_input} input rows")
    return ScreenResult(
        shortlist=shortlist,
        rejects=rejects,
        counts=counts,
        reasons=dict(sink.reasons),
        n_input=screener.n_input,
        timings=dict(screener.timings),
        rejects_path=sink.path,
    )


def _limited(chunks: Iterable[MoleculeTable], max_rows: int | None) -> Iterator[MoleculeTable]:
    """The chunks cut to the first ``max_rows`` data rows (all of them for ``None``)."""
    if max_rows is None:
        yield from chunks
        return
    for table in chunks:
        records = table.records[table.records["row"] <= max_rows].reset_index(drop=True)
        rejects = table.rejects[table.rejects["row"] <= max_rows].reset_index(drop=True)
        if len(records) + len(rejects):
            yield dataclasses.replace(table, records=records, rejects=rejects)
        if len(records) + len(rejects) < table.n_rows:
            return


def screen_file(
    path: str | os.PathLike[str],
    config: ScreenConfig | None = None,
    *,
    rejects_path: str | os.PathLike[str] | None = None,
    keep_rejects: bool = True,
    progress: bool = False,
    max_rows: int | None = None,
    log: Log | None = None,
) -> ScreenResult:
    """Screen a molecule file (CSV/TSV/SMI/SDF, optionally ``.gz``) streamed in chunks.

    ``rejects_path`` streams the rejects to a CSV as they happen (``result.rejects`` is then
    ``None``); otherwise they are returned in ``result.rejects`` unless ``keep_rejects`` is
    false (counts only, for huge inputs). ``max_rows`` reads only the first rows of the file.
    ``progress`` shows a rich progress line on stderr; ``log`` receives status lines.
    """
    config = config or ScreenConfig()
    jobs = config.jobs or default_jobs()
    chunks = iter_molecule_chunks(
        path,
        chunksize=config.chunk_size if max_rows is None else min(config.chunk_size, max_rows),
        smiles_column=config.smiles_column,
        standardize=False,
        canonicalize=False,  # the screen standardizes and canonicalizes itself
        workers=1 if jobs == 1 else None,
    )
    return _run(
        _limited(chunks, max_rows),
        config,
        rejects_path=rejects_path,
        keep_rejects=keep_rejects,
        progress=progress,
        total=max_rows,
        log=log,
    )


def screen_frame(
    frame: pd.DataFrame,
    config: ScreenConfig | None = None,
    *,
    smiles_column: str | None = None,
    progress: bool = False,
    log: Log | None = None,
) -> ScreenResult:
    """Screen an in-memory DataFrame of SMILES (e.g. ``molvae generate`` output).

    Rows are numbered 1..len(frame) in frame order; the other columns travel into the shortlist
    (renamed ``input_<name>`` where they clash with a screening column).
    """
    config = config or ScreenConfig()
    table = from_dataframe(
        frame,
        smiles_column=smiles_column or config.smiles_column,
        standardize=False,
        canonicalize=False,
        workers=1 if (config.jobs or default_jobs()) == 1 else None,
    )
    return _run(
        _split(table, config.chunk_size),
        config,
        rejects_path=None,
        keep_rejects=True,
        progress=progress,
        total=len(frame),
        log=log,
    )


def screen(
    molecules: str | os.PathLike[str] | pd.DataFrame | Sequence[str],
    config: ScreenConfig | None = None,
    *,
    smiles_column: str | None = None,
    progress: bool = False,
    log: Log | None = None,
) -> ScreenResult:
    """``molvae screen`` from Python: a file path, a DataFrame or a list of SMILES in.

    A path is streamed as :func:`screen_file` does; a DataFrame or a list of SMILES is screened
    in memory as :func:`screen_frame` does. The result holds the ranked ``shortlist`` and the
    ``rejects`` (one row per rejected input row, with its step and reason) as DataFrames.
    """
    if isinstance(molecules, (str, os.PathLike)):
        if smiles_column is not None:
            config = dataclasses.replace(config or ScreenConfig(), smiles_column=smiles_column)
        return screen_file(molecules, config, progress=progress, log=log)
    if isinstance(molecules, pd.DataFrame):
        frame = molecules
    else:
        frame = pd.DataFrame({"smiles": list(molecules)})
        smiles_column = "smiles"
    return screen_frame(frame, config, smiles_column=smiles_column, progress=progress, log=log)


def _split(table: MoleculeTable, size: int) -> Iterator[MoleculeTable]:
    """Cut a table into chunks of at most ``size`` records (file-level rejects in the first)."""
    records = table.records
    if records.empty:
        yield table
        return
    for i, start in enumerate(range(0, len(records), size)):
        yield MoleculeTable(
            records=records.iloc[start : start + size].reset_index(drop=True),
            rejects=table.rejects if i == 0 else table.rejects.iloc[0:0],
            source=table.source,
        )
