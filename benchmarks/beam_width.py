"""Exact reconstruction from the encoder's mu against the beam width.

For ``--n`` MOSES test molecules, mu is decoded by beam search at each ``--widths`` value, and
four rates are printed: the beam's likeliest string is the input; the likeliest string in
canonical form (``molvae reconstruct --beam-pick likeliest``) is the input; the string in
canonical form whose own encoding lies nearest to mu (``--beam-pick nearest``, the default) is
the input; the input is anywhere in the beam (a ceiling for any rule that picks one string
without knowing the input).
Width 1 is greedy decoding. The gap between the last two columns says whether a wider beam or a
better decoder is what reconstruction needs.

    python benchmarks/beam_width.py --model default --n 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import pandas as pd
import torch

from molvae import MolVAE, chem
from molvae.generation.decoding import check_string, pick_beam
from molvae.runtime import cpu_model

MOSES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "moses"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--widths", default="1,2,4,8,16,32")
    args = parser.parse_args()
    chem.set_rdkit_logging(False)
    vae = MolVAE.load(args.model, device="cpu")
    tokenizer = vae.tokenizer
    test = pd.read_csv(MOSES / "test.csv.gz")["SMILES"].sample(n=args.n, random_state=0)
    prep = vae.prepare(test.tolist())
    mu, _ = vae.encode_dataset(prep.dataset)
    truth = [chem.canonical_smiles(s) for s in prep.dataset.smiles]
    rows = []
    for width in [int(w) for w in args.widths.split(",")]:
        start = time.perf_counter()
        top = picked = nearest = anywhere = 0
        for lo in range(0, len(mu), 256):
            with vae.autocast():
                ids, _ = vae.model.beam_search(mu[lo : lo + 256], beam_width=width)
            texts = [vae._ids_to_texts(beam) for beam in ids]
            near = vae._pick_nearest(mu[lo : lo + 256], texts, check_form=False)
            for i, beam in enumerate(texts):
                # The same check and pick as `molvae reconstruct --beam-pick likeliest`.
                checked = [check_string(t, tokenizer) for t in beam]
                cans = [row[1] for row in checked]
                want = truth[lo + i]
                top += cans[0] == want
                picked += pick_beam(checked)[1] == want
                nearest += near[i][1] == want
                anywhere += want in cans
        seconds = time.perf_counter() - start
        rows.append((width, *(x / len(mu) for x in (top, picked, nearest, anywhere)), seconds))
        print(f"width {width}: {seconds:.0f} s", flush=True)
    print(f"\n## Beam width ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads; model {vae.path}; "
          f"{len(mu):,} MOSES test molecules, decoding their mu)\n")
    print("| beam width | likeliest string | likeliest in canonical form | nearest encoding in "
          "canonical form (default) | input in the beam | seconds |")
    print("|---|---|---|---|---|---|")
    for width, a, b, c, d, seconds in rows:
        print(f"| {width} | {a:.3f} | {b:.3f} | {c:.3f} | {d:.3f} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
