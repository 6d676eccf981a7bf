"""``molvae reconstruct``: whether each molecule comes back from its encoding (canonical SMILES compared)."""

from __future__ import annotations

from pathlib import Path

import typer

from molvae.data.writing import merge_with_rejects, write_table
from molvae.settings import BEAM_PICKS, FaithfulSettings

from ._bounds import MAX_BEAM, REFINE_STEPS, whole
from ._common import (
    MODEL_HELP,
    STRICT_HELP,
    check_choice,
    check_output,
    console,
    err_console,
    flattened_note,
    load_model,
    report_status,
)
from ._config import config_option

FAITHFUL = FaithfulSettings()
# Up to this many inputs, each one's result is also printed.
SHOW_ROWS = 20


def reconstruct(
    data: Path = typer.Argument(..., help="Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    out: Path | None = typer.Option(None, "--out", "-o", help="Per-molecule results CSV."),
    image: Path | None = typer.Option(None, "--image", help="Draw inputs beside their reconstructions (.png or .svg)."),
    image_rows: int = typer.Option(24, "--image-rows", **whole(1, 1000), help="Input/reconstruction pairs drawn in --image."),
    refine_steps: int = typer.Option(FAITHFUL.refine_steps, "--refine-steps", **REFINE_STEPS, help="Refine each encoding that does not decode back to its molecule, up to N steps (molvae.refine_latents); 0: decode the encoder's mu as it is (amortized reconstruction)."),
    beam_width: int = typer.Option(0, "--beam-width", **whole(0, MAX_BEAM), help="Beam decoding with this many strings (of every mu with --refine-steps 0, else of the encodings still not decoding back); 0: greedy only."),
    beam_pick: str = typer.Option("nearest", "--beam-pick", help="Which string of the beam (canonical form only): nearest (its own encoding nearest to z; one encoder pass per string) or likeliest (highest p(x|z))."),
    strict: bool = typer.Option(FAITHFUL.strict, "--strict", help=STRICT_HELP),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Whether each molecule comes back from its encoding (canonical SMILES compared).

    By default the encoder's mu is decoded and, where it does not give the molecule back,
    refined up to --refine-steps steps: the rate says for how many molecules the model has an
    encoding that decodes back. --refine-steps 0 measures the encoder alone. A molecule the
    model cannot write as given is compared in its flattened form (column compared_with).
    """
    from molvae.data.tables import read_molecules

    if image is not None:
        check_output(image, (".png", ".svg"), "--image")
    check_choice(beam_pick, BEAM_PICKS, "--beam-pick")
    vae = load_model(model, device)
    table = read_molecules(data, smiles_column=smiles_column)
    from molvae.generation.refine import reconstruct as reconstruct_molecules

    rec = reconstruct_molecules(
        vae, table.records["smiles"].tolist(), refine_steps=refine_steps, beam_width=beam_width,
        beam_pick=beam_pick, strict=strict,
    )
    frame = merge_with_rejects(table.records, rec, table.rejects)
    frame["match"] = frame["match"].fillna(False).astype(bool)
    ok = frame["status"] == "ok"
    n_ok = int(ok.sum())
    n_match = int(frame["match"].sum())
    rate = float(frame.loc[ok, "match"].mean()) if n_ok else float("nan")
    if out is not None:
        write_table(frame, out)
    if len(frame) <= SHOW_ROWS:
        _print_rows(frame)
    report_status(frame)
    how = f"mu refined where needed, up to {refine_steps} steps" if refine_steps else "mu"
    beam = f" (beam of {beam_width}, {beam_pick})" if beam_width else ""
    n_flat = int((frame["compared_with"] == "flattened form").sum())
    console.print(
        f"exact-match reconstruction from {how}{beam}: {rate:.4f} ({n_match:,} of {n_ok:,} "
        f"encodable molecules{flattened_note(n_flat, 'compared')})",
        highlight=False,
        soft_wrap=True,
    )
    if n_match < n_ok:
        err_console.print(
            f"{n_ok - n_match:,} of {n_ok:,} encodable molecules not reproduced (match False"
            + (" in " + str(out) if out is not None else "") + ")"
            + ("; more --refine-steps may bring some back" if refine_steps == 0 else ""),
            highlight=False,
            soft_wrap=True,
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


def _print_rows(frame) -> None:
    """One line per input: the molecule, what came back, and whether it is the molecule."""
    from rich.table import Table

    table = Table()
    for name in ("row", "input (canonical)", "reconstructed", "match"):
        table.add_column(name, justify="right" if name == "row" else "left")
    for rec in frame.to_dict("records"):
        if rec["status"] != "ok":
            table.add_row(str(rec["row"]), str(rec["smiles"]), f"({rec['status']})", "-")
            continue
        shown = rec["canonical"]
        if rec["compared_with"] == "flattened form":
            shown = f"{rec['canonical']} (compared flattened: {rec['encoded_as']})"
        table.add_row(str(rec["row"]), shown, str(rec["reconstructed"]),
                      "yes" if rec["match"] else "no (not reproduced)")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("reconstruct")(reconstruct)
