"""``molvae decode``: decode latent points to molecules; rows with missing latents are reported, not dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer

from molvae.data.tables import read_latents
from molvae.data.writing import write_table
from molvae.settings import BEAM_PICKS, DecodeSettings

from ._bounds import MAX_BEAM, MAX_DECODE_BATCH, SEED, TEMPERATURE, whole
from ._common import (
    MODEL_HELP,
    check_choice,
    console,
    load_model,
    progress_bar,
)
from ._config import config_option


def decode(
    latents: Path = typer.Argument(
        ..., help="Latents file from `molvae encode` (.csv/.tsv/.parquet/.npy)."
    ),
    out: Path = typer.Option(Path("decoded.csv"), "--out", "-o", help="Decoded molecules, one row per latent point (.csv, .tsv or .parquet)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    strategy: str = typer.Option(
        "greedy", "--strategy",
        help="greedy, sample, or beam (a string in canonical form from a beam search, see --beam-pick).",
    ),
    beam_width: int = typer.Option(8, "--beam-width", **whole(1, MAX_BEAM), help="Strings kept by --strategy beam."),
    beam_pick: str = typer.Option("likeliest", "--beam-pick", help="Which string of the beam: likeliest (highest p(x|z)) or nearest (its own encoding nearest to z; one encoder pass per string)."),
    temperature: float = typer.Option(1.0, "--temperature", "-t", **TEMPERATURE, help="Softmax temperature of --strategy sample."),
    seed: int | None = typer.Option(None, "--seed", **SEED, help="Random seed of --strategy sample (reproducible on CPU)."),
    batch_size: int = typer.Option(1024, "--batch-size", **whole(1, MAX_DECODE_BATCH), help="Latent points per decoder batch."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Decode latent points to molecules; rows with missing latents are reported, not dropped."""
    check_choice(strategy, ("greedy", "sample", "beam"), "--strategy")
    check_choice(beam_pick, BEAM_PICKS, "--beam-pick")
    vae = load_model(model, device)
    z = read_latents(latents, vae.latent_dim)
    finite = np.isfinite(z).all(axis=1)
    frame = pd.DataFrame(
        {
            "row": np.arange(1, len(z) + 1),
            "smiles": None,
            "canonical": None,
            "valid": False,
            "status": "missing latent values",
        }
    )
    if finite.any():
        bar, advance = progress_bar(int(finite.sum()), "decoding")
        with bar:
            dec = vae.decode(z[finite], DecodeSettings(strategy=strategy, temperature=temperature, beam_width=beam_width, beam_pick=beam_pick), batch_size=batch_size, seed=seed, on_progress=advance)
        idx = np.flatnonzero(finite)
        frame.loc[idx, "smiles"] = dec["smiles"].to_numpy()
        frame.loc[idx, "canonical"] = dec["canonical"].to_numpy()
        frame.loc[idx, "valid"] = dec["valid"].to_numpy()
        frame.loc[idx, "status"] = "ok"
    write_table(frame, out)
    console.print(
        f"{int(finite.sum()):,} decoded ({int(frame['valid'].sum()):,} valid), "
        f"{int((~finite).sum()):,} rows skipped for missing values; written to {out}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("decode")(decode)
