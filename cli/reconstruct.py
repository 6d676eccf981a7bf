"""``molvae reconstruct``: exact-match reconstruction rate (decoding of mu, canonical SMILES compared)."""

from __future__ import annotations

from pathlib import Path

import typer

from molvae.data.writing import merge_with_rejects, write_table
from molvae.settings import BEAM_PICKS

from ._common import (
    MODEL_HELP,
    check_choice,
    check_output,
    console,
    load_model,
    report_status,
)
from ._config import config_option


def reconstruct(
    data: Path = typer.Argument(..., help="Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    out: Path | None = typer.Option(None, "--out", "-o", help="Per-molecule results CSV."),
    image: Path | None = typer.Option(None, "--image", help="Draw inputs beside their reconstructions (.png or .svg)."),
    image_rows: int = typer.Option(24, "--image-rows", help="Input/reconstruction pairs drawn in --image."),
    refine_steps: int = typer.Option(0, "--refine-steps", min=0, help="Refine each z for N steps so it decodes back (molvae.refine_latents); 0: decode mu."),
    beam_width: int = typer.Option(0, "--beam-width", min=0, help="Beam decoding of mu with this many strings; 0: greedy."),
    beam_pick: str = typer.Option("nearest", "--beam-pick", help="Which string of the beam (canonical form only): nearest (its own encoding nearest to mu; amortized, one encoder pass per string) or likeliest (highest p(x|z))."),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    device: str = typer.Option("auto", "--device"),
    config: Path | None = config_option(),
) -> None:
    """Exact-match reconstruction rate (decoding of mu, canonical SMILES compared)."""
    from molvae.data.tables import read_molecules

    if image is not None:
        check_output(image, (".png", ".svg"), "--image")
        if image_rows < 1:
            raise typer.BadParameter("must be at least 1", param_hint="--image-rows")
    check_choice(beam_pick, BEAM_PICKS, "--beam-pick")
    vae = load_model(model, device)
    table = read_molecules(data, smiles_column=smiles_column)
    from molvae.generation.refine import reconstruct as reconstruct_molecules

    rec = reconstruct_molecules(
        vae, table.records["smiles"].tolist(), refine_steps=refine_steps, beam_width=beam_width,
        beam_pick=beam_pick,
    )
    frame = merge_with_rejects(table.records, rec, table.rejects)
    frame["match"] = frame["match"].fillna(False).astype(bool)
    ok = frame["status"] == "ok"
    n_ok = int(ok.sum())
    rate = float(frame.loc[ok, "match"].mean()) if n_ok else float("nan")
    if out is not None:
        write_table(frame, out)
    report_status(frame)
    console.print(
        f"exact-match reconstruction{f' (z refined {refine_steps} steps)' if refine_steps else ''}"
        f"{f' (beam of {beam_width}, {beam_pick})' if beam_width else ''}"
        f": {rate:.4f} ({int(frame['match'].sum()):,} of "
        f"{n_ok:,} encodable molecules)",
        highlight=False,
    )
    if image is not None:
        from molvae.data.tables import write_image
        from molvae.reporting.figures import reconstruction_grid

        svg = image.suffix.lower() == ".svg"
        write_image(reconstruction_grid(frame, n=image_rows, svg=svg), image)
        console.print(
            f"{min(image_rows, n_ok):,} of {n_ok:,} input/reconstruction pairs drawn in {image}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.command("reconstruct")(reconstruct)
