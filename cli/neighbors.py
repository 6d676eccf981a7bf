"""``molvae neighbors``: molecules decoded from points around a molecule's encoding, most similar first."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from molvae.data.writing import write_table
from molvae.settings import FaithfulSettings

from ._bounds import REFINE_STEPS, SEED, real, whole
from ._common import (
    MODEL_HELP,
    STRICT_HELP,
    check_output,
    console,
    err_console,
    load_model,
)
from ._config import config_option

FAITHFUL = FaithfulSettings()


def neighbors_command(
    smiles: str = typer.Argument(..., help="SMILES of the query molecule."),
    n: int = typer.Option(20, "-n", **whole(1, 10_000), help="Neighbours to list (most similar first)."),
    radius: float | None = typer.Option(None, "--radius", **real(0.001, 1000), help="Largest latent distance from the query's mu (default: the norm of its posterior sigma)."),
    points: int | None = typer.Option(None, "--points", **whole(1, 100_000), help="Latent points decoded (default max(10 n, 100))."),
    seed: int = typer.Option(0, "--seed", **SEED, help="Random seed of the directions and distances."),
    refine_steps: int = typer.Option(FAITHFUL.refine_steps, "--refine-steps", **REFINE_STEPS, help="Centre on an encoding that decodes back to the query: mu, refined where needed up to N steps (molvae.refine_latents); 0: mu."),
    strict: bool = typer.Option(FAITHFUL.strict, "--strict", help=STRICT_HELP),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the neighbours (.csv/.tsv/.parquet)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Molecules decoded from points around a molecule's encoding, most similar first."""
    from molvae.latent.paths import neighbors

    if out is not None:
        check_output(out, (".csv", ".tsv", ".parquet", ".csv.gz"))
    vae = load_model(model, device)
    result = neighbors(vae, smiles, n=n, radius=radius, points=points, seed=seed,
                       refine_steps=refine_steps, strict=strict)
    table = Table(title=f"neighbours of {result.query} within latent radius {result.radius:.3g}")
    for name in ("#", "SMILES", "similarity", "latent distance", "hits"):
        table.add_column(name, justify="left" if name == "SMILES" else "right")
    for i, rec in enumerate(result.table.to_dict("records"), start=1):
        table.add_row(str(i), rec["smiles"], f"{rec['similarity']:.3f}", f"{rec['distance']:.3f}",
                      str(rec["hits"]))
    console.print(table)
    if out is not None:
        write_table(result.table, out)
    console.print(
        f"{result.points:,} points decoded: {result.valid:,} valid, {result.decoded_to_query:,} "
        f"back to the query, {result.unique:,} other unique molecules"
        + (f"; {len(result.table):,} written to {out}" if out is not None else ""),
        highlight=False,
        soft_wrap=True,
    )
    if result.flattened:
        err_console.print(
            f"the query was encoded in flattened form {result.encoded_as} (salt, stereo or "
            "charges removed); molecules decoded as that form count as the query",
            highlight=False,
            soft_wrap=True,
        )
    if not result.reproduced:
        err_console.print(
            "the query could not be reproduced: the centre decodes to "
            f"{result.centre_decodes_to or 'an invalid string'}"
            + (f" after {result.refine_steps} refinement steps" if result.refine_steps else "")
            + "; the neighbourhood is centred on it all the same",
            highlight=False,
            soft_wrap=True,
        )
    if result.unique < n:
        err_console.print(
            f"fewer than {n} neighbours: a larger --radius reaches further (the query's "
            f"posterior sigma has norm {result.posterior_scale:.3g})",
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.command("neighbors")(neighbors_command)
