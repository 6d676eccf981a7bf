"""``molvae interpolate``: decode molecules along the latent path between two encodings (greedy)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from molvae.data.writing import write_table

from ._common import (
    MODEL_HELP,
    check_choice,
    check_output,
    console,
    load_model,
    sidecar,
)
from ._config import config_option


def interpolate_command(
    smiles_a: str = typer.Argument(..., help="SMILES of the start molecule (A)."),
    smiles_b: str = typer.Argument(..., help="SMILES of the end molecule (B)."),
    steps: int = typer.Option(10, "--steps", help="Points on the path, both ends included."),
    method: str = typer.Option("slerp", "--method", help="slerp (spherical, keeps a typical norm) or linear."),
    out: Path | None = typer.Option(None, "--out", "-o", help=".png/.svg grid (a .csv beside it) or .csv only."),
    property_name: str = typer.Option("QED", "--property", help="RDKit property shown per step."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    device: str = typer.Option("auto", "--device"),
    config: Path | None = config_option(),
) -> None:
    """Decode molecules along the latent path between two encodings (greedy)."""
    from molvae.latent.paths import INTERPOLATIONS, interpolate

    check_choice(method, INTERPOLATIONS, "--method")
    if steps < 2:
        raise typer.BadParameter("must be at least 2", param_hint="--steps")
    suffix = check_output(out, (".png", ".svg", ".csv", ".tsv")) if out is not None else None
    vae = load_model(model, device)
    frame = interpolate(vae, smiles_a, smiles_b, steps=steps, method=method,
                        property_name=property_name)
    prop = frame.columns[-1]
    table = Table(title=f"{method} path, {steps} steps")
    for name in ("step", "t", "|z|", "SMILES", "sim A", "sim B", prop):
        table.add_column(name, justify="left" if name == "SMILES" else "right")
    for rec in frame.to_dict("records"):
        table.add_row(
            str(rec["step"]), f"{rec['t']:.2f}", f"{rec['z_norm']:.2f}",
            rec["smiles"] if rec["valid"] else f"(invalid) {rec['smiles']}",
            *(f"{rec[k]:.2f}" if pd.notna(rec[k]) else "-" for k in ("sim_a", "sim_b", prop)),
        )
    console.print(table)
    written = []
    if suffix in (".png", ".svg"):
        from molvae.data.tables import write_image
        from molvae.reporting.figures import interpolation_grid

        write_image(interpolation_grid(frame, prop, svg=suffix == ".svg"), out)
        written.append(str(out))
        out = sidecar(out, ".csv")
    if out is not None:
        write_table(frame, out)
        written.append(str(out))
    valid = int(frame["valid"].sum())
    console.print(
        f"{valid} of {steps} steps valid, {frame.loc[frame['valid'], 'smiles'].nunique()} unique"
        + (f"; written to {', '.join(written)}" if written else ""),
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("interpolate")(interpolate_command)
