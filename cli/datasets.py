"""``molvae datasets``: list and download the standard public data sets."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from molvae.data.public import DATASETS, data_dir, datasets_table, download

from ._common import console
from ._config import config_option

# The command's choices are exactly the registered dataset names.
DatasetName = Enum("DatasetName", {name: name for name in DATASETS}, type=str)


def list_datasets() -> None:
    """Show every registered dataset, its license and whether it is already cached."""
    frame = datasets_table()
    table = Table(title=f"Datasets (cache: {data_dir()})", title_justify="left")
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("description")
    table.add_column("size")
    table.add_column("URL", overflow="fold")
    table.add_column("license")
    table.add_column("cached", no_wrap=True)
    for row in frame.itertuples(index=False):
        cached = Text("yes", style="green") if row.cached else "no"
        table.add_row(row.name, row.description, row.size, row.url, row.license, cached)
    console.print(table)


def download_dataset(
    name: DatasetName = typer.Argument(..., help="Dataset to download (see `datasets list`)."),
    force: bool = typer.Option(False, "--force", help="Download again even if already cached."),
    url: str = typer.Option(
        None, "--url", help="Download from this URL instead (a mirror, or a file:// URL)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    config: Path | None = config_option(),
) -> None:
    """Download a dataset into the cache directory and print its path."""
    path = download(name.value, force=force, url=url, progress=not quiet)
    console.print(str(path), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Attach the ``datasets`` command group to ``app``."""
    group = typer.Typer(
        name="datasets", help="Standard public data sets: list and download.", no_args_is_help=True
    )
    group.command("list")(list_datasets)
    group.command("download")(download_dataset)
    app.add_typer(group, name="datasets")
