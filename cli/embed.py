"""``molvae embed``: mu as feature columns z0..z{d-1}, with row id and canonical SMILES, for scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer

from molvae.data.writing import merge_with_rejects, write_table

from ._common import (
    DATA_HELP,
    MODEL_HELP,
    STRICT_HELP,
    check_output,
    console,
    err_console,
    flattened_note,
    load_model,
    report_status,
    sidecar,
)
from ._config import config_option


def embed_command(
    data: Path = typer.Argument(..., help=DATA_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Features: .parquet, .csv, .tsv or .npy."),
    rejects: Path | None = typer.Option(None, "--rejects", help="Rows not embedded, with reasons (default: OUT's name + .rejects.csv, when any)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """mu as feature columns z0..z{d-1}, with row id and canonical SMILES, for scikit-learn.

    Only embedded molecules are in the features (no NaN rows); every other input row is in
    the rejects file with its reason.
    """
    from molvae.data.tables import read_molecules

    suffix = check_output(out, (".parquet", ".csv", ".tsv", ".npy", ".csv.gz"))
    vae = load_model(model, device)
    table = read_molecules(data, smiles_column=smiles_column)
    enc = vae.encode(table.records["smiles"].tolist(), strict=strict)
    frame = merge_with_rejects(table.records, enc, table.rejects)
    ok = (frame["status"] == "ok").to_numpy()
    z_cols = [f"z{i}" for i in range(vae.latent_dim)]
    features = frame.loc[ok, ["row", "canonical", "encoded_as", *z_cols]].reset_index(drop=True)
    features[z_cols] = features[z_cols].astype(np.float32)
    bad = frame.loc[~ok, ["row", "smiles", "status"]].rename(columns={"status": "reason"})
    if suffix == ".npy":
        write_table(features[z_cols], out)
        index = sidecar(out, ".rows.csv")
        write_table(features[["row", "canonical", "encoded_as"]], index)
        err_console.print(f"row ids and SMILES of the array rows written to {index}",
                          highlight=False)
    else:
        write_table(features, out)
    if len(bad) or rejects is not None:
        rejects = rejects or sidecar(out, ".rejects.csv")
        write_table(bad, rejects)
        report_status(frame, "embedded")
        err_console.print(f"rejected rows and reasons written to {rejects}", highlight=False)
    n_flat = int((features["encoded_as"] != features["canonical"]).sum())
    console.print(
        f"{len(features):,} of {len(frame):,} rows embedded ({vae.latent_dim} features)"
        f"{flattened_note(n_flat, 'embedded')}; written to {out}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("embed")(embed_command)
