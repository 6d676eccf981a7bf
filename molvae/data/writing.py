"""Writing result tables: by extension (.csv, .tsv, optionally .gz, .parquet, .npy), atomically
(a temporary name renamed on success, so a failed run leaves no half-written file), chunk by
chunk with bounded memory, and with every input row accounted for beside the file's rejects.

Replacing an existing file is never silent: :func:`note_replaced` logs one INFO record on the
``molvae.outputs`` logger (``replaced generated.csv (it existed)``), which the command line
prints, so a user never mistakes an earlier run's file for this run's or loses one unawares.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from molvae.errors import MolvaeError

PARQUET_HINT = "writing .parquet needs pyarrow: pip install 'molvae[parquet]', or write a .csv"

OUTPUT_LOG = logging.getLogger("molvae.outputs")


def replaced_message(path: str | Path) -> str:
    """The one wording of an output that replaced an existing file."""
    return f"replaced {path} (it existed)"


def note_replaced(path: str | Path) -> None:
    """Record that ``path`` was just written over an existing file (see the module docstring)."""
    OUTPUT_LOG.info(replaced_message(path), extra={"molvae_path": str(path)})


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a whole DataFrame by extension: .csv, .tsv (optionally .gz), .parquet, .npy.

    The file appears only once complete (see :class:`TableWriter`).
    """
    with TableWriter(Path(path)) as writer:
        writer.write(frame)
    return Path(path)


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
        existed = self.path.exists()
        self.tmp.replace(self.path)
        if existed:
            note_replaced(self.path)
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
