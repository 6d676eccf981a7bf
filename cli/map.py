"""``molvae map``: 2-D map of the latent space (mu), coloured by a property; hover to see structures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from molvae.data.writing import write_table

from ._bounds import SEED, whole
from ._common import (
    DATA_HELP,
    MODEL_HELP,
    STRICT_HELP,
    check_choice,
    check_output,
    console,
    err_console,
    flattened_note,
    load_model,
    report_reasons,
)
from ._config import config_option


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def _summarize_rejects(rejects: pd.DataFrame, n_rows: int, what: str, path: Path | None) -> None:
    if len(rejects):
        report_reasons(rejects["reason"], n_rows, what)
    if path is not None:
        write_table(rejects[["row", "smiles", "reason"]], path)
        err_console.print(f"rejected rows and reasons written to {path}", highlight=False)


def map_command(
    data: Path = typer.Argument(..., help=DATA_HELP),
    out: Path = typer.Option(Path("map.html"), "--out", "-o", help="Interactive .html page or static .png."),
    color: str = typer.Option("logP", "--color", "-c", help="RDKit property (logP, QED, SA, MW, TPSA, ...) or a numeric column of DATA; 'none' for no colour."),
    method: str = typer.Option("pca", "--method", help="Projection: pca, tsne or umap (umap needs the umap-learn package)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    max_points: int = typer.Option(10_000, "--max-points", **whole(2, 100_000), help="Plot a random subset of this many molecules at most."),
    max_structures: int = typer.Option(2000, "--max-structures", **whole(0, 20_000), help="Embed structure drawings for at most this many points (HTML)."),
    rejects: Path | None = typer.Option(None, "--rejects", help="Write rows that could not be mapped, with reasons (CSV)."),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    seed: int = typer.Option(0, "--seed", **SEED, help="Seed of subsampling and of t-SNE/UMAP."),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """2-D map of the latent space (mu), coloured by a property; hover to see structures."""
    from molvae.data.tables import read_molecules
    from molvae.latent.maps import PROJECTIONS, check_projection, latent_map

    suffix = check_output(out, (".html", ".htm", ".png"))
    check_choice(method.lower(), PROJECTIONS, "--method")
    check_projection(method)  # e.g. umap not installed: one line, before the slow part
    vae = load_model(model, device)
    table = read_molecules(data, smiles_column=smiles_column)
    colour = None if color.strip().lower() in ("", "none") else color
    lmap = latent_map(vae, table.records, color=colour, method=method, max_points=max_points,
                      seed=seed, strict=strict)
    all_rejects = pd.concat([table.rejects, lmap.rejects], ignore_index=True)
    all_rejects = all_rejects.sort_values("row", kind="stable").reset_index(drop=True)
    _summarize_rejects(all_rejects, table.n_rows, "mapped", rejects)
    if lmap.note:
        err_console.print(lmap.note, highlight=False)
    if suffix == ".png":
        from molvae.reporting.figures import latent_map_png

        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(latent_map_png(lmap, title=f"{data.name}: {lmap.label} of mu"))
    else:
        from molvae.reporting.report import map_page

        if len(lmap.smiles) > max_structures:
            err_console.print(
                f"structures embedded for {max_structures:,} of {len(lmap.smiles):,} points "
                "(--max-structures)",
                highlight=False,
            )
        page = map_page(lmap, title=f"molvae latent map: {data.name}",
                        subtitle=f"Model {vae.path}.", max_structures=max_structures, seed=seed)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    coloured = f", coloured by {lmap.color_name}" if lmap.color_name else ""
    console.print(
        f"{len(lmap.smiles):,} molecules mapped ({lmap.label}){coloured}"
        f"{flattened_note(lmap.n_flattened, 'mapped')}; written to {out} "
        f"({_size(out)})",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("map")(map_command)
