"""Train a small molvae model on the shipped 2,000-molecule MOSES sample (a few minutes on a CPU).

    python examples/train_small_model.py runs/example
"""

import sys

from molvae.chem.molecules import set_rdkit_logging
from molvae.models.config import ModelConfig
from molvae.training.config import TrainConfig
from molvae.training.trainer import train
from molvae_datasets import sample_path

set_rdkit_logging(False)
run_dir = sys.argv[1] if len(sys.argv) > 1 else "runs/example"
result = train(
    sample_path("moses_sample"),
    run_dir,
    TrainConfig(epochs=5, batch_size=64, properties=["logP", "QED"], kl_warmup_steps=100,
                warmup_steps=20),
    ModelConfig(embedding_dim=32, encoder_hidden=128, latent_dim=32, decoder_hidden=256),
)
print(f"trained {result.steps} steps; best validation loss {result.best_val_loss:.2f}")
print(f"model saved in {result.model_dir}")
