"""Cost of one fine-tuning pass of `molvae design` (``tune_every``), in float32 and in bf16.

`design` with ``tune_every > 0`` fine-tunes a copy of the VAE on the best molecules so far
(``tune_steps`` Adam steps of ``tune_batch`` molecules). This times that pass on the bundled
model with the default settings, molecules from ``datasets/moses_sample.csv`` standing in for
the best ones, once with the forward pass in float32 and once under the model's autocast (bf16
where the CPU supports it, as `molvae train` uses), and reports seconds per step and the loss
after the pass (the two should train alike).

    python benchmarks/design_finetune.py --steps 10 --threads 1
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import time
from pathlib import Path

import pandas as pd
import torch

from molvae import MolVAE, chem
from molvae.data.encoding import collate
from molvae.optimize.design import _fine_tune
from molvae.runtime import cpu_model
from molvae.settings import DesignSettings
from molvae.training.loss import vae_loss

REPO = Path(__file__).resolve().parents[1]


def loss_on(vae: MolVAE, smiles: list[str], beta: float) -> float:
    """The VAE loss (float32, no dropout) of ``smiles``, reparameterization noise seeded."""
    data = vae.prepare(smiles, flatten=False).dataset
    batch = collate(data, list(range(len(data))))
    torch.manual_seed(0)
    with torch.no_grad():
        out = vae.model(batch.tokens, batch.lengths, batch.decoder_inputs)
        return float(vae_loss(out, batch.targets, None, beta)["loss"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--steps", type=int, default=10, help="fine-tuning steps timed")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    torch.set_num_threads(args.threads)
    base = MolVAE.load(args.model, device="cpu")
    smiles = pd.read_csv(REPO / "datasets" / "moses_sample.csv")["SMILES"].tolist()
    settings = DesignSettings(tune_every=1, tune_steps=args.steps)
    data = {s: float(-i) for i, s in enumerate(smiles[: settings.tune_top])}
    held = smiles[settings.tune_top: settings.tune_top + 256]
    rows = []
    for label, amp in (("float32", None), ("autocast", base.amp)):
        vae = copy.copy(base)
        vae.model = copy.deepcopy(base.model)
        vae.amp = amp
        start = time.perf_counter()
        n = _fine_tune(vae, data, settings, seed=0)
        seconds = time.perf_counter() - start
        rows.append((label if amp is None else f"autocast ({amp})", n, seconds,
                     loss_on(vae, list(data)[:256], settings.tune_beta),
                     loss_on(vae, held, settings.tune_beta)))
    print(f"## design fine-tuning cost ({dt.date.today()}, {cpu_model()}, {args.threads} "
          f"thread(s), torch {torch.__version__}; model {base.path})\n")
    print(f"{args.steps} steps of {settings.tune_batch} molecules drawn from {rows[0][1]} "
          f"(lr {settings.tune_lr}, beta {settings.tune_beta}).\n")
    print("| forward pass | s per step | loss on 256 tuned molecules after | loss on 256 others |")
    print("|---|---|---|---|")
    for label, _, seconds, tuned, other in rows:
        print(f"| {label} | {seconds / args.steps:.2f} | {tuned:.2f} | {other:.2f} |")


if __name__ == "__main__":
    main()
