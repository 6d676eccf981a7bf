"""Shared pieces of the commands: consoles, model loading, option checks, progress and reports."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from rich.console import Console

from molvae.data.writing import OUTPUT_LOG, PARQUET_HINT, replaced_message
from molvae.errors import MolvaeError

__all__ = [
    "check_choice",
    "DATA_HELP",
    "MODEL_HELP",
    "check_output",
    "console",
    "declare_output",
    "err_console",
    "flattened_note",
    "load_model",
    "parse_csv_list",
    "progress_bar",
    "report_reasons",
    "report_replaced_outputs",
    "report_status",
    "sidecar",
]

# Markup off: SMILES and file names are data, and rich would take "[nH]" or "[o+]" in them for a
# style tag and drop it from the printed string. Styles are given as ``Text`` where wanted.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

MODEL_HELP = "Model directory, training run directory, or bundled model name (default: 'default')."
STRICT_HELP = (
    "Reject molecules the model cannot write as given (stereo marks, charges, salts) instead of "
    "encoding their flattened form (column encoded_as)."
)


def flattened_note(n: int, what: str = "encoded") -> str:
    """``"; 3 encoded in flattened form (salt, stereo or charges removed)"`` for a summary line, or ""."""
    return f"; {n:,} {what} in flattened form (salt, stereo or charges removed)" if n else ""


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
    error suggesting the extra or a CSV. The path is also declared as an output
    (:func:`declare_output`), so replacing an existing file is reported.
    """
    import typer

    declare_output(path)
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


def progress_display():
    """A transient stderr progress display, one line per task: description, bar (pulsing if
    the total is unknown), count, time. Add tasks to it; use it as a context manager."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def progress_bar(total: int | None = None, description: str = ""):
    """A :func:`progress_display` with one task.

    Returns ``(progress, advance)``: use ``progress`` as a context manager and pass
    ``advance(n)`` as an ``on_progress`` callback.
    """
    progress = progress_display()
    task = progress.add_task(description, total=total)
    return progress, lambda n: progress.advance(task, n)


DATA_HELP = "Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."


# Outputs that replace an existing file are reported on stderr, one line each, once per command:
# tables written through molvae.data.writing announce themselves on the ``molvae.outputs`` logger
# as they are moved into place; any other output declared with ``declare_output`` (HTML pages,
# images, JSON reports) is compared with what was there before when the command ends. Replacing
# is the expected behaviour of a rerun, so it is said rather than refused.
_declared: dict[str, tuple[Path, tuple[int, int, int]]] = {}
_announced: set[str] = set()


def _key(path: str | os.PathLike) -> str:
    return os.path.abspath(path)


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _announce(path: str | os.PathLike) -> None:
    key = _key(path)
    if key not in _announced:
        _announced.add(key)
        err_console.print(replaced_message(path), highlight=False, soft_wrap=True)


class _ReplacedNotice(logging.Handler):
    """Prints the library's "replaced X (it existed)" records, once per file and command."""

    def emit(self, record: logging.LogRecord) -> None:
        _announce(getattr(record, "molvae_path", record.getMessage()))


def declare_output(path: Path) -> None:
    """Remember whether ``path`` exists now, so that :func:`report_replaced_outputs` can say
    that the command replaced it."""
    before = _stat(Path(path))
    if before is not None:
        _declared.setdefault(_key(path), (Path(path), before))


def report_replaced_outputs() -> None:
    """At the end of a command: name each declared output that replaced an existing file (and
    was not named yet), then forget this command's outputs."""
    try:
        for path, before in _declared.values():
            after = _stat(path)
            if after is not None and after != before:
                _announce(path)
    finally:
        _declared.clear()
        _announced.clear()


if not any(isinstance(h, _ReplacedNotice) for h in OUTPUT_LOG.handlers):
    OUTPUT_LOG.addHandler(_ReplacedNotice())
    OUTPUT_LOG.setLevel(logging.INFO)


def sidecar(out: Path, suffix: str) -> Path:
    """``features.parquet`` -> ``features<suffix>`` (e.g. ``.rejects.csv``), beside ``out``."""
    name = out.name
    for ext in (".csv.gz", ".tsv.gz", ".parquet", ".csv", ".tsv", ".npy", ".html", ".png", ".svg"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    return out.with_name(name + suffix)
