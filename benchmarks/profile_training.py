"""Where a training step's time goes: ``torch.profiler`` over a few steps of the default recipe.

Builds the architecture of ``--config`` (``configs/default.toml``), trains it on real MOSES
molecules (the shared train split when present, else the shipped sample) with bf16 autocast as
``precision = "auto"`` does on this CPU, and prints the operators by self CPU time.

    python benchmarks/profile_training.py --steps 10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import load_smiles, make_trainer  # noqa: E402

from molvae.data.encoding import encode_molecules
from molvae.models.config import ModelConfig
from molvae.settings import from_dict
from molvae.training.config import TrainConfig, load_toml

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "default.toml")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rows", type=int, default=25, help="operators shown")
    args = parser.parse_args()
    raw_train, raw_model = load_toml(args.config)
    cfg = from_dict(TrainConfig, raw_train)
    model_cfg = from_dict(ModelConfig, raw_model)
    smiles = load_smiles(cfg.batch_size * (args.steps + 3))
    dataset, vocab, _ = encode_molecules(smiles, list(range(len(smiles))), "selfies", None, 100)
    model_cfg.vocab_size = len(vocab)
    trainer = make_trainer(cfg, model_cfg, dataset, vocab)
    amp = trainer.amp
    batches = trainer.sampler.batches(0)
    for index in batches[:3]:  # warm-up
        trainer.step(index)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for index in batches[3 : 3 + args.steps]:
            trainer.step(index)
    print(f"{args.steps} training steps of batch {cfg.batch_size}, autocast {amp}, "
          f"{torch.get_num_threads()} threads\n")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
