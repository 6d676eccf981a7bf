"""``molvae screen``: filter, score and rank candidate molecules into a shortlist."""

from __future__ import annotations

from pathlib import Path

import typer

from molvae.data.writing import write_table

from ._bounds import real, whole
from ._common import console, declare_output, err_console, parse_csv_list, sidecar

# Worker processes: each is a forked Python holding RDKit; beyond the machine's CPUs they only
# add memory.
MAX_JOBS = 256


def screen(
    data: Path = typer.Argument(..., help="Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."),
    out: Path = typer.Option(..., "--out", "-o", help="Shortlist (.csv, .tsv, .parquet)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="Screening TOML (see configs/screen.toml)."),
    where: list[str] | None = typer.Option(None, "--where", "-w", help="Property condition, e.g. 'SA<4.5'; repeatable."),
    filters: list[str] | None = typer.Option(None, "--filters", help="Alert sets, e.g. pains,brenk (or 'none'); replaces the config's."),
    reference: list[Path] | None = typer.Option(None, "--reference", "-r", help="Reference set for novelty (e.g. the training set); repeatable."),
    max_similarity: float | None = typer.Option(None, "--max-similarity", **real(0.01, 1.0), help="Reject candidates more similar than this to a reference molecule."),
    top: int | None = typer.Option(None, "--top", **whole(0, 1_000_000_000), help="Keep the N best-scored molecules (0: all)."),
    diverse: int | None = typer.Option(None, "--diverse", **whole(0, 10_000), help="Pick N diverse molecules among the best-scored (0: no diversity pick)."),
    sdf: Path | None = typer.Option(None, "--sdf", help="Also write the shortlist as SDF (properties as SD tags)."),
    grid: Path | None = typer.Option(None, "--grid", help="Image grid of the top molecules (.png or .svg)."),
    grid_size: int = typer.Option(24, "--grid-size", **whole(1, 1000), help="Molecules in the image grid."),
    rejects: Path | None = typer.Option(None, "--rejects", help="CSV of rejected rows: row, smiles, step, reason (default: beside --out, as OUT.rejects.csv); every input row ends in the shortlist or here."),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", **whole(0, MAX_JOBS), help="Worker processes (default, or 0: all CPUs)."),
    max_rows: int | None = typer.Option(None, "--max-rows", **whole(1, 1_000_000_000), help="Screen only the first N rows."),
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
    if out.resolve() != Path(data).resolve():
        # The shortlist and its rejects are one result: an older shortlist must not outlive
        # the rejects file this run replaces (a killed run leaves neither, or the rejects).
        out.unlink(missing_ok=True)
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
