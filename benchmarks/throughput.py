"""Training and sampling throughput of a molvae architecture on this machine.

Trains the architecture for a fixed number of steps on real MOSES molecules (the shared MOSES
train split when present, else the shipped sample) and reports molecules/s for fp32 and bf16
autocast; then samples from the prior and reports decoded + RDKit-validated molecules/s.

    python benchmarks/throughput.py                 # default architecture
    python benchmarks/throughput.py --steps 40 --sample 20000 --config configs/default.toml

Prints a markdown table with the hardware; copy it into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from molvae import chem
from molvae.data.encoding import EncodedDataset, encode_molecules
from molvae.generation.model import MolVAE
from molvae.models.config import ModelConfig
from molvae.models.store import ModelBundle
from molvae.models.vae import GRUVAE
from molvae.runtime import cpu_model
from molvae.settings import from_dict
from molvae.tokens import Vocabulary
from molvae.training.config import TrainConfig, load_toml
from molvae.training.run import Run
from molvae.training.trainer import Trainer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "moses" / "train.csv.gz"



def load_smiles(n: int) -> list[str]:
    import pandas as pd

    if SHARED.exists():
        frame = pd.read_csv(SHARED, nrows=200_000)
    else:
        from molvae_datasets import sample_path

        frame = pd.read_csv(sample_path("moses_sample.csv"))
    smiles = frame["SMILES"].tolist()
    rng = np.random.default_rng(0)
    return [smiles[i] for i in rng.choice(len(smiles), min(n, len(smiles)), replace=False)]


def make_trainer(
    train_cfg: TrainConfig,
    model_cfg: ModelConfig,
    dataset: EncodedDataset,
    vocab: Vocabulary,
    **overrides,
) -> Trainer:
    """A CPU ``Trainer`` on ``dataset`` with ``train_cfg`` (``overrides`` replace its fields):
    ``Trainer.step`` is the training step of ``molvae train`` (schedules, autocast, clipping).
    """
    cfg = replace(train_cfg, device="cpu", **overrides)
    run = Run.in_memory(cfg, model_cfg, vocab, dataset)
    return Trainer(run, "cpu", status=lambda s: None)


def train_speed(
    train_cfg: TrainConfig, model_cfg: ModelConfig, dataset, vocab, batch_size: int, steps: int,
    precision: str,
) -> float:
    trainer = make_trainer(
        train_cfg, model_cfg, dataset, vocab, batch_size=batch_size, precision=precision
    )
    batches = trainer.sampler.batches(0)
    n = 0
    start = None
    for i, index in enumerate(batches[: steps + 3]):
        if i == 3:  # warm-up steps excluded
            start = time.perf_counter()
            n = 0
        trainer.step(index)
        n += len(index)
    return n / (time.perf_counter() - start)


def sampling_rows(
    args: argparse.Namespace, model_cfg: ModelConfig, vocab
) -> tuple[list[tuple[str, str]], ModelConfig]:
    """Sampling measurements (every draw, canonical form, with the critic) and the sampled
    model's architecture (``--model``'s own when given)."""
    # Sampling: a trained model (--model) stops at its eos tokens; an untrained one would always
    # run to max_length, so without --model decoding is capped at 40 steps, a little above the
    # mean MOSES SELFIES length (34.5 tokens).
    rows: list[tuple[str, str]] = []
    if args.model:
        vae = MolVAE.load(args.model, device="cpu")
    else:
        model = GRUVAE(model_cfg)
        model.config.max_length = 40
        vae = MolVAE(model.eval(), ModelBundle(model_cfg, vocab, "selfies"), torch.device("cpu"))
    vae.sample(2000, seed=0, canonical_only=False)  # warm-up
    t = time.perf_counter()
    out = vae.sample(args.sample, seed=1, canonical_only=False)
    dt_s = time.perf_counter() - t
    rows.append(
        (
            f"sampling {args.sample:,}, every draw (decode + SELFIES + RDKit)",
            f"{out['valid'].sum() / dt_s:,.0f} valid molecules/s",
        )
    )
    # The default sampler also re-encodes each molecule's canonical SMILES to check the string
    # and keeps only canonical writings (about half the draws on the bundled model); a model
    # with a realism critic then also scores each kept molecule with it (molvae.models.critic).
    samplers = (
        [("canonical form only", False), ("canonical form + critic (default)", True)]
        if vae.critic is not None
        else [("canonical form only (default)", False)]
    )
    for label, critic in samplers:
        t = time.perf_counter()
        out = vae.sample(args.sample, seed=1, critic=critic)
        dt_s = time.perf_counter() - t
        rows.append(
            (
                f"sampling {args.sample:,}, {label}; {out.attrs['drawn']:,} "
                f"draws used, {out.attrs['decoded']:,} decoded",
                f"{len(out) / dt_s:,.0f} kept molecules/s, {out.attrs['decoded'] / dt_s:,.0f} "
                "draws decoded and checked/s",
            )
        )

    return rows, vae.model.config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="TOML training config ([model] table used)")
    parser.add_argument("--steps", type=int, default=30, help="training steps (0: sampling only)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--sample", type=int, default=20000)
    parser.add_argument("--model", help="trained model to sample from (default: untrained, capped)")
    args = parser.parse_args()
    chem.set_rdkit_logging(False)

    train_cfg, model_cfg = TrainConfig(), ModelConfig()
    if args.config:
        raw_train, raw_model = load_toml(args.config)
        train_cfg = from_dict(TrainConfig, raw_train)
        model_cfg = from_dict(ModelConfig, raw_model)
    batch_size = args.batch_size or train_cfg.batch_size
    smiles = load_smiles(max(batch_size * (args.steps + 3), 5000))
    dataset, vocab, _ = encode_molecules(smiles, list(range(len(smiles))), "selfies", None, 100)
    model_cfg.vocab_size = len(vocab)

    rows = []
    for label, precision in (("fp32", "fp32"), ("bf16 autocast", "bf16")) if args.steps else ():
        rate = train_speed(train_cfg, model_cfg, dataset, vocab, batch_size, args.steps, precision)
        rows.append((f"training ({label}, batch {batch_size})", f"{rate:,.0f} molecules/s"))

    if args.sample:
        sampled, model_cfg = sampling_rows(args, model_cfg, vocab)
        rows += sampled

    params = sum(p.numel() for p in GRUVAE(model_cfg).parameters())
    print(
        f"## Throughput ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads)\n"
    )
    print(
        f"Architecture: {model_cfg.embedding_dim}-d embedding, encoder GRU "
        f"{model_cfg.encoder_hidden}x{model_cfg.encoder_layers}"
        f"{' bidirectional' if model_cfg.bidirectional else ''}, latent {model_cfg.latent_dim}, "
        f"decoder GRU {model_cfg.decoder_hidden}x{model_cfg.decoder_layers}; "
        f"{params / 1e6:.2f}M parameters\n"
    )
    print("| measurement | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
