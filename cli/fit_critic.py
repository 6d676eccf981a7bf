"""``molvae fit-critic``: fit a realism critic: a classifier of training molecules against the model's samples,"""

from __future__ import annotations

from pathlib import Path

import typer

from ._bounds import SEED, real, whole
from ._common import MODEL_HELP, console, err_console, load_model
from ._config import config_option


def fit_critic(
    reference: Path = typer.Argument(
        ..., help="The model's training molecules (CSV/TSV/SMI/SDF, optionally .gz)."
    ),
    out: Path = typer.Option(
        ..., "--out", "-o",
        help="Model directory to write: the model's own directory adds the critic to it; "
        "another directory gets a copy of the model with the critic.",
    ),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    samples: int = typer.Option(
        60_000, "--samples", **whole(20, 100_000),
        help="Model samples to fit on (and as many reference molecules, drawn at random).",
    ),
    quantile: float = typer.Option(
        0.9, "--quantile", **real(0.01, 1.0),
        help="Quantile of the critic's logits on model samples used as the acceptance "
        "threshold: higher corrects more and keeps fewer draws.",
    ),
    epochs: int = typer.Option(15, "--epochs", **whole(1, 1000), help="Training epochs of the critic."),
    hidden: int = typer.Option(
        16, "--hidden", **whole(1, 4096),
        help="Hidden units of the critic: fewer give a smoother density ratio that favours "
        "training molecules less, keeping more novelty at equal FCD "
        "(benchmarks/critic_capacity.py).",
    ),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    seed: int = typer.Option(0, "--seed", **SEED, help="Random seed of the sampling and training."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Fit a realism critic: a classifier of training molecules against the model's samples,
    used by molvae sample for discriminator rejection sampling (VAE weights unchanged)."""
    from molvae.data.tables import read_molecules
    from molvae.models.critic import CRITIC_JSON, CRITIC_WEIGHTS, save_critic
    from molvae.models.store import copy_model_dir, require_new_directory, staged_directory
    from molvae.runtime import file_sha256
    from molvae.training.heads import fit_critic as run_fit
    from molvae.training.verdicts import critic_verdict, model_verdict

    vae = load_model(model, device)
    source = vae.path  # the resolved model directory
    if out.resolve() != source.resolve():
        require_new_directory(out)  # before the fit, not after it
    table = read_molecules(reference, smiles_column=smiles_column)
    if len(table.rejects):
        err_console.print(
            f"{len(table.rejects):,} of {table.n_rows:,} reference rows skipped (not readable "
            "as molecules)", highlight=False,
        )
    result = run_fit(vae, table.records["smiles"].tolist(), n_samples=samples,
                     quantile=quantile, epochs=epochs, hidden=hidden, seed=seed,
                     log=lambda s: err_console.print(s, highlight=False))
    result.critic.info["reference"] = {
        "file": reference.name, "sha256": file_sha256(reference), "rows": table.n_rows,
        "skipped": len(table.rejects),
    }
    if out.resolve() != source.resolve():
        with staged_directory(out) as staging:  # a killed run leaves no half-copied model
            copy_model_dir(source, staging, exclude=(CRITIC_JSON, CRITIC_WEIGHTS))
            save_critic(result.critic, staging)
    else:
        save_critic(result.critic, out)
    m = result.metrics
    console.print(
        f"critic: held-out AUC {m['auc']:.3f} (0.5 = samples indistinguishable from the "
        f"reference), {m['acceptance']:.1%} of canonical-form samples accepted at quantile "
        f"{quantile}; fitted on {result.n_samples:,} samples and {result.n_reference:,} "
        f"reference molecules; written to {out}",
        highlight=False,
    )
    for verdict in (model_verdict(vae.bundle.metrics), critic_verdict(m["auc"])):
        if not verdict.usable:
            err_console.print(verdict.line(), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("fit-critic")(fit_critic)
