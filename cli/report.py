"""``molvae report``: one self-contained HTML page about a training run or a model."""

from __future__ import annotations

from pathlib import Path

import typer

from ._bounds import SEED, whole
from ._common import check_output, console, err_console, parse_csv_list
from ._config import config_option


def report(
    run: str = typer.Argument(..., help="Training run directory (from `molvae train --out`), model directory or bundled model name."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write."),
    reference: Path | None = typer.Option(None, "--reference", help="Molecules to compare samples with (default: the run's training set)."),
    samples: int = typer.Option(1000, "--samples", **whole(1, 100_000), help="Molecules sampled from the prior for the grid and histograms."),
    map_points: int = typer.Option(1000, "--map-points", **whole(2, 100_000), help="Molecules in the latent map (validation set, else reference)."),
    properties: list[str] | None = typer.Option(None, "--properties", "-p", help="Histogram properties (default logP,QED,SA,MW,TPSA)."),
    max_structures: int = typer.Option(2000, "--max-structures", **whole(0, 20_000), help="Structure drawings embedded in the map at most."),
    seed: int = typer.Option(0, "--seed", **SEED, help="Random seed of the samples and the map."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """HTML report: training curves, metrics, samples, property histograms and latent map."""
    from molvae.reporting.report import REPORT_PROPERTIES, build_run_report

    check_output(out, (".html", ".htm"))
    names = parse_csv_list(properties) or list(REPORT_PROPERTIES)
    result = build_run_report(
        run,
        reference=reference,
        n_samples=samples,
        map_points=map_points,
        properties=names,
        seed=seed,
        device=device,
        max_structures=max_structures,
        status=lambda s: err_console.print(s, highlight=False, soft_wrap=True),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.html, encoding="utf-8")
    for note in result.missing:
        err_console.print(f"not in the report: {note}", highlight=False, soft_wrap=True)
    for verdict in result.verdicts:
        if not verdict.usable:
            err_console.print(verdict.line(), highlight=False, soft_wrap=True)
    size = out.stat().st_size / 1e6
    console.print(
        f"report written to {out} ({size:.1f} MB): {', '.join(result.sections) or 'no sections'}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("report")(report)
