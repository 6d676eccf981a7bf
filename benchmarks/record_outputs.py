"""Record the outputs of four commands, to show that a refactoring left behaviour unchanged.

Runs, with the bundled model and fixed seeds:

- ``molvae sample -n 2000 --seed 0``
- ``molvae generate --target QED -n 20 --seed 0``
- ``molvae screen datasets/moses_sample.csv`` (shortlist and rejects)
- ``molvae optimize`` on the first ``--seeds`` molecules of the constrained penalized-logP
  benchmark (``../shared/benchmarks/constrained_plogp/opt.test.logP-SA``), ``--seed 0``

It writes their files into ``OUT`` and prints a table of rows and sha256 per file. Given
``--compare DIR`` (an earlier recording), it also says, per file, whether the two are identical.
A typical use: record on the commit before a change, then on the change, then compare::

    python benchmarks/record_outputs.py runs/outputs-before
    python benchmarks/record_outputs.py runs/outputs-after --compare runs/outputs-before
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO.parent / "shared" / "benchmarks" / "constrained_plogp" / "opt.test.logP-SA"
MOLVAE = [sys.executable, "-c", "from molvae_cli.main import run; run()"]


def _run(args: list[str], cwd: Path) -> float:
    """Seconds ``molvae ARGS`` took, run in ``cwd`` (outside the repository, so that the
    installed molvae is the one imported)."""
    start = time.perf_counter()
    done = subprocess.run([*MOLVAE, *args], capture_output=True, text=True, cwd=cwd)
    if done.returncode:
        sys.exit(f"molvae {' '.join(args)} failed:\n{done.stderr}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--compare", type=Path, help="An earlier recording to compare with.")
    parser.add_argument("--seeds", type=int, default=50, help="Benchmark seeds to optimize.")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    seconds["samples.csv"] = _run(["sample", "-n", "2000", "--seed", "0",
                                   "--out", str(out / "samples.csv")], out)
    seconds["generated.csv"] = _run(["generate", "--target", "QED", "-n", "20", "--seed", "0",
                                     "--out", str(out / "generated.csv")], out)
    seconds["screen.csv"] = _run(["screen", str(REPO / "datasets" / "moses_sample.csv"),
                                  "--out", str(out / "screen.csv"),
                                  "--rejects", str(out / "rejects.csv")], out)
    if BENCH.is_file():
        seeds = [line.split()[0] for line in BENCH.read_text().splitlines() if line.strip()]
        (out / "seeds.csv").write_text("SMILES\n" + "\n".join(seeds[: args.seeds]) + "\n")
        seconds["optimized.csv"] = _run(["optimize", str(out / "seeds.csv"), "--seed", "0",
                                         "--out", str(out / "optimized.csv")], out)
    else:
        print(f"optimize skipped: {BENCH} not found", file=sys.stderr)
    print(f"| file | rows | sha256 | seconds |{' same as --compare |' if args.compare else ''}")
    print(f"|---|---|---|---|{'---|' if args.compare else ''}")
    for name in ("samples.csv", "generated.csv", "screen.csv", "rejects.csv", "optimized.csv"):
        path = out / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        rows = data.count(b"\n") - 1
        line = f"| {name} | {rows:,} | {hashlib.sha256(data).hexdigest()[:16]} | "
        line += f"{seconds[name]:.0f} |" if name in seconds else "(with screen) |"
        if args.compare:
            other = args.compare / name
            line += f" {'yes' if other.is_file() and other.read_bytes() == data else 'NO'} |"
        print(line)


if __name__ == "__main__":
    main()
