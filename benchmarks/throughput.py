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
from pathlib import Path

import numpy as np
import torch

from molvae import chem
from molvae.api import MolVAE
from molvae.checkpoint import ModelBundle
from molvae.config import ModelConfig, TrainConfig, from_dict, load_toml
from molvae.data import LengthBucketSampler, collate, encode_molecules
from molvae.model import GRUVAE
from molvae.provenance import cpu_model
from molvae.train import vae_loss

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


def train_step(
    model: GRUVAE, opt: torch.optim.Optimizer, dataset, index, amp, beta: float = 0.5,
    grad_clip: float = 1.0,
) -> None:
    """One optimizer step on the molecules ``index`` of ``dataset`` (autocast to ``amp``)."""
    batch = collate(dataset, index)
    with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
        out = model(batch.tokens, batch.lengths, batch.decoder_inputs)
    loss = vae_loss(out, batch.targets, None, beta)["loss"]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()


def train_speed(model_cfg: ModelConfig, dataset, batch_size: int, steps: int, amp) -> float:
    torch.manual_seed(0)
    model = GRUVAE(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sampler = LengthBucketSampler(dataset.lengths, batch_size, seed=0)
    batches = sampler.batches(0)
    n = 0
    start = None
    for i, index in enumerate(batches[: steps + 3]):
        if i == 3:  # warm-up steps excluded
            start = time.perf_counter()
            n = 0
        train_step(model, opt, dataset, index, amp)
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
    # with a realism critic then also scores each kept molecule with it (molvae.critic).
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
    for label, amp in (("fp32", None), ("bf16 autocast", torch.bfloat16)) if args.steps else ():
        rate = train_speed(model_cfg, dataset, batch_size, args.steps, amp)
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
