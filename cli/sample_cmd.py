"""``molvae sample / encode / decode / reconstruct``: the model's basic operations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer

from molvae.data.tables import read_latents
from molvae.data.writing import merge_with_rejects, write_table
from molvae.settings import BEAM_PICKS, DecodeSettings, SampleSettings

from ._common import (
    MODEL_HELP,
    check_choice,
    check_output,
    console,
    err_console,
    load_model,
    progress_bar,
    report_reasons,
    report_status,
)
from ._config import config_option

SAMPLE = SampleSettings()


def sample(
    n: int = typer.Option(
        1000, "-n", help="Number of molecules to decode (or unique ones with --unique)."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    out: Path = typer.Option(Path("samples.csv"), "--out", "-o", help="Output CSV/TSV/parquet."),
    temperature: float = typer.Option(SAMPLE.temperature, "--temperature", "-t", help="Softmax temperature."),
    strategy: str = typer.Option(SAMPLE.strategy, "--strategy", help="sample (multinomial) or greedy."),
    top_k: int | None = typer.Option(
        SAMPLE.top_k, "--top-k", help="Sample only among the k most likely tokens."
    ),
    unique: bool = typer.Option(
        SAMPLE.unique, "--unique", help="Keep sampling until n unique valid molecules."
    ),
    canonical_only: bool = typer.Option(
        SAMPLE.canonical_only,
        "--canonical-only/--any-form",
        help="Keep only strings written as the training data write their molecule, drawing "
        "until -n are kept (default); --any-form returns every draw as decoded.",
    ),
    critic: bool = typer.Option(
        SAMPLE.critic,
        "--critic/--no-critic",
        help="With a model that has a realism critic (molvae fit-critic), also keep each "
        "canonical-form draw with the critic's acceptance probability (default).",
    ),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (reproducible on CPU)."),
    batch_size: int = typer.Option(SAMPLE.batch_size, "--batch-size"),
    device: str = typer.Option("auto", "--device"),
    config: Path | None = config_option(),
) -> None:
    """Sample molecules from the prior and check each with RDKit."""
    if n <= 0:
        raise typer.BadParameter("must be positive", param_hint="-n")
    check_choice(strategy, ("sample", "greedy"), "--strategy")
    vae = load_model(model, device)
    bar, advance = progress_bar(n, "sampling")
    with bar:
        frame = vae.sample(
            n,
            temperature=temperature,
            strategy=strategy,
            top_k=top_k,
            unique=unique,
            seed=seed,
            batch_size=batch_size,
            on_progress=advance,
            canonical_only=canonical_only,
            critic=critic,
        )
    write_table(frame, out)
    valid = int(frame["valid"].sum())
    n_unique = frame.loc[frame["valid"], "canonical"].nunique()
    drawn = int(frame.attrs.get("drawn", len(frame)))
    why = (
        "not in their molecule's canonical form or turned down by the critic"
        if frame.attrs.get("critic")
        else "not in their molecule's canonical form"
    )
    kept = (
        f"{len(frame):,} kept of {drawn:,} drawn ({len(frame) / max(drawn, 1):.1%}; the rest "
        f"were {why}), "
        if canonical_only
        else f"{len(frame):,} decoded, "
    )
    console.print(
        f"{kept}{valid:,} valid ({valid / max(len(frame), 1):.1%}), "
        f"{n_unique:,} unique valid; written to {out}",
        highlight=False,
    )
    if len(frame) < n:
        what = "unique molecules" if unique else "molecules in canonical form"
        err_console.print(f"warning: only {len(frame):,} {what} found of {n:,} requested")


def _read_input(path: Path, smiles_column: str | None):
    from molvae.data.tables import read_molecules

    table = read_molecules(path, smiles_column=smiles_column)
    return table


def encode(
    data: Path = typer.Argument(..., help="Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."),
    out: Path = typer.Option(..., "--out", "-o", help="latents .csv, .tsv, .parquet or .npy"),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    sigma: bool = typer.Option(False, "--sigma", help="Also write the posterior sigma."),
    smiles_column: str | None = typer.Option(None, "--smiles-column"),
    batch_size: int = typer.Option(1024, "--batch-size", min=1, help="Molecules per encoder batch."),
    chunk_size: int = typer.Option(100_000, "--chunk-size", min=1, help="Input rows read, encoded and written at a time (bounds memory for large files)."),
    device: str = typer.Option("auto", "--device"),
    config: Path | None = config_option(),
) -> None:
    """Encode molecules to their latent means (mu); every input row is in the output.

    The file is streamed: each chunk of rows is read, encoded and appended to the output, so
    memory stays flat however many molecules the file holds.
    """
    from molvae.generation.files import encode_file

    vae = load_model(model, device)
    bar, advance = progress_bar(None, "encoding")
    with bar:
        result = encode_file(vae, data, out, sigma=sigma, smiles_column=smiles_column,
                             batch_size=batch_size, chunk_size=chunk_size, on_progress=advance)
    if result.rows_file is not None:
        err_console.print(f"row index and status written to {result.rows_file}", highlight=False)
    report_reasons(result.failures, result.n_rows)
    console.print(f"{result.n_ok:,} molecules encoded to {out}", highlight=False)




def decode(
    latents: Path = typer.Argument(
        ..., help="Latents file from `molvae encode` (.csv/.tsv/.parquet/.npy)."
    ),
    out: Path = typer.Option(Path("decoded.csv"), "--out", "-o"),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    strategy: str = typer.Option(
        "greedy", "--strategy",
        help="greedy, sample, or beam (a string in canonical form from a beam search, see --beam-pick).",
    ),
    beam_width: int = typer.Option(8, "--beam-width", min=1, help="Strings kept by --strategy beam."),
    beam_pick: str = typer.Option("likeliest", "--beam-pick", help="Which string of the beam: likeliest (highest p(x|z)) or nearest (its own encoding nearest to z; one encoder pass per string)."),
    temperature: float = typer.Option(1.0, "--temperature", "-t"),
    seed: int | None = typer.Option(None, "--seed"),
    batch_size: int = typer.Option(1024, "--batch-size", min=1, help="Latent points per decoder batch."),
    device: str = typer.Option("auto", "--device"),
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


def reconstruct(
    data: Path = typer.Argument(..., help="Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    out: Path | None = typer.Option(None, "--out", "-o", help="Per-molecule results CSV."),
    image: Path | None = typer.Option(None, "--image", help="Draw inputs beside their reconstructions (.png or .svg)."),
    image_rows: int = typer.Option(24, "--image-rows", help="Input/reconstruction pairs drawn in --image."),
    refine_steps: int = typer.Option(0, "--refine-steps", min=0, help="Refine each z for N steps so it decodes back (MolVAE.refine_latents); 0: decode mu."),
    beam_width: int = typer.Option(0, "--beam-width", min=0, help="Beam decoding of mu with this many strings; 0: greedy."),
    beam_pick: str = typer.Option("nearest", "--beam-pick", help="Which string of the beam (canonical form only): nearest (its own encoding nearest to mu; amortized, one encoder pass per string) or likeliest (highest p(x|z))."),
    smiles_column: str | None = typer.Option(None, "--smiles-column"),
    device: str = typer.Option("auto", "--device"),
    config: Path | None = config_option(),
) -> None:
    """Exact-match reconstruction rate (decoding of mu, canonical SMILES compared)."""
    if image is not None:
        check_output(image, (".png", ".svg"), "--image")
        if image_rows < 1:
            raise typer.BadParameter("must be at least 1", param_hint="--image-rows")
    check_choice(beam_pick, BEAM_PICKS, "--beam-pick")
    vae = load_model(model, device)
    table = _read_input(data, smiles_column)
    from molvae.generation.refine import reconstruct as reconstruct_molecules

    rec = reconstruct_molecules(
        vae, table.records["smiles"].tolist(), refine_steps=refine_steps, beam_width=beam_width,
        beam_pick=beam_pick,
    )
    frame = merge_with_rejects(table.records, rec, table.rejects)
    frame["match"] = frame["match"].fillna(False).astype(bool)
    ok = frame["status"] == "ok"
    n_ok = int(ok.sum())
    rate = float(frame.loc[ok, "match"].mean()) if n_ok else float("nan")
    if out is not None:
        write_table(frame, out)
    report_status(frame)
    console.print(
        f"exact-match reconstruction{f' (z refined {refine_steps} steps)' if refine_steps else ''}"
        f"{f' (beam of {beam_width}, {beam_pick})' if beam_width else ''}"
        f": {rate:.4f} ({int(frame['match'].sum()):,} of "
        f"{n_ok:,} encodable molecules)",
        highlight=False,
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


def register(app: typer.Typer) -> None:
    app.command("sample")(sample)
    app.command("encode")(encode)
    app.command("decode")(decode)
    app.command("reconstruct")(reconstruct)
