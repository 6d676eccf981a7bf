"""Robustness report: hostile inputs and model files per command, faults injected and survived.

Prints one markdown table (and the details under it):

- **inputs**: molecule files drawn by the fuzz harness (``tests/fuzz_inputs.py``: byte-order
  marks, CRLF, quoted newlines, NUL and latin-1 bytes, ragged rows, header only, empty,
  megabyte-long lines, truncated gzip, valid / mutated / junk SMILES), run through every reading
  command in-process; outcomes (output, clear error, traceback, hang) and rows in against rows
  the outputs account for;
- **hostile models**: every case of ``tests/models/hostile_models.py`` handed to
  ``molvae sample --model``: one-line refusals, tracebacks, hangs, pickles that ran;
- **kills**: SIGKILL at seeded random moments (``tests/kill_harness.py``) of ``train`` (the
  soak: killed ``--soak-kills`` times, resumed to the end, compared bitwise with the same run
  uninterrupted), ``screen``, ``evaluate``, ``fit-critic`` and ``design``: after each kill every
  output is absent or complete, and the restarted command completes;
- **shared cache**: two processes filling the same dataset, reference-statistics and novelty
  cache entry at once (``tests/data/test_shared_cache.py``): crashes, corrupt entries, files a
  team cannot read;
- **full disk**: ``tests/training/test_full_disk.py`` (ENOSPC injected into a checkpoint write;
  a real small tmpfs where mounting is permitted);
- **drugs**: the 33 common drugs of ``datasets/common_drugs.csv`` encoded by the default model.

    python benchmarks/robustness.py            # the full run (about 15-20 min on 2 cores)
    python benchmarks/robustness.py --quick    # fewer files and kills (a few minutes)

Targets: 0 tracebacks, 0 hangs, 0 rows unaccounted, 0 corrupt caches, every kill resumable,
at least 30 of the 33 drugs encoded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the shared harnesses live in tests/

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from tests import kill_harness as kh  # noqa: E402
from tests.fuzz_inputs import (  # noqa: E402
    CLEAR_ERROR,
    COMMANDS,
    HANG,
    OUTPUT,
    TRACEBACK,
    classify,
    molecule_files,
    run_case,
)

SLOW = {"optimize", "generate --start-from", "design --start-from", "evaluate --samples",
        "evaluate --reference"}


def draw_files(command, n: int, max_rows: int, min_valid: int, **kwargs) -> list:
    """``n`` files from the fuzz strategy, the same ones every run (derandomized)."""
    files: list = []

    @settings(derandomize=True, database=None, deadline=None, max_examples=n,
              phases=[Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(molecule_files(formats=command.formats, max_rows=max_rows, min_valid=min_valid,
                          **kwargs))
    def collect(file) -> None:
        files.append(file)

    collect()
    return files[:n]


def fuzz_inputs(n_fast: int, n_slow: int, n_train: int, work: Path, log) -> list[dict]:
    """Every reading command on its drawn files: one row of counts per command."""
    rows = []
    for name, command in COMMANDS.items():
        if name == "train":
            files = draw_files(command, n_train, 30, 12, defects=(
                "bom", "crlf", "quoted_newline", "nul", "long_line"))
        elif name in SLOW:
            files = draw_files(command, n_slow, 4, 2)
        else:
            files = draw_files(command, n_fast, 20, 1)
        kinds: Counter[str] = Counter()
        rows_in = accounted = unaccounted = 0
        started = time.monotonic()
        for i, file in enumerate(files):
            case_dir = work / f"{name.replace(' ', '_')}-{i}"
            outcome = run_case(command, file, case_dir, timeout=300,
                               env={"MOLVAE_CACHE_DIR": str(work / "cache")})
            kinds[outcome.kind] += 1
            if outcome.kind == OUTPUT:
                rows_in += outcome.rows_in or 0
                accounted += outcome.rows_accounted or 0
                if outcome.rows_accounted != outcome.rows_in:
                    unaccounted += abs((outcome.rows_in or 0) - (outcome.rows_accounted or 0))
                    log(f"  unaccounted: {outcome.explain()}")
            elif outcome.kind != CLEAR_ERROR:
                log(f"  {outcome.kind}: {outcome.explain()}")
        rows.append({"command": name, "inputs": len(files), "output": kinds[OUTPUT],
                     "clear error": kinds[CLEAR_ERROR], "traceback": kinds[TRACEBACK],
                     "hang": kinds[HANG], "rows in": rows_in, "rows accounted": accounted,
                     "unaccounted": unaccounted, "seconds": time.monotonic() - started})
        log(f"inputs: {name}: {dict(kinds)} in {rows[-1]['seconds']:.0f}s")
    return rows


def hostile_models(work: Path, log) -> dict:
    """Every hostile model case through ``molvae sample --model``."""
    from molvae.models.store import resolve_model_path
    from tests.cli.runner import molvae
    from tests.models.hostile_models import hostile_cases, make_hostile, pickle_marker

    source = resolve_model_path("default")
    kinds: Counter[str] = Counter()
    pickles_ran = slowest = 0.0
    cases = hostile_cases()
    for case in cases:
        target = work / "hostile" / case.name
        path = make_hostile(case, source, target)
        started = time.process_time()
        result = molvae("sample", "-n", "5", "--model", path, "--out", target.parent / "s.csv")
        slowest = max(slowest, time.process_time() - started)
        kind = classify(result.returncode, result.stderr)
        named = case.names in result.stderr and case.expected in result.stderr
        kinds[kind if kind != CLEAR_ERROR or named else "wrong message"] += 1
        if pickle_marker(target).exists():
            pickles_ran += 1
        if kind != CLEAR_ERROR or not named:
            log(f"  hostile model {case.name}: {kind}: {result.stderr.strip()[-300:]}")
    log(f"hostile models: {dict(kinds)}")
    return {"cases": len(cases), "refused": kinds[CLEAR_ERROR], "traceback": kinds[TRACEBACK],
            "hang": kinds[HANG], "wrong message": kinds["wrong message"],
            "pickles run": int(pickles_ran), "slowest cpu s": slowest}


def soak(kills: int, work: Path, log) -> dict:
    """``train`` killed ``kills`` times and resumed to the end, against the uninterrupted run."""
    # Longer than the tests' run (8 epochs, 72 steps), so that 20 kills land before its end.
    config = kh.tiny_train_config(work, epochs=8)
    reference = work / "reference"
    env = kh.command_env(MOLVAE_CACHE_DIR=str(work / "cache"))
    ref = kh.time_command(kh.train_args(kh.SAMPLE, reference, config), env=env)
    if ref.returncode != 0:
        raise SystemExit(f"the uninterrupted run failed:\n{ref.stderr}")
    out = work / "killed"
    report = kh.run_with_kills(
        kh.train_args(kh.SAMPLE, out, config), kills=kills, delay=(0.0, 1.0), seed=2026,
        restart=kh.train_restart(kh.SAMPLE, out, config), env=env,
        ready=kh.written_since(out / "metrics.jsonl"), max_attempts=3 * kills + 1,
    )
    log(f"soak: {report.summary()}")
    same = report.completed and not kh.same_weights(reference / "model", out / "model") and \
        not kh.same_weights(reference / "checkpoint", out / "checkpoint")
    return {"kills": report.kills, "completed": report.completed, "same weights": same,
            "reference": reference, "uninterrupted s": ref.seconds}


def command_kills(kills: int, model: Path, work: Path, log) -> list[dict]:
    """``screen``, ``evaluate``, ``fit-critic`` and ``design`` killed ``kills`` times each."""
    from tests.evaluation.test_kill_evaluate import cache_problems, report_problem
    from tests.optimize.test_kill_design import FAST, ORACLE, record_problem
    from tests.screening import test_kill_screen
    from tests.training.test_kill_fit_critic import out_problem

    rows = []
    test = pd.read_csv(kh.TEST_SAMPLE)

    def run(name, args, check, delay, restart_args=None, ready=None, env=None, final=None):
        report = kh.run_with_kills(args, kills=kills, delay=delay, seed=len(rows) + 1,
                                   check=check, restart_args=restart_args, ready=ready,
                                   env=env or kh.command_env(
                                       MOLVAE_CACHE_DIR=str(work / "cache")))
        problems = list(report.problems)
        if report.completed and final is not None and (problem := final()):
            problems.append(f"after completion: {problem}")
        log(f"kills: {name}: {report.summary()} {problems or ''}")
        rows.append({"command": name, "kills": report.kills, "completed": report.completed,
                     "problems": problems})

    d = work / "screen"
    d.mkdir(parents=True)
    data = d / "in.csv"
    pd.read_csv(kh.SAMPLE).head(test_kill_screen.ROWS).to_csv(data, index=False)
    sl, rj = d / "sl.csv", d / "sl.rejects.csv"
    run("screen", ["screen", data, "--out", sl, "--no-progress", "--jobs", "1"],
        lambda a: test_kill_screen.outputs_problem(sl, rj), (0.2, 2.0),
        ready=kh.written_since(d), final=lambda: test_kill_screen.outputs_problem(sl, rj))

    d = work / "evaluate"
    d.mkdir(parents=True)
    samples, reference = d / "samples.csv", d / "reference.csv"
    test.head(60).to_csv(samples, index=False)
    test.tail(300).to_csv(reference, index=False)
    cache, report_path = d / "cache", d / "report.json"
    run("evaluate", ["evaluate", "--samples", samples, "--reference", reference, "--out",
                     report_path],
        lambda a: report_problem(report_path) or "; ".join(cache_problems(cache)) or None,
        (1.0, 8.0), env=kh.command_env(MOLVAE_CACHE_DIR=str(cache)),
        final=lambda: None if "metrics" in json.loads(report_path.read_text()) else "no metrics")

    d = work / "fit-critic"
    d.mkdir(parents=True)
    out = d / "with_critic"
    run("fit-critic", ["fit-critic", kh.SAMPLE, "--model", model, "--out", out, "--samples",
                       "200", "--epochs", "3", "--device", "cpu"],
        lambda a: out_problem(out), (2.0, 10.0), final=lambda: out_problem(out))

    d = work / "design"
    d.mkdir(parents=True)
    oracle = d / "oracle.py"
    oracle.write_text(ORACLE)
    calls = d / "calls.csv"
    args = ["design", "--oracle", f"{oracle}:heavy_atoms", "--budget", "25", "--out", calls,
            "--seed", "0", *FAST]

    def design_final() -> str | None:
        frame = pd.read_csv(calls)
        ok = frame["call"].tolist() == list(range(1, 26)) and frame["smiles"].is_unique
        return None if ok else "calls not 1..25 or repeated"

    run("design", args, lambda a: record_problem(calls), (0.1, 1.5),
        restart_args=[*args, "--resume"], ready=kh.written_since(calls), final=design_final)
    return rows


def shared_cache(rounds: int, work: Path, log) -> dict:
    """Two processes at once on the same cache entry, ``rounds`` times per cache."""
    from molvae.evaluation.reference import ReferenceStats
    from molvae.screening.novelty import ReferenceFingerprints
    from molvae.training.prepare import prepare_data
    from tests.conftest import tiny_train_config
    from tests.data.test_shared_cache import leftovers, race, team_readable_problems

    work.mkdir(parents=True, exist_ok=True)
    reference = work / "reference.csv"
    pd.read_csv(kh.TEST_SAMPLE).head(100).to_csv(reference, index=False)
    cfg = tiny_train_config(max_molecules=300)
    counts = Counter()
    old = os.umask(0o022)
    try:
        for r in range(rounds):
            for name, make in (
                ("dataset", lambda c: lambda: len(prepare_data(kh.SAMPLE, cfg, cache=c).train)),
                ("reference", lambda c: lambda: ReferenceStats.load_or_compute(
                    reference, cache=c, n_jobs=1).n_molecules),
                ("novelty", lambda c: lambda: len(ReferenceFingerprints.load_or_compute(
                    reference, cache=c, n_jobs=1))),
            ):
                cache = work / f"cache-{name}-{r}"
                counts["races"] += 1
                try:
                    results = race(make(cache))
                    again = make(cache)()  # from the cache the two processes left
                    if len(set(results)) != 1 or again != results[0]:
                        counts["corrupt"] += 1
                        log(f"  shared cache {name}: results {results}, reread {again}")
                except (AssertionError, Exception) as exc:  # noqa: BLE001 - counted, reported
                    counts["crash"] += 1
                    log(f"  shared cache {name}: {type(exc).__name__}: {exc}")
                counts["leftovers"] += len(leftovers(cache))
                counts["unreadable"] += len(team_readable_problems(cache))
    finally:
        os.umask(old)
    log(f"shared cache: {dict(counts)}")
    return dict(counts)


def full_disk(log) -> str:
    """The full-disk tests, run by pytest: ``passed``/``skipped`` per test."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/training/test_full_disk.py", "-q", "-rs",
         "-n0", "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True,
    )
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    log(f"full disk: {last} {skipped}")
    return last.strip("= ") + (f" ({'; '.join(skipped)})" if skipped else "")


def drugs(work: Path) -> tuple[int, int, int]:
    """(encoded, flattened, total) for the 33 common drugs and the default model."""
    from tests.cli.runner import molvae

    out = work / "drugs.csv"
    result = molvae("encode", REPO / "datasets" / "common_drugs.csv", "--out", out)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    frame = pd.read_csv(out)
    ok = frame["status"] == "ok"
    flattened = ok & (frame["encoded_as"] != frame["canonical"])
    return int(ok.sum()), int(flattened.sum()), len(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer files, kills and rounds")
    parser.add_argument("--soak-kills", type=int, default=None, help="default 20 (quick: 5)")
    args = parser.parse_args()
    quick = args.quick
    soak_kills = args.soak_kills or (5 if quick else 20)
    from molvae import chem
    from molvae.runtime import machine_summary

    chem.set_rdkit_logging(False)
    started = time.monotonic()
    lines: list[str] = []

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)
        lines.append(message)

    with tempfile.TemporaryDirectory(prefix="molvae-robustness-") as tmp:
        work = Path(tmp)
        os.environ["MOLVAE_CACHE_DIR"] = str(work / "cache")
        encoded, flattened, total = drugs(work)
        log(f"drugs: {encoded}/{total} encoded ({flattened} flattened)")
        inputs = fuzz_inputs(3 if quick else 8, 1 if quick else 2, 1 if quick else 2,
                             work / "fuzz", log)
        hostile = hostile_models(work, log)
        soaked = soak(soak_kills, work / "soak", log)
        kills = command_kills(1 if quick else 2, soaked["reference"], work / "kills", log)
        cache = shared_cache(1 if quick else 2, work / "shared", log)
        disk = full_disk(log)
    minutes = (time.monotonic() - started) / 60

    print(f"# robustness ({'--quick' if quick else 'default'} run, {minutes:.1f} min)\n")
    print(f"{machine_summary()}; {dt.date.today()}\n")
    print("| what | tried | output | clear error | traceback | hang | rows in | rows "
          "accounted | unaccounted |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in inputs:
        print(f"| inputs: `{r['command']}` | {r['inputs']} | {r['output']} | "
              f"{r['clear error']} | {r['traceback']} | {r['hang']} | {r['rows in']} | "
              f"{r['rows accounted']} | {r['unaccounted']} |")
    print(f"| hostile models: `sample --model` | {hostile['cases']} | 0 | {hostile['refused']} "
          f"refused in one line naming the file | {hostile['traceback']} | {hostile['hang']} "
          f"| | | |")
    print()
    print("| fault | injected | survived | detail |")
    print("|---|---|---|---|")
    print(f"| `train` soak: SIGKILL, then `--resume` | {soaked['kills']} kills | "
          f"{'yes' if soaked['same weights'] else 'NO'} | bitwise the weights of the "
          f"uninterrupted run (best model and last checkpoint): {soaked['same weights']} |")
    for r in kills:
        ok = r["completed"] and not r["problems"]
        print(f"| `{r['command']}`: SIGKILL, then rerun | {r['kills']} kills | "
              f"{'yes' if ok else 'NO'} | outputs absent or complete after each kill; "
              f"{'; '.join(r['problems']) or 'no half-written output'} |")
    print(f"| shared cache: two processes on one entry | {cache.get('races', 0)} races | "
          f"{'yes' if not (cache.get('crash') or cache.get('corrupt')) else 'NO'} | "
          f"{cache.get('crash', 0)} crashes, {cache.get('corrupt', 0)} corrupt entries, "
          f"{cache.get('leftovers', 0)} temporary files left, {cache.get('unreadable', 0)} "
          "paths unreadable by the group (umask 022) |")
    print(f"| full disk (ENOSPC in a checkpoint; real tmpfs) | 2 tests | "
          f"{'yes' if 'failed' not in disk else 'NO'} | {disk} |")
    print()
    tracebacks = sum(r["traceback"] for r in inputs) + hostile["traceback"]
    hangs = sum(r["hang"] for r in inputs) + hostile["hang"]
    unaccounted = sum(r["unaccounted"] for r in inputs)
    resumable = soaked["same weights"] and all(r["completed"] and not r["problems"]
                                               for r in kills)
    print(f"**Targets:** {tracebacks} tracebacks (target 0), {hangs} hangs (0), {unaccounted} "
          f"rows unaccounted (0), {cache.get('corrupt', 0)} corrupt caches (0), every kill "
          f"resumable: {'yes' if resumable else 'no'}, pickles run: {hostile['pickles run']} "
          f"(0), drugs encoded by the default model: {encoded} of {total} ({flattened} in "
          "flattened form; target >= 30).")


if __name__ == "__main__":
    main()
