"""``molvae encode``: encode molecules to their latent means (mu); every input row is in the output."""

from __future__ import annotations

from pathlib import Path

import typer

from ._bounds import MAX_ENCODE_BATCH, whole
from ._common import (
    MODEL_HELP,
    STRICT_HELP,
    console,
    err_console,
    flattened_note,
    load_model,
    progress_bar,
    report_reasons,
)
from ._config import config_option


def encode(
    data: Path = typer.Argument(..., help="Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."),
    out: Path = typer.Option(..., "--out", "-o", help="latents .csv, .tsv, .parquet or .npy"),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    sigma: bool = typer.Option(False, "--sigma", help="Also write the posterior sigma."),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    batch_size: int = typer.Option(1024, "--batch-size", **whole(1, MAX_ENCODE_BATCH), help="Molecules per encoder batch."),
    chunk_size: int = typer.Option(100_000, "--chunk-size", **whole(1, 1_000_000), help="Input rows read, encoded and written at a time (bounds memory for large files)."),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Encode molecules to their latent means (mu); every input row is in the output.

    The file is streamed: each chunk of rows is read, encoded and appended to the output, so
    memory stays flat however many molecules the file holds.
    """
    from molvae.generation.files import encode_file

    vae = load_model(model, device)
    bar, advance = progress_bar(None, "encoding")
    with bar:
        result = encode_file(vae, data, out, sigma=sigma, smiles_column=smiles_column,
                             batch_size=batch_size, chunk_size=chunk_size, on_progress=advance,
                             strict=strict)
    if result.rows_file is not None:
        err_console.print(f"row index and status written to {result.rows_file}", highlight=False)
    report_reasons(result.failures, result.n_rows)
    console.print(
        f"{result.n_ok:,} molecules encoded to {out}{flattened_note(result.n_flattened)}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("encode")(encode)
