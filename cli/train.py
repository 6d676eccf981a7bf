"""``molvae train``: options by flag or TOML config; flags override the config file."""

from __future__ import annotations

from pathlib import Path

import typer

from molvae.settings import from_dict

from ._common import err_console, parse_csv_list


def train(
    data: Path | None = typer.Argument(
        None, help="Molecule file (CSV/TSV/SMI/SDF, optionally .gz)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to create (or resume)."),
    config: Path | None = typer.Option(
        None, "--config", help="TOML config; [model] table for the architecture."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --out from its last checkpoint."
    ),
    init_from: str | None = typer.Option(
        None, "--init-from", help="Fine-tune: start from this model (keeps its vocabulary)."
    ),
    representation: str | None = typer.Option(None, "--repr", help="selfies (default) or smiles."),
    smiles_column: str | None = typer.Option(
        None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."
    ),
    standardize: bool | None = typer.Option(
        None, "--standardize/--no-standardize", help="Largest fragment + neutralize."
    ),
    max_length: int | None = typer.Option(
        None, "--max-length", help="Reject molecules with more tokens."
    ),
    max_molecules: int | None = typer.Option(
        None, "--max-molecules", help="Train on a seeded random subset."
    ),
    properties: list[str] | None = typer.Option(
        None,
        "--properties",
        "-p",
        help="RDKit properties for the latent predictor, e.g. logP,QED,SA.",
    ),
    property_columns: list[str] | None = typer.Option(
        None, "--property-column", help="Numeric data column(s) to predict."
    ),
    property_weight: float | None = typer.Option(
        None, "--property-weight", help="Weight of the property loss."
    ),
    epochs: int | None = typer.Option(
        None, "--epochs", help="Epochs; with --resume, changes the run's length (and LR schedule)."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Molecules per step (the global batch with several processes)."),
    learning_rate: float | None = typer.Option(None, "--lr", help="Peak learning rate."),
    beta: float | None = typer.Option(None, "--beta", help="Final KL weight (beta-VAE)."),
    kl_schedule: str | None = typer.Option(
        None, "--kl-schedule", help="constant, linear, sigmoid or cyclical."
    ),
    kl_warmup_steps: int | None = typer.Option(None, "--kl-warmup-steps", help="Steps over which the KL weight rises to --beta."),
    free_bits: float | None = typer.Option(
        None, "--free-bits", help="Nats per latent unit not penalized."
    ),
    word_dropout: float | None = typer.Option(
        None, "--word-dropout", help="Decoder input dropout rate."
    ),
    max_minutes: float | None = typer.Option(
        None, "--max-minutes", help="Stop (with a checkpoint) after this long."
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N."),
    precision: str | None = typer.Option(None, "--precision", help="auto, fp32, bf16 or fp16."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed (split, initialization, batches)."),
    patience: int | None = typer.Option(
        None, "--patience", help="Early-stopping patience in epochs."
    ),
    checkpoint_every: int | None = typer.Option(
        None, "--checkpoint-every", help="Checkpoint every N steps."
    ),
    metrics_format: str | None = typer.Option(None, "--metrics-format", help="jsonl or csv."),
    embedding_dim: int | None = typer.Option(None, "--embedding-dim", help="Token embedding size."),
    encoder_hidden: int | None = typer.Option(None, "--encoder-hidden", help="Hidden size of the encoder GRU."),
    encoder_layers: int | None = typer.Option(None, "--encoder-layers", help="Layers of the encoder GRU."),
    bidirectional: bool | None = typer.Option(None, "--bidirectional/--unidirectional", help="Encoder GRU reading both directions (the default) or one."),
    latent_dim: int | None = typer.Option(None, "--latent-dim", help="Size of the latent vector z."),
    decoder_hidden: int | None = typer.Option(None, "--decoder-hidden", help="Hidden size of the decoder GRU."),
    decoder_layers: int | None = typer.Option(None, "--decoder-layers", help="Layers of the decoder GRU."),
    dropout: float | None = typer.Option(None, "--dropout", help="Dropout rate on embeddings, GRU outputs and between decoder layers."),
    devices: int | None = typer.Option(
        None,
        "--devices",
        min=1,
        help="Train with N processes on this machine (DDP: one per GPU, or N CPU gloo processes); batch size stays global. Under torchrun, torchrun decides.",
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train a GRU VAE on a molecule file (checkpointed, resumable)."""
    from molvae.training.trainer import train as run_training

    if resume:
        result = run_training(
            None, out, resume=True, progress=not quiet, status=_status, devices=devices,
            resume_epochs=epochs,
        )
    else:
        if data is None:
            raise typer.BadParameter("DATA is required unless --resume is given", param_hint="DATA")
        from molvae.models.config import ModelConfig
        from molvae.training.config import TrainConfig, load_toml

        raw_train, raw_model = load_toml(config) if config else ({}, {})
        # Flags the user gave (not None) override the TOML file.
        train_flags = {
            "representation": representation,
            "smiles_column": smiles_column,
            "standardize": standardize,
            "max_length": max_length,
            "max_molecules": max_molecules,
            "epochs": epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "beta": beta,
            "kl_schedule": kl_schedule,
            "kl_warmup_steps": kl_warmup_steps,
            "free_bits": free_bits,
            "word_dropout": word_dropout,
            "max_minutes": max_minutes,
            "device": device,
            "precision": precision,
            "seed": seed,
            "early_stopping_patience": patience,
            "checkpoint_every_steps": checkpoint_every,
            "metrics_format": metrics_format,
            "property_weight": property_weight,
        }
        model_flags = {
            "embedding_dim": embedding_dim,
            "encoder_hidden": encoder_hidden,
            "encoder_layers": encoder_layers,
            "latent_dim": latent_dim,
            "decoder_hidden": decoder_hidden,
            "decoder_layers": decoder_layers,
            "dropout": dropout,
            "bidirectional": bidirectional,
        }
        raw_train.update({k: v for k, v in train_flags.items() if v is not None})
        raw_model.update({k: v for k, v in model_flags.items() if v is not None})
        if properties:
            raw_train["properties"] = parse_csv_list(properties)
        if property_columns:
            raw_train["property_columns"] = parse_csv_list(property_columns)
        train_cfg = from_dict(TrainConfig, raw_train, where="train options")
        model_cfg = from_dict(ModelConfig, raw_model, where="model options")
        result = run_training(
            data,
            out,
            train_cfg,
            model_cfg,
            init_from=init_from,
            progress=not quiet,
            status=_status,
            devices=devices,
        )
    err_console.print(
        f"done: {result.steps} steps, {result.epochs_completed} epochs, best validation loss "
        f"{result.best_val_loss:.3f}, stopped by {result.stopped}; model in {result.model_dir}",
        highlight=False,
    )
    _print_verdicts(result.model_dir)


def _print_verdicts(model_dir: Path) -> None:
    """Say when the trained model or one of its property predictors is not usable yet."""
    from molvae.generation.model import MolVAE
    from molvae.training import distributed
    from molvae.training.verdicts import check_model, property_verdicts

    env = distributed.environment()
    if env is not None and env.rank != 0:  # under torchrun, rank 0 speaks for the job
        return
    vae = MolVAE.load(model_dir, device="cpu")
    for verdict in [check_model(vae), *property_verdicts(vae.bundle.property_metrics)]:
        if not verdict.usable:
            err_console.print(verdict.line(), highlight=False, soft_wrap=True)


def _status(message: str) -> None:
    err_console.print(message, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
