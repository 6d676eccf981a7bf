"""Which encoding decodes back to its molecule: mu, beam picks, latent refinement, or cascades.

``molvae reconstruct``, ``interpolate`` and ``neighbors`` start from an encoding of each input
molecule. The encoder's mu often decodes to another molecule (more so for molecules unlike the
training set, such as small drugs for a MOSES model). This script measures, for the MOSES test
sample and for the drugs of ``datasets/common_drugs.csv`` (encoded in their flattened form where
the model cannot write them as given), the fraction of molecules that come back exactly and the
time per molecule, for each way of getting an encoding and a decoding:

- ``mu, greedy`` / ``mu, beam 8 nearest``: the encoder alone (amortized);
- ``refine N, greedy``: every mu refined for N steps (:func:`molvae.refine_latents`);
- ``refine 30, beam 8 nearest``: both;
- ``mu, then refine the rest up to N (every K)``: :func:`molvae.generation.refine.faithful_latents`,
  which refines only the molecules mu does not give back, K steps at a time, up to N;
- the same followed by a beam of 8 (nearest pick) for the molecules still not back.

Exact match is equality of canonical SMILES with the form that was encoded.

    python benchmarks/faithful_encoding.py --model default --n 1000

``refine 100`` and ``refine 30, beam`` of every molecule run on the drugs only unless
``--all-on-moses`` is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molvae import MolVAE, chem
from molvae.data.encoding import EncodedDataset
from molvae.generation.refine import faithful_latents, refine_latents
from molvae.runtime import cpu_model
from molvae.settings import DecodeSettings

REPO = Path(__file__).resolve().parents[1]
BEAM = DecodeSettings("beam", beam_width=8, beam_pick="nearest")


def _greedy(vae: MolVAE, z: torch.Tensor) -> np.ndarray:
    return np.asarray(vae.decode(z)["canonical"].to_numpy(), dtype=object)


def _beam(vae: MolVAE, z: torch.Tensor) -> np.ndarray:
    return np.asarray(vae.decode(z, BEAM)["canonical"].to_numpy(), dtype=object)


def _cascade(max_steps: int, every: int, beam: bool) -> Callable:
    def run(vae: MolVAE, ds: EncodedDataset, mu: torch.Tensor) -> np.ndarray:
        found = faithful_latents(vae, ds, max_steps=max_steps, check_every=every, mu=mu)
        decoded = np.asarray(found.decoded, dtype=object)
        if beam and not found.reproduced.all():
            rest = np.flatnonzero(~found.reproduced)
            decoded[rest] = _beam(vae, found.z[rest])
        return decoded

    return run


def _refined(steps: int, beam: bool) -> Callable:
    def run(vae: MolVAE, ds: EncodedDataset, mu: torch.Tensor) -> np.ndarray:
        z = refine_latents(vae, ds, steps, z_init=mu)[0]
        return _beam(vae, z) if beam else _greedy(vae, z)

    return run


# (key, description, function); the expensive ones marked True run on the drugs only unless
# --all-on-moses is given (on a shared 2-core CPU they take most of an hour on 1,000 molecules).
OPTIONS: list[tuple[str, str, Callable, bool]] = [
    ("mu", "mu, greedy", lambda vae, ds, mu: _greedy(vae, mu), False),
    ("beam", "mu, beam 8 nearest", lambda vae, ds, mu: _beam(vae, mu), False),
    ("cascade30/10", "mu, then refine the rest up to 30 (every 10)", _cascade(30, 10, False),
     False),
    ("cascade100/10", "mu, then refine the rest up to 100 (every 10)", _cascade(100, 10, False),
     False),
    ("cascade100/30", "mu, then refine the rest up to 100 (every 30)", _cascade(100, 30, False),
     False),
    ("cascade100/30+beam", "mu, then refine the rest up to 100 (every 30), then beam 8 nearest",
     _cascade(100, 30, True), False),
    ("refine10", "refine 10, greedy", _refined(10, False), False),
    ("refine30", "refine 30, greedy", _refined(30, False), False),
    ("refine100", "refine 100, greedy", _refined(100, False), True),
    ("refine30+beam", "refine 30, beam 8 nearest", _refined(30, True), True),
]


def measure(vae: MolVAE, smiles: list[str], keys: list[str]) -> tuple[dict, dict, object]:
    """Exact-match rate and seconds per molecule of each option; per-molecule decodings."""
    prep = vae.prepare(smiles, flatten=True)
    ds = prep.dataset
    start = time.perf_counter()
    mu = vae.encode_dataset(ds)[0]
    encode_seconds = time.perf_counter() - start
    target = np.asarray(ds.smiles, dtype=object)
    rates, decoded = {}, {}
    for key, name, run, _ in OPTIONS:
        if key not in keys:
            continue
        start = time.perf_counter()
        out = run(vae, ds, mu)
        seconds = time.perf_counter() - start + encode_seconds
        rates[key] = (float(np.mean(out == target)), seconds / max(len(ds), 1))
        decoded[key] = out
        print(f"  {name}: {rates[key][0]:.3f}, {1000 * rates[key][1]:.1f} ms/molecule",
              flush=True)
    return rates, decoded, prep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=1000, help="MOSES test-sample molecules")
    parser.add_argument("--only", default="", help="Comma-separated option keys to run: "
                        + ", ".join(key for key, *_ in OPTIONS))
    parser.add_argument("--all-on-moses", action="store_true",
                        help="Also run the expensive options on the MOSES molecules.")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default); 1 is faster on a busy CPU")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    only = [o.strip() for o in args.only.split(",") if o.strip()]
    keys = only or [key for key, *_ in OPTIONS]
    moses_keys = [k for k, _, _, slow in OPTIONS if k in keys and (args.all_on_moses or not slow)]
    moses = pd.read_csv(REPO / "datasets" / "moses_test_sample.csv")["SMILES"].head(args.n)
    drugs = pd.read_csv(REPO / "datasets" / "common_drugs.csv")
    print("common drugs:", flush=True)
    drug_rates, drug_decoded, drug_prep = measure(vae, drugs["smiles"].tolist(), keys)
    print("MOSES test sample:", flush=True)
    moses_rates, _, moses_prep = measure(vae, moses.tolist(), moses_keys)

    print(f"\n## Faithful encoding ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; model {vae.path})\n")
    print(f"{len(moses_prep.dataset):,} MOSES test-sample molecules; "
          f"{len(drug_prep.dataset)} of {len(drugs)} common drugs encodable "
          f"({len(drug_prep.flattened)} of them in flattened form, compared in that form)\n")
    print("| encoding and decoding | MOSES exact | ms/molecule | drugs exact | ms/molecule |")
    print("|---|---|---|---|---|")
    for key, name, _, _ in OPTIONS:
        if key not in drug_rates:
            continue
        b, tb = drug_rates[key]
        moses_part = (f"{moses_rates[key][0]:.3f} | {1000 * moses_rates[key][1]:.1f}"
                      if key in moses_rates else "not run | -")
        print(f"| {name} | {moses_part} | {b:.3f} | {1000 * tb:.1f} |")
    print("\nPer drug (exact match with the form encoded):\n")
    names = drugs["name"].to_numpy()[drug_prep.dataset.rows]
    shown = [key for key, *_ in OPTIONS if key in drug_decoded]
    print("| drug | encoded as | " + " | ".join(shown) + " |")
    print("|---|---|" + "---|" * len(shown))
    target = np.asarray(drug_prep.dataset.smiles, dtype=object)
    for i, name in enumerate(names):
        marks = ["yes" if drug_decoded[o][i] == target[i] else "no" for o in shown]
        print(f"| {name} | `{target[i]}` | " + " | ".join(marks) + " |")


if __name__ == "__main__":
    main()
