"""``molvae evaluate``: MOSES metrics of a model's samples (or any file of SMILES)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ._bounds import SEED, TEMPERATURE, whole
from ._common import MODEL_HELP, console, declare_output, err_console, load_model
from ._config import config_option


def evaluate(
    reference: Path = typer.Option(..., "--reference", help="Reference (test) molecules, e.g. MOSES test.csv."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    samples: Path | None = typer.Option(None, "--samples", help="Score this file instead of sampling a model."),
    n: int = typer.Option(30000, "-n", **whole(1, 100_000), help="Molecules to sample from the model."),
    train: Path | None = typer.Option(None, "--train", help="Training molecules (for Novelty)."),
    scaffold_reference: Path | None = typer.Option(None, "--scaffold-reference", help="MOSES test_scaffolds file (TestSF metrics)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="JSON report."),
    model_metrics_n: int = typer.Option(2000, "--model-metrics", **whole(0, 100_000), help="Reference molecules for model-side metrics (0: skip)."),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    temperature: float = typer.Option(1.0, "--temperature", "-t", **TEMPERATURE, help="Softmax temperature of the sampler."),
    canonical_only: bool = typer.Option(
        True, "--canonical-only/--any-form",
        help="Sample only strings in their molecule's canonical form (see `molvae sample`).",
    ),
    critic: bool = typer.Option(
        True, "--critic/--no-critic",
        help="Use the model's realism critic, if it has one (see `molvae sample`).",
    ),
    seed: int = typer.Option(0, "--seed", **SEED, help="Random seed of the sampling."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Score generated molecules with the MOSES metrics (and a model's own metrics)."""
    from molvae.evaluation import metrics_table
    from molvae.evaluation.model_side import evaluate_model

    if out is not None:
        declare_output(out)
    vae = load_model(model, device) if samples is None else None
    report = evaluate_model(
        reference, vae=vae, samples=samples, n=n, train=train,
        scaffold_reference=scaffold_reference, model_metrics_n=model_metrics_n,
        smiles_column=smiles_column, temperature=temperature, canonical_only=canonical_only,
        critic=critic, seed=seed, log=lambda line: err_console.print(line, highlight=False),
    )
    console.print(metrics_table(report["metrics"]))
    side = report.get("model_metrics")
    if side:
        console.print(
            f"model: exact reconstruction {side['exact_reconstruction']:.3f}, token accuracy "
            f"{side['token_accuracy']:.3f}, KL {side['kl_total']:.1f} nats, active units "
            f"{side['active_units']}/{side['latent_dim']} (on {side['molecules']:,} reference "
            "molecules)", highlight=False,
        )
        for name, m in side.get("predictor", {}).items():
            console.print(f"  {name}: R^2 {m['r2']:.3f}, MAE {m['mae']:.3f}", highlight=False)
    if out is not None:
        from molvae.runtime import atomic_write

        text = json.dumps(report, indent=1)
        atomic_write(out, lambda handle: handle.write(text), "w")  # never half a report
        console.print(f"report written to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
