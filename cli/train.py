"""``molvae train``: options by flag or TOML config; flags override the config file."""

from __future__ import annotations

from pathlib import Path

import typer

from molvae.models.config import SIZE_LIMITS
from molvae.settings import from_dict
from molvae.training.config import MAX_EPOCHS, MAX_TRAIN_BATCH

from ._bounds import SEED, real, whole
from ._common import err_console, parse_csv_list

# Upper bounds of the size flags: far above the bundled model (hidden sizes up to 512, latent
# 64) and low enough that one flag alone cannot ask for a model of gigabytes (a 2,048-wide
# bidirectional encoder GRU holds 26 million weights, and Adam keeps three more numbers per
# weight). A [model] table of a --config file is checked by the model store's own limits.
MAX_WIDTH = 2048
MAX_LATENT = 1024
MAX_LAYERS = min(SIZE_LIMITS["encoder_layers"], SIZE_LIMITS["decoder_layers"])
# Training processes started on this machine (one per GPU, or CPU processes).
MAX_DEVICES = 64
# Weights of a model trained from the command line: 50 million take about 0.8 GB with their
# gradients and Adam's two moments, 30 times the bundled model's 1.6 million. Each size flag is
# bounded on its own, but layers and widths multiply (16 decoder layers of 2,048 would hold 394
# million), so the whole model is counted too.
MAX_WEIGHTS = 50_000_000


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
        None, "--max-length", **whole(1, 5000), help="Reject molecules with more tokens."
    ),
    max_molecules: int | None = typer.Option(
        None, "--max-molecules", **whole(1, 1_000_000_000), help="Train on a seeded random subset."
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
        None, "--property-weight", **real(0, 1000), help="Weight of the property loss."
    ),
    conditions: list[str] | None = typer.Option(
        None,
        "--condition",
        help="Train a conditional VAE on these properties (RDKit names or numeric data "
        "columns, e.g. logP,QED,MW); `molvae sample --condition logP=2.5` then asks for values.",
    ),
    condition_dropout: float | None = typer.Option(
        None,
        "--condition-dropout",
        **real(0, 0.95),
        help="Probability of hiding each condition from the model per molecule, so it also "
        "samples with fewer or no conditions.",
    ),
    epochs: int | None = typer.Option(
        None, "--epochs", **whole(1, MAX_EPOCHS), help="Epochs; with --resume, changes the run's length (and LR schedule)."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", **whole(1, MAX_TRAIN_BATCH), help="Molecules per step (the global batch with several processes)."),
    learning_rate: float | None = typer.Option(None, "--lr", **real(1e-8, 1.0), help="Peak learning rate."),
    beta: float | None = typer.Option(None, "--beta", **real(0, 100), help="Final KL weight (beta-VAE)."),
    kl_schedule: str | None = typer.Option(
        None, "--kl-schedule", help="constant, linear, sigmoid or cyclical."
    ),
    kl_warmup_steps: int | None = typer.Option(None, "--kl-warmup-steps", **whole(0, 100_000_000), help="Steps over which the KL weight rises to --beta."),
    free_bits: float | None = typer.Option(
        None, "--free-bits", **real(0, 100), help="Nats per latent unit not penalized."
    ),
    word_dropout: float | None = typer.Option(
        None, "--word-dropout", **real(0, 0.99), help="Decoder input dropout rate."
    ),
    max_minutes: float | None = typer.Option(
        None, "--max-minutes", **real(0.01, 1_000_000), help="Stop (with a checkpoint) after this long."
    ),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N."),
    precision: str | None = typer.Option(None, "--precision", help="auto, fp32, bf16 or fp16."),
    seed: int | None = typer.Option(None, "--seed", **SEED, help="Random seed (split, initialization, batches)."),
    patience: int | None = typer.Option(
        None, "--patience", **whole(1, 10_000), help="Early-stopping patience in epochs."
    ),
    checkpoint_every: int | None = typer.Option(
        None, "--checkpoint-every", **whole(1, 100_000_000), help="Checkpoint every N steps."
    ),
    metrics_format: str | None = typer.Option(None, "--metrics-format", help="jsonl or csv."),
    embedding_dim: int | None = typer.Option(None, "--embedding-dim", **whole(1, MAX_WIDTH), help="Token embedding size."),
    encoder_hidden: int | None = typer.Option(None, "--encoder-hidden", **whole(1, MAX_WIDTH), help="Hidden size of the encoder GRU."),
    encoder_layers: int | None = typer.Option(None, "--encoder-layers", **whole(1, MAX_LAYERS), help="Layers of the encoder GRU."),
    bidirectional: bool | None = typer.Option(None, "--bidirectional/--unidirectional", help="Encoder GRU reading both directions (the default) or one."),
    latent_dim: int | None = typer.Option(None, "--latent-dim", **whole(1, MAX_LATENT), help="Size of the latent vector z."),
    decoder_hidden: int | None = typer.Option(None, "--decoder-hidden", **whole(1, MAX_WIDTH), help="Hidden size of the decoder GRU."),
    decoder_layers: int | None = typer.Option(None, "--decoder-layers", **whole(1, MAX_LAYERS), help="Layers of the decoder GRU."),
    dropout: float | None = typer.Option(None, "--dropout", **real(0, 0.99), help="Dropout rate on embeddings, GRU outputs and between decoder layers."),
    devices: int | None = typer.Option(
        None,
        "--devices",
        **whole(1, MAX_DEVICES),
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
            "condition_dropout": condition_dropout,
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
        if conditions:
            raw_train["conditions"] = parse_csv_list(conditions)
        train_cfg = from_dict(TrainConfig, raw_train, where="train options")
        model_cfg = from_dict(ModelConfig, raw_model, where="model options")
        if init_from is None:
            _check_model_size(model_cfg)
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


def _check_model_size(model_cfg) -> None:
    """Refuse, before any tensor is allocated, sizes that together make a model too large to
    train: the model is built on torch's meta device (shapes without storage) and counted."""
    import dataclasses

    import torch

    from molvae.errors import MolvaeError
    from molvae.models.vae import GRUVAE

    # The vocabulary is read from the data later; 100 tokens stand in for it (a SMILES or
    # SELFIES vocabulary has a few dozen).
    # Conditions (a few inputs more) and a learned prior over them (a small MLP) are named and
    # sized from the data later, so neither is counted here.
    cfg = dataclasses.replace(
        model_cfg, vocab_size=model_cfg.vocab_size or 100, conditions=[], condition_mean=[],
        condition_std=[], condition_min=[], condition_max=[], conditional_prior=False,
    )
    with torch.device("meta"):
        weights = sum(p.numel() for p in GRUVAE(cfg).parameters())
    if weights > MAX_WEIGHTS:
        raise MolvaeError(
            f"the model asked for has {weights:,} weights, above the limit of {MAX_WEIGHTS:,} "
            f"for training (about {weights * 16 / 1e9:.1f} GB with gradients and Adam's "
            "moments); lower the hidden sizes, the layers or --embedding-dim"
        )


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
