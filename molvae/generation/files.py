"""Encoding molecule files of any size: read, encode and write chunk by chunk, memory flat."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from molvae.data.tables import iter_molecule_chunks
from molvae.data.writing import TableWriter, merge_with_rejects
from molvae.generation.model import MolVAE


@dataclass
class EncodedFile:
    """What :func:`encode_file` wrote: every input row, ``ok`` or with the reason it failed."""

    out: Path
    rows_file: Path | None  # row index and status beside a .npy output (which holds numbers only)
    n_rows: int
    failures: pd.Series  # the status of each row that could not be encoded
    n_flattened: int = 0  # rows encoded in their flattened form (column encoded_as)

    @property
    def n_ok(self) -> int:
        """Rows encoded."""
        return self.n_rows - len(self.failures)


def encode_file(
    vae: MolVAE,
    data: str | Path,
    out: str | Path,
    *,
    sigma: bool = False,
    smiles_column: str | None = None,
    batch_size: int = 1024,
    chunk_size: int = 100_000,
    on_progress: Callable[[int], None] | None = None,
    strict: bool = False,
) -> EncodedFile:
    """Write mu (and with ``sigma`` the posterior sigma) of every row of a molecule file.

    Each chunk of ``chunk_size`` rows is read, encoded and appended to ``out`` (.csv, .tsv,
    .parquet or .npy), so memory stays flat however many molecules the file holds. Every input
    row is in the output, in order, with ``status`` ``ok`` or the reason it was not encoded; a
    ``.npy`` output gets that table in ``<out>.rows.csv`` beside it. The output appears only once
    complete. ``encoded_as`` is the SMILES encoded: the canonical SMILES, or the flattened form
    of a molecule the model cannot write as given (:meth:`MolVAE.encode`); with ``strict``
    such molecules are rejected instead.
    """
    out = Path(out)
    npy = out.name.lower().endswith(".npy")
    rows_file = out.with_suffix(".rows.csv") if npy else None
    n_rows = 0
    failed: list[pd.Series] = []
    n_flattened = 0
    with contextlib.ExitStack() as stack:
        latents = stack.enter_context(TableWriter(out))
        rows = stack.enter_context(TableWriter(rows_file)) if rows_file else None
        for table in iter_molecule_chunks(data, chunksize=chunk_size, smiles_column=smiles_column):
            enc = vae.encode(
                table.records["smiles"].tolist(),
                return_sigma=sigma,
                batch_size=batch_size,
                on_progress=on_progress,
                strict=strict,
            )
            if on_progress:
                on_progress(len(table.rejects))
            frame = merge_with_rejects(table.records, enc, table.rejects)
            if rows is not None:
                numbers = [
                    c for c in frame.columns if c.startswith(("z", "sigma")) and c[-1].isdigit()
                ]
                latents.write(frame[numbers])
                rows.write(frame[["row", "smiles", "canonical", "encoded_as", "status"]])
            else:
                latents.write(frame)
            n_rows += len(frame)
            failed.append(frame.loc[frame["status"] != "ok", "status"])
            n_flattened += int(
                (frame["encoded_as"].notna() & (frame["encoded_as"] != frame["canonical"])).sum()
            )
    failures = pd.concat(failed) if failed else pd.Series(dtype=object)
    return EncodedFile(out, rows_file, n_rows, failures, n_flattened)
