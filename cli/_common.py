"""Shared pieces of the CLI: consoles, model loading and writing result tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from molvae.errors import MolvaeError

__all__ = ["console", "err_console", "load_model", "parse_csv_list", "write_table"]

console = Console()
err_console = Console(stderr=True)

MODEL_HELP = "Model directory, training run directory, or bundled model name (default: 'default')."


def load_model(model: str | None, device: str = "auto"):
    """Load a ``MolVAE`` (bundled default when ``model`` is None) with a status line on stderr."""
    from molvae.api import MolVAE

    vae = MolVAE.load(model, device=device)
    err_console.print(f"model: {vae.path} ({vae.device.type})", highlight=False)
    return vae


def parse_csv_list(values: list[str] | None) -> list[str]:
    """Flatten repeated and comma-separated option values: ``-p logP,QED -p SA``."""
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write a DataFrame by extension: .csv, .tsv, .parquet (needs pyarrow), .csv.gz."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        frame.to_csv(path, index=False)
    elif name.endswith((".tsv", ".tsv.gz")):
        frame.to_csv(path, index=False, sep="\t")
    elif name.endswith(".parquet"):
        try:
            frame.to_parquet(path, index=False)
        except ImportError:
            raise MolvaeError(
                "writing .parquet needs pyarrow: pip install 'molvae[parquet]'"
            ) from None
    elif name.endswith(".npy"):
        np.save(path, frame.to_numpy(dtype=np.float32))
    else:
        raise MolvaeError(f"{path}: unsupported output extension (use .csv, .tsv or .parquet)")
    return path
