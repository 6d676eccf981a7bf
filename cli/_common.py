"""Shared pieces of the CLI: consoles, model loading and writing result tables."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from molvae.errors import MolvaeError

__all__ = [
    "check_choice",
    "check_output",
    "console",
    "err_console",
    "load_model",
    "merge_with_rejects",
    "parse_csv_list",
    "report_reasons",
    "report_status",
    "write_table",
]

# Markup off: SMILES and file names are data, and rich would take "[nH]" or "[o+]" in them for a
# style tag and drop it from the printed string. Styles are given as ``Text`` where wanted.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

MODEL_HELP = "Model directory, training run directory, or bundled model name (default: 'default')."
PARQUET_HINT = "writing .parquet needs pyarrow: pip install 'molvae[parquet]', or write a .csv"


def load_model(model: str | None, device: str = "auto"):
    """Load a ``MolVAE`` (bundled default when ``model`` is None) with a status line on stderr."""
    from molvae.generation.model import MolVAE

    vae = MolVAE.load(model, device=device)
    err_console.print(f"model: {vae.path} ({vae.device.type})", highlight=False)
    return vae


def parse_csv_list(values: list[str] | None) -> list[str]:
    """Flatten repeated and comma-separated option values: ``-p logP,QED -p SA``."""
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write a DataFrame by extension: .csv, .tsv, .parquet (needs pyarrow), .csv.gz."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        frame.to_csv(path, index=False)
    elif name.endswith((".tsv", ".tsv.gz")):
        frame.to_csv(path, index=False, sep="\t")
    elif name.endswith(".parquet"):
        try:
            frame.to_parquet(path, index=False)
        except ImportError:
            raise MolvaeError(PARQUET_HINT) from None
    elif name.endswith(".npy"):
        np.save(path, frame.to_numpy(dtype=np.float32))
    else:
        raise MolvaeError(f"{path}: unsupported output extension (use .csv, .tsv or .parquet)")
    return path


def check_choice(value: str, choices: Iterable[str], option: str) -> None:
    """A usage error (exit 2) naming the choices when ``value`` is not one of them."""
    import typer

    choices = tuple(choices)
    if value not in choices:
        raise typer.BadParameter(f"must be one of {', '.join(choices)}", param_hint=option)


def check_output(path: Path, suffixes: tuple[str, ...], option: str = "--out") -> str:
    """Fail fast, before any slow work, on an output name we cannot write; returns its suffix.

    An unknown extension is a usage error (exit 2); ``.parquet`` without pyarrow is a one-line
    error suggesting the extra or a CSV.
    """
    import typer

    name = path.name.lower()
    suffix = next((s for s in suffixes if name.endswith(s)), None)
    if suffix is None:
        raise typer.BadParameter(f"must end in {', '.join(suffixes)}", param_hint=option)
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise MolvaeError(PARQUET_HINT) from None
    return suffix


def merge_with_rejects(
    records: pd.DataFrame, result: pd.DataFrame, rejects: pd.DataFrame
) -> pd.DataFrame:
    """Every input row once: per-molecule results beside file-level rejects, in input order.

    ``result`` has one row per ``records`` row (with a ``status`` column); file-level rejects
    (unparsable SMILES, empty cells) join with their reason as ``status``.
    """
    result = result.copy()
    result.insert(0, "row", records["row"].to_numpy())
    bad = pd.DataFrame(
        {"row": rejects["row"], "smiles": rejects["smiles"], "status": rejects["reason"]}
    )
    merged = pd.concat([result, bad], ignore_index=True) if len(bad) else result
    return merged.sort_values("row", kind="stable").reset_index(drop=True)


def report_reasons(reasons: pd.Series, n_rows: int, what: str = "encoded") -> None:
    """One stderr line: ``3 of 13 rows not encoded (invalid SMILES: 2, empty: 1)``."""
    if not len(reasons):
        return
    from molvae.data.tables import reason_kinds

    counts = reason_kinds(reasons).value_counts()
    detail = ", ".join(f"{k.strip()}: {v}" for k, v in counts.items())
    err_console.print(f"{len(reasons):,} of {n_rows:,} rows not {what} ({detail})", highlight=False)


def report_status(frame: pd.DataFrame, what: str = "encoded") -> None:
    """:func:`report_reasons` for the rows of ``frame`` whose ``status`` is not ``ok``."""
    report_reasons(frame.loc[frame["status"] != "ok", "status"], len(frame), what)


def progress_bar(total: int | None = None, description: str = ""):
    """A transient stderr progress display: bar (pulsing if the total is unknown), count, time.

    Returns ``(progress, advance)``: use ``progress`` as a context manager and pass
    ``advance(n)`` as an ``on_progress`` callback.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task = progress.add_task(description, total=total)
    return progress, lambda n: progress.advance(task, n)


class TableWriter:
    """Writes a table chunk by chunk with bounded memory; the format follows the extension.

    CSV/TSV (optionally .gz) chunks are appended under one header; ``.npy`` rows (float32) are
    spooled to a scratch file and assembled into one array at the end; ``.parquet`` goes
    through pyarrow's ``ParquetWriter``. Everything is written under a temporary name and
    renamed on success, so a failed command leaves no half-written file.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        name = self.path.name.lower()
        if not name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".npy")):
            raise MolvaeError(f"{path}: unsupported output extension (use .csv, .tsv or .parquet)")
        self.kind = (
            "npy" if name.endswith(".npy") else "parquet" if name.endswith(".parquet") else "text"
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.partial")
        self.rows = 0
        self._columns: int | None = None
        self._spool = None
        self._parquet = None
        self._schema = None

    def write(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` (same columns every time)."""
        if self.kind == "text":
            name = self.path.name.lower()
            frame.to_csv(
                self.tmp,
                mode="w" if self.rows == 0 else "a",
                header=self.rows == 0,
                index=False,
                sep="\t" if ".tsv" in name else ",",
                compression="gzip" if name.endswith(".gz") else None,
            )
        elif self.kind == "npy":
            values = frame.to_numpy(dtype=np.float32)
            if self._spool is None:
                self._spool = open(self.tmp.with_suffix(".f32"), "wb")  # noqa: SIM115
                self._columns = values.shape[1]
            self._spool.write(np.ascontiguousarray(values).tobytes())
        else:
            self._write_parquet(frame)
        self.rows += len(frame)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise MolvaeError(PARQUET_HINT) from None
        if self._schema is None:
            schema = pa.Schema.from_pandas(frame, preserve_index=False)
            # A column that is all missing in the first chunk may hold text later on.
            self._schema = pa.schema(
                [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema]
            )
            self._parquet = pq.ParquetWriter(self.tmp, self._schema)
        table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
        self._parquet.write_table(table)

    def close(self) -> Path:
        """Finish the file and move it into place."""
        if self.kind == "npy":
            self._finish_npy()
        elif self.kind == "parquet" and self._parquet is not None:
            self._parquet.close()
        elif self.rows == 0 and not self.tmp.exists():
            pd.DataFrame().to_csv(self.tmp, index=False)
        self.tmp.replace(self.path)
        return self.path

    def _finish_npy(self) -> None:
        spool_path = self.tmp.with_suffix(".f32")
        columns = self._columns or 0
        if self._spool is not None:
            self._spool.close()
        out = np.lib.format.open_memmap(
            self.tmp, mode="w+", dtype=np.float32, shape=(self.rows, columns)
        )
        if self.rows and columns:
            spool = np.memmap(spool_path, dtype=np.float32, mode="r", shape=(self.rows, columns))
            for start in range(0, self.rows, 100_000):
                out[start : start + 100_000] = spool[start : start + 100_000]
            del spool
        out.flush()
        del out
        spool_path.unlink(missing_ok=True)

    def abort(self) -> None:
        """Remove everything written so far."""
        if self._spool is not None:
            self._spool.close()
        if self._parquet is not None:
            self._parquet.close()
        self.tmp.unlink(missing_ok=True)
        self.tmp.with_suffix(".f32").unlink(missing_ok=True)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
