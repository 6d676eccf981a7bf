"""Shared pieces of the commands: consoles, model loading, option checks, progress and reports."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from rich.console import Console

from molvae.data.writing import PARQUET_HINT
from molvae.errors import MolvaeError

__all__ = [
    "check_choice",
    "DATA_HELP",
    "MODEL_HELP",
    "check_output",
    "console",
    "err_console",
    "load_model",
    "parse_csv_list",
    "progress_bar",
    "report_reasons",
    "report_status",
    "sidecar",
]

# Markup off: SMILES and file names are data, and rich would take "[nH]" or "[o+]" in them for a
# style tag and drop it from the printed string. Styles are given as ``Text`` where wanted.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

MODEL_HELP = "Model directory, training run directory, or bundled model name (default: 'default')."


def load_model(model: str | None, device: str = "auto"):
    """Load a ``MolVAE`` (bundled default when ``model`` is None) with a status line on stderr."""
    from molvae.generation.model import MolVAE

    vae = MolVAE.load(model, device=device)
    err_console.print(f"model: {vae.path} ({vae.device.type})", highlight=False)
    return vae


def parse_csv_list(values: list[str] | None) -> list[str]:
    """Flatten repeated and comma-separated option values: ``-p logP,QED -p SA``."""
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out




def check_choice(value: str, choices: Iterable[str], option: str) -> None:
    """A usage error (exit 2) naming the choices when ``value`` is not one of them."""
    import typer

    choices = tuple(choices)
    if value not in choices:
        raise typer.BadParameter(f"must be one of {', '.join(choices)}", param_hint=option)


def check_output(path: Path, suffixes: tuple[str, ...], option: str = "--out") -> str:
    """Fail fast, before any slow work, on an output name we cannot write; returns its suffix.

    An unknown extension is a usage error (exit 2); ``.parquet`` without pyarrow is a one-line
    error suggesting the extra or a CSV.
    """
    import typer

    name = path.name.lower()
    suffix = next((s for s in suffixes if name.endswith(s)), None)
    if suffix is None:
        raise typer.BadParameter(f"must end in {', '.join(suffixes)}", param_hint=option)
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise MolvaeError(PARQUET_HINT) from None
    return suffix




def report_reasons(reasons: pd.Series, n_rows: int, what: str = "encoded") -> None:
    """One stderr line: ``3 of 13 rows not encoded (invalid SMILES: 2, empty: 1)``."""
    if not len(reasons):
        return
    from molvae.data.tables import reason_kinds

    counts = reason_kinds(reasons).value_counts()
    detail = ", ".join(f"{k.strip()}: {v}" for k, v in counts.items())
    err_console.print(f"{len(reasons):,} of {n_rows:,} rows not {what} ({detail})", highlight=False)


def report_status(frame: pd.DataFrame, what: str = "encoded") -> None:
    """:func:`report_reasons` for the rows of ``frame`` whose ``status`` is not ``ok``."""
    report_reasons(frame.loc[frame["status"] != "ok", "status"], len(frame), what)


def progress_bar(total: int | None = None, description: str = ""):
    """A transient stderr progress display: bar (pulsing if the total is unknown), count, time.

    Returns ``(progress, advance)``: use ``progress`` as a context manager and pass
    ``advance(n)`` as an ``on_progress`` callback.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task = progress.add_task(description, total=total)
    return progress, lambda n: progress.advance(task, n)


DATA_HELP = "Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."


def sidecar(out: Path, suffix: str) -> Path:
    """``features.parquet`` -> ``features<suffix>`` (e.g. ``.rejects.csv``), beside ``out``."""
    name = out.name
    for ext in (".csv.gz", ".tsv.gz", ".parquet", ".csv", ".tsv", ".npy", ".html", ".png", ".svg"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    return out.with_name(name + suffix)
