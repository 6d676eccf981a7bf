"""Reading molecule files with full row accounting.

Every data row of an input file ends up in exactly one of two tables: ``records`` (parsed, and
canonicalized/standardized on request) or ``rejects`` (with the reason it was dropped). Nothing is
skipped silently, so a user can always answer "where did my 312 missing molecules go?" by opening
the rejects CSV. Later stages (the tokenizer's length and vocabulary checks) move rows to the
rejects with :func:`reject`, keeping the same bookkeeping.

Formats are chosen by extension: CSV, TSV, SMILES files (``.smi``/``.smiles``/``.txt``: SMILES
then an optional name) and SD files, each optionally gzip-compressed (``.gz``).
:func:`iter_molecule_chunks` streams a file in chunks of rows so millions of molecules can be read
with flat memory; :func:`read_molecules` reads a whole file. :func:`read_generated` reads every
string of a file of generated SMILES (invalid ones included) and :func:`read_latents` the latent
columns ``molvae encode`` wrote.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import re
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from molvae import chem
from molvae.errors import MolvaeError, cannot_read, file_not_found, no_column
from molvae.runtime import map_chunks

if TYPE_CHECKING:

    pass

__all__ = [
    "DEFAULT_CHUNKSIZE",
    "FORMATS",
    "MAX_SMILES_CHARS",
    "PARALLEL_MIN_ROWS",
    "REASON_EMPTY",
    "REASON_INVALID_RECORD",
    "REASON_INVALID_SMILES",
    "REASON_STANDARDIZATION",
    "MoleculeTable",
    "detect_format",
    "find_smiles_column",
    "from_dataframe",
    "iter_molecule_chunks",
    "read_molecules",
    "reason_kinds",
    "reject",
    "write_rejects",
]

# Reject reasons produced here; other layers add their own (e.g. "too long (N tokens > max M)").
REASON_EMPTY = "empty"
REASON_INVALID_SMILES = "invalid SMILES"
REASON_INVALID_RECORD = "invalid SDF record"
REASON_STANDARDIZATION = "standardization failed"
REASON_NOT_ASCII = "invalid SMILES (a character that is not ASCII)"
REASON_BLANK = "invalid SMILES (text after a blank)"
REASON_TOO_LONG = chem.TEXT_TOO_LONG  # the kind; the reason adds the length and the limit
_TEXT_REASONS = {chem.TEXT_NOT_ASCII: REASON_NOT_ASCII, chem.TEXT_BLANK: REASON_BLANK}

# Longer SMILES are rejected unread (see molvae.chem.smiles_text_problem).
MAX_SMILES_CHARS = chem.MAX_SMILES_CHARS

# Extension (after an optional ".gz") -> format name.
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".smi": "smi",
    ".smiles": "smi",
    ".txt": "smi",
    ".sdf": "sdf",
    ".sd": "sdf",
}

DEFAULT_CHUNKSIZE = 100_000
# Below this many rows in a chunk, starting worker processes costs more than it saves.
PARALLEL_MIN_ROWS = 20_000
_AUTO_WORKERS = 2

RECORD_COLUMNS = ("row", "smiles", "canonical")
REJECT_COLUMNS = ("row", "smiles", "reason")

# pandas' default missing-value markers, applied to the extra columns only: in the SMILES column
# a cell reading "NA" or "None" is kept as text, so it is reported as invalid rather than empty.
_NA_VALUES = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]


# --------------------------------------------------------------------------------------------
# The result table
# --------------------------------------------------------------------------------------------


def _empty_records() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": pd.Series([], dtype="int64"),
            "smiles": pd.Series([], dtype=object),
            "canonical": pd.Series([], dtype=object),
        }
    )


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": pd.Series([], dtype="int64"),
            "smiles": pd.Series([], dtype=object),
            "reason": pd.Series([], dtype=object),
        }
    )


@dataclass
class MoleculeTable:
    """Accepted molecules and rejected rows of one input, each row accounted for exactly once.

    ``records`` has columns ``row`` (1-based data row of the input file, header excluded; the
    record index for SD files), ``smiles`` (the input string, whitespace-stripped), ``canonical``
    (RDKit canonical SMILES, or the validated input when canonicalization is off) and then the
    input's other columns (an input column named ``row``, ``smiles`` or ``canonical`` that is not
    the SMILES column is kept as ``input_<name>``). ``rejects`` has columns ``row``, ``smiles``
    and ``reason``.
    """

    records: pd.DataFrame = field(default_factory=_empty_records)
    rejects: pd.DataFrame = field(default_factory=_empty_rejects)
    source: Path | None = None

    @property
    def n_rows(self) -> int:
        """Number of input rows accounted for (accepted + rejected)."""
        return len(self.records) + len(self.rejects)

    @property
    def n_accepted(self) -> int:
        """Number of rows in ``records``."""
        return len(self.records)

    @property
    def n_rejected(self) -> int:
        """Number of rows in ``rejects``."""
        return len(self.rejects)

    def summary(self) -> dict[str, int]:
        """Number of rejected rows per reason, most frequent first (ties by reason name)."""
        counts = self.rejects["reason"].value_counts()
        items = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        return {str(reason): int(count) for reason, count in items}

    def describe(self) -> str:
        """One line for logs and the CLI, e.g. ``read 10 rows: 7 accepted, 3 rejected (...)``."""
        text = (
            f"read {self.n_rows:,} rows: {self.n_accepted:,} accepted, {self.n_rejected:,} rejected"
        )
        if self.n_rejected:
            parts = ", ".join(f"{count:,} {reason}" for reason, count in self.summary().items())
            text += f" ({parts})"
        return text

    @classmethod
    def concat(cls, tables: Iterable[MoleculeTable]) -> MoleculeTable:
        """Join tables (e.g. the chunks of one file) in order; the source of the first is kept."""
        tables = list(tables)
        if not tables:
            return cls()
        return cls(
            records=_concat_frames([t.records for t in tables], _empty_records),
            rejects=_concat_frames([t.rejects for t in tables], _empty_rejects),
            source=tables[0].source,
        )


def _concat_frames(frames: list[pd.DataFrame], empty: Any) -> pd.DataFrame:
    # Dropping empty frames first keeps dtypes stable (pandas warns about concatenating them).
    non_empty = [f for f in frames if len(f)]
    if not non_empty:
        return frames[0] if frames else empty()
    if len(non_empty) == 1:
        return non_empty[0].reset_index(drop=True)
    return pd.concat(non_empty, ignore_index=True)


def reject(
    table: MoleculeTable, mask: Sequence[bool] | np.ndarray | pd.Series, reason: str | Sequence[str]
) -> MoleculeTable:
    """Move the records selected by ``mask`` to the rejects, with ``reason``; returns a new table.

    ``mask`` is positional over ``table.records``. ``reason`` is one string for all moved rows or
    one string per record (positional, same length as ``records``), so a tokenizer can say which
    token was missing for each molecule. Rejects stay sorted by input row.
    """
    n = len(table.records)
    selected = np.asarray(mask, dtype=bool)
    if selected.shape != (n,):
        raise ValueError(f"mask has shape {selected.shape}, expected ({n},) (one per record)")
    if isinstance(reason, str):
        reasons = np.full(int(selected.sum()), reason, dtype=object)
    else:
        all_reasons = np.asarray(list(reason), dtype=object)
        if all_reasons.shape != (n,):
            raise ValueError(f"got {len(all_reasons)} reasons, expected one per record ({n})")
        reasons = all_reasons[selected]
    if not selected.any():
        return table
    moved = table.records.loc[selected]
    new_rejects = pd.DataFrame(
        {
            "row": moved["row"].to_numpy(dtype="int64"),
            "smiles": moved["smiles"].to_numpy(dtype=object),
            "reason": reasons,
        }
    )
    rejects = _concat_frames([table.rejects, new_rejects], _empty_rejects)
    rejects = rejects.sort_values("row", kind="stable").reset_index(drop=True)
    records = table.records.loc[~selected].reset_index(drop=True)
    return dataclasses.replace(table, records=records, rejects=rejects)


def reason_kinds(reasons: pd.Series) -> pd.Series:
    """The kind of each reject reason, for summaries: the text before its first ": " or " (".

    ``"too long (61 tokens > max 60)"`` -> ``"too long"``; ``"PAINS: ene_one_A"`` -> ``"PAINS"``.
    """
    return reasons.astype(str).str.replace(r"(: | \().*$", "", regex=True).str.strip()


def write_rejects(table: MoleculeTable, path: str | os.PathLike[str]) -> Path:
    """Write ``table.rejects`` (row, smiles, reason) as CSV (gzip if the name ends in ``.gz``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.rejects.loc[:, list(REJECT_COLUMNS)].to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------------------------
# Checking SMILES (in-process, or in worker processes for large chunks)
# --------------------------------------------------------------------------------------------


def _check_smiles(
    smiles: str, standardize: bool, canonicalize: bool
) -> tuple[str | None, str | None]:
    """``(output SMILES, None)`` for an accepted string, ``(None, reason)`` for a rejected one."""
    if not smiles:
        return None, REASON_EMPTY
    problem = chem.smiles_text_problem(smiles)
    if problem == chem.TEXT_TOO_LONG:
        return None, f"{REASON_TOO_LONG} ({len(smiles):,} characters > {MAX_SMILES_CHARS:,})"
    if problem is not None:
        return None, _TEXT_REASONS[problem]
    mol = chem.parse_smiles(smiles)
    if mol is None:
        return None, REASON_INVALID_SMILES
    if standardize:
        mol = chem.standardize(mol)
        if mol is None:
            return None, REASON_STANDARDIZATION
    elif not canonicalize:
        return smiles, None
    # A standardized molecule is a new molecule: it is always written as canonical SMILES.
    out = chem.canonical_smiles(mol)
    if out is None:
        return None, REASON_STANDARDIZATION if standardize else REASON_INVALID_SMILES
    return out, None


def _check_batch(
    batch: list[str], standardize: bool, canonicalize: bool
) -> list[tuple[str | None, str | None]]:
    # Module-level so worker processes can unpickle it.
    return [_check_smiles(s, standardize, canonicalize) for s in batch]


class _SmilesChecker:
    """Checks lists of SMILES in-process, or in worker processes for large lists.

    ``workers=None`` uses 2 worker processes for lists over ``PARALLEL_MIN_ROWS`` strings and the
    calling process otherwise; ``workers=1`` never starts workers; ``workers>=2`` always does.
    """

    def __init__(self, standardize: bool, canonicalize: bool, workers: int | None) -> None:
        if workers is not None and workers < 1:
            raise MolvaeError(f"workers must be at least 1, got {workers}")
        self._check = partial(_check_batch, standardize=standardize, canonicalize=canonicalize)
        self._jobs = workers or _AUTO_WORKERS
        self._min_parallel = PARALLEL_MIN_ROWS + 1 if workers is None else 0

    def __call__(self, smiles: list[str]) -> list[tuple[str | None, str | None]]:
        if not smiles:
            return []
        return map_chunks(self._check, smiles, n_jobs=self._jobs, min_parallel=self._min_parallel)


# --------------------------------------------------------------------------------------------
# Building tables
# --------------------------------------------------------------------------------------------


def _as_smiles_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip()


def _build_table(
    smiles: list[str],
    extras: pd.DataFrame | None,
    first_row: int,
    checker: _SmilesChecker,
    source: Path | None,
    preset_reasons: list[str | None] | None = None,
) -> MoleculeTable:
    """Check ``smiles`` and split the rows (numbered from ``first_row``) into records/rejects.

    ``preset_reasons`` marks rows already known to be rejects (unreadable SD records).
    """
    n = len(smiles)
    rows = np.arange(first_row, first_row + n, dtype="int64")
    smiles_arr = np.asarray(smiles, dtype=object).reshape(n)
    outputs: list[str | None] = [None] * n
    reasons: list[str | None] = list(preset_reasons) if preset_reasons else [None] * n
    todo = [i for i in range(n) if reasons[i] is None]
    checked = checker([smiles[i] for i in todo])
    for i, (out, reason) in zip(todo, checked, strict=True):
        outputs[i], reasons[i] = out, reason

    ok = np.fromiter((r is None for r in reasons), dtype=bool, count=n)
    records = pd.DataFrame(
        {
            "row": rows[ok],
            "smiles": smiles_arr[ok],
            "canonical": np.asarray(outputs, dtype=object).reshape(n)[ok],
        }
    )
    if extras is not None and len(extras.columns):
        extras = extras.reset_index(drop=True).rename(
            columns={c: f"input_{c}" for c in extras.columns if c in RECORD_COLUMNS}
        )
        records = pd.concat([records, extras.loc[ok].reset_index(drop=True)], axis=1)
    rejects = pd.DataFrame(
        {
            "row": rows[~ok],
            "smiles": smiles_arr[~ok],
            "reason": np.asarray(reasons, dtype=object).reshape(n)[~ok],
        }
    )
    return MoleculeTable(records=records, rejects=rejects, source=source)


def from_dataframe(
    frame: pd.DataFrame,
    *,
    smiles_column: str | None = None,
    standardize: bool = False,
    canonicalize: bool = True,
    workers: int | None = None,
) -> MoleculeTable:
    """Check the SMILES of an in-memory DataFrame, with the same accounting as a file.

    Rows are numbered 1..len(frame) in frame order; columns other than the SMILES column are kept.
    """
    column = find_smiles_column(list(frame.columns), smiles_column)
    smiles = [_as_smiles_text(v) for v in frame[column].tolist()]
    extras = frame.drop(columns=[column])
    checker = _SmilesChecker(standardize, canonicalize, workers)
    return _build_table(smiles, extras, 1, checker, None)


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------


def detect_format(path: str | os.PathLike[str]) -> str:
    """Format name (``csv``, ``tsv``, ``smi``, ``sdf``) from the file extension, ``.gz`` allowed."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[: -len(".gz")]
    suffix = Path(name).suffix
    if suffix in FORMATS:
        return FORMATS[suffix]
    known = ", ".join(FORMATS)
    shown = suffix or "(none)"
    raise MolvaeError(
        f"unknown molecule file extension {shown!r} for {path}; expected one of {known} "
        "(optionally followed by .gz)"
    )


def find_smiles_column(
    columns: Sequence[object], smiles_column: str | None = None, source: object | None = None
) -> str:
    """Name of the SMILES column: ``smiles_column`` if given, else auto-detected.

    Detection prefers a column named ``smiles`` (any case), then ``canonical_smiles``, then the
    only column whose name contains "smiles". Anything else is a ``MolvaeError`` listing the
    columns present, because guessing wrong would silently train on the wrong strings.
    ``source`` (the file) starts the message when given.
    """
    names = [str(c) for c in columns]
    if smiles_column is not None:
        if smiles_column in names:
            return smiles_column
        raise no_column(smiles_column, names, source, "check --smiles-column")
    for wanted in ("smiles", "canonical_smiles"):
        for name in names:
            if name.lower() == wanted:
                return name
    candidates = [n for n in names if "smiles" in n.lower()]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise MolvaeError(
            f"several columns could hold SMILES ({', '.join(map(repr, candidates))}); "
            "name the SMILES column with --smiles-column (smiles_column= in Python)"
        )
    raise no_column(
        "smiles", names, source,
        "name the SMILES column with --smiles-column (smiles_column= in Python)",
    )


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


# Each chunk reader yields (smiles strings, extra columns or None, preset reasons or None).
_RawChunk = tuple[list[str], pd.DataFrame | None, list[str | None] | None]


def _delimited_chunks(
    path: Path, sep: str, smiles_column: str | None, chunksize: int
) -> Iterator[_RawChunk]:
    try:
        header = pd.read_csv(path, sep=sep, nrows=0)
    except pd.errors.EmptyDataError:
        raise MolvaeError(f"{path} is empty: expected a header line naming the columns") from None
    column = find_smiles_column(list(header.columns), smiles_column, path)
    others = [c for c in header.columns if c != column]
    reader = pd.read_csv(
        path,
        sep=sep,
        chunksize=chunksize,
        dtype={column: str},
        keep_default_na=False,
        na_values={c: _NA_VALUES for c in others},
        # A blank line is a data row too: it is reported as "empty", and row numbers stay true.
        skip_blank_lines=False,
        # Never take the first column for an index (pandas does when the first data row has one
        # field more than the header, shifting every column by one).
        index_col=False,
    )
    with reader:
        while True:
            # With index_col=False, pandas drops the extra fields of such rows with only a
            # warning: made an error here, as a row is never read with fields lost.
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = next(reader, None)
            if frame is None:
                return
            smiles = [_as_smiles_text(v) for v in frame[column].tolist()]
            yield smiles, frame.drop(columns=[column]), None


def _smi_chunks(path: Path, chunksize: int) -> Iterator[_RawChunk]:
    with io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig") as handle:
        smiles: list[str] = []
        names: list[str | None] = []
        for line in handle:
            parts = line.strip().split(None, 1)
            smiles.append(parts[0] if parts else "")
            names.append(parts[1].strip() if len(parts) > 1 else None)
            if len(smiles) >= chunksize:
                yield smiles, pd.DataFrame({"name": names}, dtype=object), None
                smiles, names = [], []
        if smiles:
            yield smiles, pd.DataFrame({"name": names}, dtype=object), None


def _sdf_records(handle: IO[bytes]) -> Iterator[tuple[str | None, dict[str, object]]]:
    """RDKit's SD records of ``handle``, with a read error of the stream raised as itself.

    RDKit reads the stream from C++; an error there (a truncated gzip stream) comes back as a
    ``SystemError`` wrapping the original exception, which is unwrapped here.
    """
    records = chem.iter_sdf_records(handle)
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except SystemError as exc:
            inner = exc.__cause__ or exc.__context__
            if isinstance(inner, (OSError, EOFError, zlib.error)):
                raise inner from None
            raise
        yield record


def _sdf_chunks(path: Path, chunksize: int) -> Iterator[_RawChunk]:
    with _open_binary(path) as handle:
        smiles: list[str] = []
        props: list[dict[str, object]] = []
        reasons: list[str | None] = []
        for record_smiles, record_props in _sdf_records(handle):
            smiles.append(record_smiles or "")
            props.append(record_props)
            reasons.append(REASON_INVALID_RECORD if record_smiles is None else None)
            if len(smiles) >= chunksize:
                yield smiles, pd.DataFrame.from_records(props, index=range(len(props))), reasons
                smiles, props, reasons = [], [], []
        if smiles:
            yield smiles, pd.DataFrame.from_records(props, index=range(len(props))), reasons


def _raw_chunks(
    path: Path, file_format: str, smiles_column: str | None, chunksize: int
) -> Iterator[_RawChunk]:
    if file_format == "csv":
        return _delimited_chunks(path, ",", smiles_column, chunksize)
    if file_format == "tsv":
        return _delimited_chunks(path, "\t", smiles_column, chunksize)
    if file_format == "smi":
        return _smi_chunks(path, chunksize)
    if file_format == "sdf":
        return _sdf_chunks(path, chunksize)
    raise MolvaeError(
        f"unknown molecule file format {file_format!r}; expected csv, tsv, smi or sdf"
    )


# --------------------------------------------------------------------------------------------
# Public readers
# --------------------------------------------------------------------------------------------


def iter_molecule_chunks(
    path: str | os.PathLike[str],
    *,
    chunksize: int = DEFAULT_CHUNKSIZE,
    smiles_column: str | None = None,
    standardize: bool = False,
    canonicalize: bool = True,
    file_format: str | None = None,
    workers: int | None = None,
) -> Iterator[MoleculeTable]:
    """Stream a molecule file as :class:`MoleculeTable` chunks of at most ``chunksize`` rows.

    Row numbers are global across chunks, so concatenating the chunks gives exactly the table
    :func:`read_molecules` returns. Memory stays flat however large the file is. ``file_format``
    overrides detection by extension; ``workers`` is explained in :func:`read_molecules`.
    """
    path = Path(path)
    if chunksize < 1:
        raise MolvaeError(f"chunksize must be at least 1, got {chunksize}")
    fmt = file_format.lower() if file_format else detect_format(path)
    if not path.is_file():
        raise file_not_found(path)
    next_row = 1
    checker = _SmilesChecker(standardize, canonicalize, workers)
    try:
        for smiles, extras, preset in _raw_chunks(path, fmt, smiles_column, chunksize):
            table = _build_table(smiles, extras, next_row, checker, path, preset)
            next_row += len(smiles)
            yield table
    except (pd.errors.ParserError, pd.errors.ParserWarning, UnicodeDecodeError, OSError,
            EOFError, zlib.error) as exc:
        raise cannot_read(path, _read_error(exc, next_row)) from None


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_error(exc: BaseException, next_row: int) -> str:
    """What went wrong reading a file, in one short line (the reason of ``cannot_read``)."""
    text = " ".join(str(exc).split())
    fields = _FIELDS.search(text)
    if fields:
        expected, line, seen = fields.groups()
        return (f"line {line} has {seen} fields, the header {expected} (quote a field that "
                "holds the delimiter)")
    if isinstance(exc, pd.errors.ParserWarning):
        return ("a data row has more fields than the header (quote a field that holds the "
                "delimiter)")
    if isinstance(exc, UnicodeDecodeError):
        return (f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} near data row {next_row}); "
                "save the file as UTF-8")
    if isinstance(exc, EOFError | zlib.error | gzip.BadGzipFile):
        return f"the gzip stream is truncated or corrupt near data row {next_row} ({text[:200]})"
    return f"near data row {next_row}: {text[:300]}"


def read_molecules(
    path: str | os.PathLike[str],
    *,
    smiles_column: str | None = None,
    standardize: bool = False,
    canonicalize: bool = True,
    file_format: str | None = None,
    workers: int | None = None,
) -> MoleculeTable:
    """Read a whole molecule file into one :class:`MoleculeTable`.

    ``smiles_column`` names the SMILES column of a CSV/TSV (auto-detected otherwise).
    ``standardize`` keeps the largest organic fragment and neutralizes charges (salts would
    otherwise teach the model counter-ions); ``canonicalize`` writes RDKit canonical SMILES so
    the same molecule always has the same string. ``workers=None`` checks large files (over
    ``PARALLEL_MIN_ROWS`` rows per chunk) in 2 worker processes and small ones in-process;
    ``workers=1`` never starts workers, ``workers=N`` always uses N.
    """
    chunks = iter_molecule_chunks(
        path,
        smiles_column=smiles_column,
        standardize=standardize,
        canonicalize=canonicalize,
        file_format=file_format,
        workers=workers,
    )
    # The source is set here too, for files with no data rows (no chunk to carry it).
    return dataclasses.replace(MoleculeTable.concat(chunks), source=Path(path))


def write_image(image: bytes | str, path: str | Path) -> Path:
    """Write a drawing from this module (PNG bytes or SVG text), creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(image, str):
        path.write_text(image, encoding="utf-8")
    else:
        path.write_bytes(image)
    return path


def read_latents(path: Path, dim: int) -> np.ndarray:
    """The first ``dim`` latent columns of a file ``molvae encode`` wrote (.csv/.tsv/.parquet/.npy).

    A ``.npy`` file is read with ``allow_pickle=False``: loading it never runs code.
    """
    if not path.exists():
        raise file_not_found(path)
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise MolvaeError(f"{path}: not a numeric .npy array ({exc})") from None
    else:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if ".tsv" in path.name else ",")
        cols = [f"z{i}" for i in range(dim)]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise no_column(missing[0], frame.columns, path,
                            f"a latents file from `molvae encode` has columns z0..z{dim - 1}")
        arr = frame[cols].to_numpy(dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] < dim:
        raise MolvaeError(f"{path}: expected an array of shape (n, {dim}), got {arr.shape}")
    return arr[:, :dim].astype(np.float32)

def read_generated(path: Path, smiles_column: str | None) -> list[str]:
    """Every row's string as generated, in file order, invalid and empty ones included (they
    count against validity), from any molecule file :func:`read_molecules` reads.

    A string longer than ``MAX_SMILES_CHARS`` is returned empty (invalid): parsing it could
    take RDKit minutes.
    """
    if not path.exists():
        raise file_not_found(path)
    table = read_molecules(path, smiles_column=smiles_column, canonicalize=False)
    rejects = table.rejects.loc[:, ["row", "smiles"]].copy()
    too_long = (reason_kinds(table.rejects["reason"]) == REASON_TOO_LONG).to_numpy()
    rejects.loc[too_long, "smiles"] = ""
    rows = pd.concat([table.records[["row", "smiles"]], rejects], ignore_index=True)
    return rows.sort_values("row", kind="stable")["smiles"].fillna("").astype(str).tolist()
