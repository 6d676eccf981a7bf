"""``molvae fit-property``: fit a latent predictor for a new property on a frozen model (VAE weights unchanged)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from molvae.errors import MolvaeError

from ._bounds import SEED, real, whole
from ._common import MODEL_HELP, console, err_console, load_model
from ._config import config_option


def fit_property(
    data: Path = typer.Argument(..., help="Labelled molecules (CSV/TSV/SDF with a value column)."),
    column: str = typer.Option(..., "--column", help="Value column, or an RDKit property name."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the extended model."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    name: str | None = typer.Option(None, "--name", help="Property name (default: the column)."),
    test_fraction: float = typer.Option(0.2, "--test-fraction", **real(0.01, 0.9), help="Held-out share."),
    epochs: int = typer.Option(400, "--epochs", **whole(1, 100_000), help="Training epochs of the predictor."),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    seed: int = typer.Option(0, "--seed", **SEED, help="Random seed of the held-out split and training."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Fit a latent predictor for a new property on a frozen model (VAE weights unchanged)."""
    from molvae.data.tables import read_molecules
    from molvae.models.store import save_model_dir
    from molvae.training.heads import fit_property as run_fit
    from molvae.training.verdicts import model_verdict, property_verdict

    vae = load_model(model, device)
    table = read_molecules(data, smiles_column=smiles_column)
    records = table.records
    if column in records.columns:
        values = pd.to_numeric(records[column], errors="coerce").to_numpy()
    else:
        from molvae import chem

        try:
            chem.get_property(column)
        except KeyError:
            raise MolvaeError(
                f"{data}: no column {column!r} (columns: {', '.join(map(str, records.columns))}) "
                "and it is not an RDKit property"
            ) from None
        values = None
    result = run_fit(vae, records["smiles"].tolist(), values, name or column,
                     test_fraction=test_fraction, epochs=epochs, seed=seed)
    save_model_dir(result.vae.model, result.vae.bundle, out)
    skipped = len(table.rejects) + len(result.rejects) + result.n_missing
    if skipped:
        err_console.print(
            f"{skipped} of {table.n_rows} rows not used: {len(table.rejects)} unreadable, "
            f"{len(result.rejects)} not encodable, {result.n_missing} without a numeric value",
            highlight=False,
        )
    m = result.metrics
    console.print(
        f"{name or column}: held-out R^2 {m['r2']:.3f}, MAE {m['mae']:.3f} "
        f"({result.n_train} train / {result.n_test} test molecules); model written to {out}",
        highlight=False,
    )
    for verdict in (model_verdict(vae.bundle.metrics), property_verdict(name or column, m["r2"])):
        if not verdict.usable:
            err_console.print(verdict.line(), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("fit-property")(fit_property)
