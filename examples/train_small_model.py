"""Train the quick-start model (configs/quickstart.toml) on the shipped 30,000 MOSES molecules.

    python examples/train_small_model.py runs/example
    python examples/train_small_model.py runs/example --max-molecules 1000 --epochs 1  # smoke test

The first form is the README's training quick start from Python (a few minutes on 2 CPU cores);
the second trains in seconds and, as it says at the end, gives a model that is not usable yet.
"""

import argparse
from pathlib import Path

from molvae.chem.molecules import set_rdkit_logging
from molvae.generation.model import MolVAE
from molvae.models.config import ModelConfig
from molvae.settings import from_dict
from molvae.training.config import TrainConfig, load_toml
from molvae.training.trainer import train
from molvae.training.verdicts import check_model
from molvae_datasets import sample_path

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "quickstart.toml"

parser = argparse.ArgumentParser(description="Train the quick-start model.")
parser.add_argument("run_dir", nargs="?", default="runs/example")
parser.add_argument("--max-molecules", type=int, help="train on a random subset of this size")
parser.add_argument("--epochs", type=int, help="override the config's epochs")
args = parser.parse_args()

set_rdkit_logging(False)
raw_train, raw_model = load_toml(CONFIG)  # the same file `molvae train --config` reads
if args.max_molecules:
    raw_train["max_molecules"] = args.max_molecules
if args.epochs:
    raw_train["epochs"] = args.epochs
result = train(
    sample_path("moses_train_30k"),
    args.run_dir,
    from_dict(TrainConfig, raw_train, where=str(CONFIG)),
    from_dict(ModelConfig, raw_model, where=str(CONFIG)),
    progress=False,
)
print(f"trained {result.steps} steps in {result.wall_seconds:.0f} s; "
      f"best validation loss {result.best_val_loss:.2f}")
print(f"model saved in {result.model_dir}")
# Validation metrics plus 500 draws from the prior: is the model usable yet?
print(check_model(MolVAE.load(result.model_dir, device="cpu")).line())
