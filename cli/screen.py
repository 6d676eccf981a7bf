"""``molvae screen``: filter, score and rank candidate molecules into a shortlist."""

from __future__ import annotations

from pathlib import Path

import typer

from molvae.data.writing import write_table

from ._common import console, declare_output, err_console, parse_csv_list, sidecar


def screen(
    data: Path = typer.Argument(..., help="Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."),
    out: Path = typer.Option(..., "--out", "-o", help="Shortlist (.csv, .tsv, .parquet)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Screening TOML (see configs/screen.toml)."),
    where: list[str] | None = typer.Option(None, "--where", "-w", help="Property condition, e.g. 'SA<4.5'; repeatable."),
    filters: list[str] | None = typer.Option(None, "--filters", help="Alert sets, e.g. pains,brenk (or 'none'); replaces the config's."),
    reference: list[Path] | None = typer.Option(None, "--reference", "-r", help="Reference set for novelty (e.g. the training set); repeatable."),
    max_similarity: float | None = typer.Option(None, "--max-similarity", help="Reject candidates more similar than this to a reference molecule."),
    top: int | None = typer.Option(None, "--top", help="Keep the N best-scored molecules."),
    diverse: int | None = typer.Option(None, "--diverse", help="Pick N diverse molecules among the best-scored."),
    sdf: Path | None = typer.Option(None, "--sdf", help="Also write the shortlist as SDF (properties as SD tags)."),
    grid: Path | None = typer.Option(None, "--grid", help="Image grid of the top molecules (.png or .svg)."),
    grid_size: int = typer.Option(24, "--grid-size", help="Molecules in the image grid."),
    rejects: Path | None = typer.Option(None, "--rejects", help="CSV of rejected rows: row, smiles, step, reason (default: beside --out, as OUT.rejects.csv); every input row ends in the shortlist or here."),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", help="Worker processes (default: all CPUs)."),
    max_rows: int | None = typer.Option(None, "--max-rows", help="Screen only the first N rows."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Standardize, deduplicate, filter, score and rank molecules; every row is accounted for."""
    from molvae.screening import ScreenConfig, screen_file, write_grid, write_sdf

    if grid is not None and grid.suffix.lower() not in (".png", ".svg"):
        raise typer.BadParameter("must end in .png or .svg", param_hint="--grid")
    rejects = rejects or sidecar(out, ".rejects.csv")
    for path in (out, rejects, sdf, grid):
        if path is not None:
            declare_output(path)
    cfg = ScreenConfig.from_toml(config) if config else ScreenConfig()
    cfg = cfg.override(
        where=parse_csv_list(where),
        filters=parse_csv_list(filters) if filters else None,
        references=reference or [],
        top=top,
        diverse=diverse,
        max_similarity=max_similarity,
        jobs=jobs,
        smiles_column=smiles_column,
    )
    result = screen_file(
        data,
        cfg,
        rejects_path=rejects,
        keep_rejects=False,
        progress=progress,
        max_rows=max_rows,
        log=lambda line: err_console.print(line, highlight=False),
    )
    write_table(result.shortlist, out)
    written = [str(out)]
    if sdf is not None:
        write_sdf(result.shortlist, sdf)
        written.append(str(sdf))
    if grid is not None and result.n_shortlisted:
        write_grid(result.shortlist, grid, n=grid_size)
        written.append(str(grid))
    elif grid is not None and grid.exists():  # an earlier run's grid must not pass for this one's
        grid.unlink()
        err_console.print(f"removed {grid} (it existed; nothing shortlisted to draw)", highlight=False)
    written.append(str(rejects))
    console.print(result.summary_table())
    console.print(f"written: {', '.join(written)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("screen")(screen)
