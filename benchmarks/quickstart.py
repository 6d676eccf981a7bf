"""The training quick start end to end: train, reconstruct, sample, evaluate, with wall times.

Runs the README's commands in fresh processes, as a user would:

1. ``molvae train datasets/moses_train_30k.csv.gz --config configs/quickstart.toml --out RUN``
   (with an empty dataset cache, so reading and tokenizing the file is counted);
2. ``molvae reconstruct datasets/moses_test_sample.csv --model RUN`` (held-out MOSES test
   molecules), once with the command's defaults and once greedy from mu (``--refine-steps 0``);
3. ``molvae sample -n 1000 --model RUN --seed 0``;

then scores the samples: valid, unique, mean QED, share with QED > 0.5, novelty against the
training file, median heavy atoms. It reports wall time and CPU time (this process's children,
user + system) of each step: on a shared machine the wall time depends on the load, the CPU
time much less.

    python benchmarks/quickstart.py --out runs/quickstart-bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from molvae import chem
from molvae.runtime import cpu_model

REPO = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-c", "from molvae_cli.main import run; run()"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_step(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout + stderr) of ``molvae ARGS`` in a fresh process; exits on failure."""
    cpu0, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(COMMAND + args, cwd=REPO, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu0
    text = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"molvae {' '.join(args)} failed ({proc.returncode}):\n{text[-3000:]}")
    return wall, cpu, text


def _last(pattern: str, text: str) -> str:
    found = re.findall(pattern, text)
    return found[-1] if found else "n/a"


def score_samples(samples: Path, training: Path) -> dict[str, float]:
    """Valid, unique, QED and novelty of a ``molvae sample`` output against the training file."""
    frame = pd.read_csv(samples)
    valid = frame.loc[frame["valid"].astype(bool), "canonical"].astype(str).tolist()
    unique = sorted(set(valid))
    train = set(pd.read_csv(training)["SMILES"])
    mols = [chem.parse_smiles(s) for s in unique]
    qed = np.array([chem.get_property("QED").func(m) for m in mols])
    heavy = np.array([m.GetNumHeavyAtoms() for m in mols])
    return {
        "samples": len(frame),
        "valid": len(valid) / max(len(frame), 1),
        "unique": len(unique) / max(len(valid), 1),
        "qed_mean": float(qed.mean()) if len(qed) else float("nan"),
        "qed_over_05": float((qed > 0.5).mean()) if len(qed) else float("nan"),
        "novel": float(np.mean([s not in train for s in unique])) if unique else float("nan"),
        "heavy_median": float(np.median(heavy)) if len(heavy) else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="datasets/moses_train_30k.csv.gz")
    parser.add_argument("--config", default="configs/quickstart.toml")
    parser.add_argument("--test", default="datasets/moses_test_sample.csv")
    parser.add_argument("--out", default="runs/quickstart-bench",
                        help="run directory to create (must not exist)")
    parser.add_argument("-n", type=int, default=1000, help="molecules to sample")
    parser.add_argument("--note", default="", help="load conditions, printed with the table")
    parser.add_argument("--trained", action="store_true",
                        help="--out is a finished run of this recipe: skip training, measure the "
                             "rest (the training row then reports the run's own wall time)")
    args = parser.parse_args()
    out = Path(args.out)
    if (REPO / out).exists() != args.trained:
        raise SystemExit(f"{out} exists; choose a new --out" if not args.trained
                         else f"{out} does not exist")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as tmp:
        # An empty dataset cache: the first run of a new user tokenizes the file.
        env = {**os.environ, "MOLVAE_CACHE_DIR": cache, "COLUMNS": "200"}
        rows = []
        if args.trained:
            wall, cpu, text = _trained_run(REPO / out)
        else:
            wall, cpu, text = run_step(
                ["train", args.data, "--config", args.config, "--out", str(out), "--quiet"], env
            )
        epochs = re.findall(r"epoch (\d+): .*?token acc ([\d.]+) exact ([\d.]+)", text)
        last_epoch = epochs[-1] if epochs else ("?", "n/a", "n/a")
        verdicts = [line for line in text.splitlines() if "not usable yet" in line]
        rows.append((f"`molvae train {args.data} --config {args.config}`", wall, cpu,
                     f"{last_epoch[0]} epochs; validation token accuracy {last_epoch[1]}, "
                     f"exact reconstruction {last_epoch[2]}"))
        for label, extra in (("defaults", []), ("greedy from mu", ["--refine-steps", "0"])):
            wall, cpu, text = run_step(["reconstruct", args.test, "--model", str(out), *extra],
                                       env)
            rate = _last(r"exact-match reconstruction[^:]*: ([\d.]+)", text)
            rows.append((f"`molvae reconstruct {args.test}` ({label})", wall, cpu,
                         f"exact reconstruction {rate}"))
        samples = Path(tmp) / "samples.csv"
        wall, cpu, text = run_step(["sample", "-n", str(args.n), "--model", str(out), "--out",
                                    str(samples), "--seed", "0"], env)
        verdicts += [line for line in text.splitlines() if "not usable yet" in line]
        kept = _last(r"(\d[\d,]* kept of [\d,]+ drawn \([\d.]+%)", text)
        s = score_samples(samples, REPO / args.data)
        rows.append((f"`molvae sample -n {args.n}`", wall, cpu,
                     f"{kept}), valid {s['valid']:.3f}, unique {s['unique']:.3f}, "
                     f"novel {s['novel']:.3f}, QED mean {s['qed_mean']:.3f} "
                     f"({s['qed_over_05']:.1%} > 0.5), median {s['heavy_median']:.0f} "
                     "heavy atoms"))
    load_after = os.getloadavg()
    print(f"## Training quick start ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} cores, "
          f"torch {_torch_version()})\n")
    if args.note:
        print(f"Conditions: {args.note}\n")
    print(f"Load average (1/5/15 min) before: {load_before[0]:.1f}/{load_before[1]:.1f}/"
          f"{load_before[2]:.1f}, after: {load_after[0]:.1f}/{load_after[1]:.1f}/"
          f"{load_after[2]:.1f}\n")
    print("| step | wall | CPU (user+sys) | result |\n|---|---|---|---|")
    for name, wall, cpu, result in rows:
        print(f"| {name} | {wall:.0f} s | {cpu:.0f} s | {result} |")
    total_wall, total_cpu = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"| total | {total_wall:.0f} s | {total_cpu:.0f} s | |")
    print("\nVerdicts printed: " + ("; ".join(verdicts) if verdicts else "none (model usable)"))


def _trained_run(run: Path) -> tuple[float, float, str]:
    """(training-loop wall s, NaN CPU s, per-epoch lines) of a finished run, from its files."""
    import json

    config = json.loads((run / "model" / "config.json").read_text())
    lines = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row.get("split") == "validation":
            lines.append(f"epoch {row['epoch']}: token acc {row['val_token_accuracy']:.3f} "
                         f"exact {row['val_exact_reconstruction']:.3f}")
    wall = config.get("training", {}).get("wall_seconds", float("nan"))
    return float(wall), float("nan"), "\n".join(lines)


def _torch_version() -> str:
    import torch

    return torch.__version__


if __name__ == "__main__":
    main()
