"""``molvae evaluate``: MOSES metrics of a model's samples (or any file of SMILES)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer

from molvae.errors import MolvaeError

from ._common import MODEL_HELP, console, err_console, load_model
from ._config import config_option


def _read_generated(path: Path, smiles_column: str | None) -> list[str]:
    """Every row's string as generated (invalid and empty ones count against validity)."""
    from molvae.data.tables import detect_format, find_smiles_column

    if not path.exists():
        raise MolvaeError(f"{path}: file not found")
    fmt = detect_format(path)
    if fmt in ("csv", "tsv"):
        frame = pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", dtype=str,
                            keep_default_na=False, skip_blank_lines=False)
        column = find_smiles_column(frame.columns, smiles_column)
        return frame[column].fillna("").tolist()
    if fmt == "smi":
        from molvae.data.tables import read_molecules

        table = read_molecules(path, canonicalize=False)
        rows = pd.concat([table.records[["row", "smiles"]], table.rejects[["row", "smiles"]]])
        return rows.sort_values("row")["smiles"].fillna("").astype(str).tolist()
    raise MolvaeError(f"{path}: use a CSV/TSV/SMI file of generated SMILES")


def evaluate(
    reference: Path = typer.Option(..., "--reference", help="Reference (test) molecules, e.g. MOSES test.csv."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    samples: Path | None = typer.Option(None, "--samples", help="Score this file instead of sampling a model."),
    n: int = typer.Option(30000, "-n", help="Molecules to sample from the model."),
    train: Path | None = typer.Option(None, "--train", help="Training molecules (for Novelty)."),
    scaffold_reference: Path | None = typer.Option(None, "--scaffold-reference", help="MOSES test_scaffolds file (TestSF metrics)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="JSON report."),
    model_metrics_n: int = typer.Option(2000, "--model-metrics", help="Reference molecules for model-side metrics (0: skip)."),
    smiles_column: str | None = typer.Option(None, "--smiles-column"),
    temperature: float = typer.Option(1.0, "--temperature", "-t"),
    canonical_only: bool = typer.Option(
        True, "--canonical-only/--any-form",
        help="Sample only strings in their molecule's canonical form (see `molvae sample`).",
    ),
    critic: bool = typer.Option(
        True, "--critic/--no-critic",
        help="Use the model's realism critic, if it has one (see `molvae sample`).",
    ),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device"),
    config: Path | None = config_option(),
) -> None:
    """Score generated molecules with the MOSES metrics (and a model's own metrics)."""
    from molvae.evaluation import evaluate as run_evaluate
    from molvae.evaluation import metrics_table

    report: dict = {"reference": str(reference)}
    vae = None
    if samples is not None:
        generated = _read_generated(samples, smiles_column)
        report["samples"] = str(samples)
    else:
        vae = load_model(model, device)
        err_console.print(f"sampling {n:,} molecules", highlight=False)
        frame = vae.sample(n, temperature=temperature, seed=seed, canonical_only=canonical_only,
                           critic=critic)
        generated = frame["smiles"].tolist()
        drawn = int(frame.attrs.get("drawn", len(frame)))
        if canonical_only:
            err_console.print(
                f"{len(frame):,} kept of {drawn:,} drawn ({len(frame) / max(drawn, 1):.1%})",
                highlight=False,
            )
        report.update(
            model=str(vae.path), n=n, temperature=temperature, seed=seed,
            canonical_only=canonical_only, critic=bool(frame.attrs.get("critic")), drawn=drawn,
        )
    result = run_evaluate(
        generated, reference, train, scaffold_reference=scaffold_reference,
        log=lambda line: err_console.print(line, highlight=False),
    )
    report["metrics"] = result.metrics
    report["timings_s"] = result.timings
    console.print(metrics_table(result.metrics))
    if vae is not None and model_metrics_n > 0:
        from molvae.data.tables import read_molecules
        from molvae.evaluation.model_side import model_metrics

        ref = read_molecules(reference)
        smiles = ref.records["canonical"].sample(
            n=min(model_metrics_n, len(ref.records)), random_state=seed
        ).tolist()
        side = model_metrics(vae, smiles)
        report["model_metrics"] = side
        console.print(
            f"model: exact reconstruction {side['exact_reconstruction']:.3f}, token accuracy "
            f"{side['token_accuracy']:.3f}, KL {side['kl_total']:.1f} nats, active units "
            f"{side['active_units']}/{side['latent_dim']} (on {side['molecules']:,} reference "
            "molecules)", highlight=False,
        )
        for name, m in side.get("predictor", {}).items():
            console.print(f"  {name}: R^2 {m['r2']:.3f}, MAE {m['mae']:.3f}", highlight=False)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1))
        console.print(f"report written to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
