"""``molvae score``: per-molecule ELBO terms: an out-of-distribution score (higher neg_elbo = more unusual)."""

from __future__ import annotations

from pathlib import Path

import typer

from molvae.data.writing import merge_with_rejects, write_table

from ._bounds import MAX_ENCODE_BATCH, SEED, whole
from ._common import (
    DATA_HELP,
    MODEL_HELP,
    STRICT_HELP,
    check_output,
    console,
    flattened_note,
    load_model,
    report_status,
)
from ._config import config_option


def score_command(
    data: Path = typer.Argument(..., help=DATA_HELP),
    out: Path = typer.Option(Path("scores.csv"), "--out", "-o", help="Per-row scores (.csv/.tsv/.parquet)."),
    samples: int = typer.Option(0, "--samples", **whole(0, 1000), help="Average the reconstruction term over K posterior samples (0: at z = mu)."),
    batch_size: int = typer.Option(256, "--batch-size", **whole(1, MAX_ENCODE_BATCH), help="Molecules scored per batch."),
    seed: int = typer.Option(0, "--seed", **SEED, help="Seed of the posterior samples."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    strict: bool = typer.Option(False, "--strict", help=STRICT_HELP),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Per-molecule ELBO terms: an out-of-distribution score (higher neg_elbo = more unusual)."""
    from molvae.data.tables import read_molecules

    check_output(out, (".csv", ".tsv", ".parquet", ".csv.gz"))
    vae = load_model(model, device)
    table = read_molecules(data, smiles_column=smiles_column)
    from molvae.latent import elbo

    scores = elbo(vae, table.records["smiles"].tolist(), samples=samples,
                  batch_size=batch_size, seed=seed, strict=strict)
    frame = merge_with_rejects(table.records, scores, table.rejects)
    write_table(frame, out)
    report_status(frame, "scored")
    ok = frame["status"] == "ok"
    if ok.any():
        q = frame.loc[ok, "neg_elbo"].quantile([0.05, 0.5, 0.95]).to_numpy()
        spread = f"; neg ELBO median {q[1]:.2f} (5%: {q[0]:.2f}, 95%: {q[2]:.2f})"
    else:
        spread = ""
    basis = f"{samples} posterior samples" if samples else "z = mu"
    n_flat = int((ok & (frame["encoded_as"] != frame["canonical"])).sum())
    console.print(
        f"{int(ok.sum()):,} of {len(frame):,} rows scored ({basis}){spread}"
        f"{flattened_note(n_flat, 'scored')}; written to {out}",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("score")(score_command)
