"""PMO benchmark (Gao et al., NeurIPS 2022, "Sample efficiency matters"): 16 GuacaMol tasks.

Runs molecular optimizers under PMO's protocol: 10,000 oracle calls per run, one call per unique
canonical SMILES (repeats free, invalid SMILES free and scored 0), AUC of the top-10 mean every
100 calls (``pmo_protocol.top_auc``), seeds 0, 1, 2 (then 3, 5). Methods:

- ``screening``: ZINC-250k (``../shared/datasets/zinc250k``) shuffled with ``np.random.seed(seed)``
  and scored in batches of 100 until the budget is spent (PMO's ``main/screening``);
- ``graph_ga``: the ``mol-ga`` package's Graph GA (``mol_ga.default_ga``) from 120 random ZINC-250k
  molecules that count against the budget, population 120, 70 offspring a generation;
- ``molvae``: ``molvae.design(oracle, budget, model=None, seed=seed, record=..., resume=True)`` with
  the bundled model (skipped with a message when this molvae has no ``design``).

The oracles are GuacaMol's scoring functions, built as TDC (which PMO calls) defines them; a
score GuacaMol marks as corrupt (-1) counts as 0, TDC's default for a molecule it cannot score.
Results go to ``benchmarks/results/pmo/runs.jsonl``, one line per (method, task, seed) appended
when the run ends; a run already there is skipped, so the full grid can be spread over several
sittings. ``--budget`` other than 10,000 writes to ``runs_budget<N>.jsonl`` and the table says
the numbers are not comparable with PMO's.

Install (GuacaMol pins an old FCD and ``rdkit-pypi``, so it goes in without its dependencies;
the ``benchmark`` extra brings mol-ga and what GuacaMol needs at run time)::

    pip install -e ".[benchmark]"
    pip install --no-deps guacamol==0.5.5

Run from the repository root::

    python benchmarks/pmo.py --methods screening,graph_ga --seeds 0
    python benchmarks/pmo.py --methods molvae --tasks qed,median1 --seeds 0,1,2
    python benchmarks/pmo.py --table-only
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import importlib
import json
import os
import platform
import random
import resource
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pmo_protocol import PMO_BUDGET, BudgetExhausted, CountingOracle, summarize  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ZINC = REPO.parent / "shared" / "datasets" / "zinc250k" / "zinc250k.csv.gz"
RESULTS = REPO / "benchmarks" / "results" / "pmo"
RECORDS = REPO / "runs" / "pmo"

TASKS = (
    "albuterol_similarity", "amlodipine_mpo", "celecoxib_rediscovery", "deco_hop",
    "fexofenadine_mpo", "median1", "median2", "mestranol_similarity", "osimertinib_mpo",
    "perindopril_mpo", "qed", "ranolazine_mpo", "scaffold_hop", "thiothixene_rediscovery",
    "troglitazone_rediscovery", "valsartan_smarts",
)
METHODS = ("screening", "graph_ga", "molvae")

# Sums of AUC top-10 over the 16 tasks, PMO's results workbook (5 seeds).
PUBLISHED_SUMS = {
    "REINVENT": 9.726, "GP BO": 9.258, "Graph GA": 9.083, "SMILES LSTM hill-climbing": 8.702,
    "SMILES-VAE BO": 7.094, "Screening": 7.043, "SELFIES-VAE BO": 6.942, "JT-VAE BO": 6.912,
}
# mol-ga seed 0 under this recipe as quoted in issue 23 (2 CPU cores); sum 9.957.
MOLGA_ISSUE_SEED0 = {
    "albuterol_similarity": 0.884, "amlodipine_mpo": 0.749, "celecoxib_rediscovery": 0.518,
    "deco_hop": 0.654, "fexofenadine_mpo": 0.844, "median1": 0.377, "median2": 0.307,
    "mestranol_similarity": 0.789, "osimertinib_mpo": 0.857, "perindopril_mpo": 0.594,
    "qed": 0.942, "ranolazine_mpo": 0.841, "scaffold_hop": 0.552,
    "thiothixene_rediscovery": 0.518, "troglitazone_rediscovery": 0.531, "valsartan_smarts": 0.000,
}


# --------------------------------------------------------------------------------------------
# Oracles
# --------------------------------------------------------------------------------------------


def import_guacamol() -> types.ModuleType:
    """``guacamol.standard_benchmarks``, working around its import-time dependencies.

    GuacaMol 0.5.5 imports ``scipy.histogram`` (removed from SciPy) and, at module level of
    ``standard_benchmarks``, the ``fcd`` package, whose scoring functions are not used here: an
    ``fcd`` that does not import is replaced by an empty module.
    """
    import scipy

    if not hasattr(scipy, "histogram"):
        scipy.histogram = np.histogram  # type: ignore[attr-defined]
    try:
        import fcd  # noqa: F401
    except Exception:
        sys.modules["fcd"] = types.ModuleType("fcd")
    try:
        return importlib.import_module("guacamol.standard_benchmarks")
    except ImportError as exc:
        raise SystemExit(
            f"error: GuacaMol is not installed ({exc}); run: pip install --no-deps guacamol==0.5.5"
        ) from None


def guacamol_objectives() -> dict[str, object]:
    """The 16 tasks as GuacaMol scoring functions, parameterized as TDC defines them.

    TDC's ``chem_utils/oracle/oracle.py`` (which PMO's ``tdc.Oracle(name=...)`` calls) re-implements
    GuacaMol's v2 goal-directed suite: the rediscoveries use ECFP4 counts with no clipping
    (GuacaMol's ``threshold=1.0``), albuterol FCFP4 and mestranol AP similarity clipped at 0.75,
    median1 ECFP4 / median2 ECFP6 geometric means, the MPOs and hops with the same modifiers.
    ``benchmarks/pmo.py --check-tdc PATH`` compares these against TDC's own code.
    """
    sb = import_guacamol()
    sim = sb.similarity
    benchmarks = {
        "albuterol_similarity": sim("CC(C)(C)NCC(O)c1ccc(O)c(CO)c1", "Albuterol",
                                    fp_type="FCFP4", threshold=0.75),
        "amlodipine_mpo": sb.amlodipine_rings(),
        "celecoxib_rediscovery": sim("CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F",
                                     "Celecoxib", fp_type="ECFP4", threshold=1.0,
                                     rediscovery=True),
        "deco_hop": sb.decoration_hop(),
        "fexofenadine_mpo": sb.hard_fexofenadine(),
        "median1": sb.median_camphor_menthol(),
        "median2": sb.median_tadalafil_sildenafil(),
        "mestranol_similarity": sim(
            "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1", "Mestranol",
            fp_type="AP", threshold=0.75),
        "osimertinib_mpo": sb.hard_osimertinib(),
        "perindopril_mpo": sb.perindopril_rings(),
        "qed": sb.qed_benchmark(),
        "ranolazine_mpo": sb.ranolazine_mpo(),
        "scaffold_hop": sb.scaffold_hop(),
        "thiothixene_rediscovery": sim("CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1",
                                       "Thiothixene", fp_type="ECFP4", threshold=1.0,
                                       rediscovery=True),
        "troglitazone_rediscovery": sim("Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O",
                                        "Troglitazone", fp_type="ECFP4", threshold=1.0,
                                        rediscovery=True),
        "valsartan_smarts": sb.valsartan_smarts(),
    }
    return {name: bench.objective for name, bench in benchmarks.items()}


def task_scorer(objective: object) -> Callable[[list[str]], list[float]]:
    """Batch scorer of one GuacaMol objective; GuacaMol's corrupt score (-1) becomes 0.0."""
    corrupt = objective.corrupt_score  # type: ignore[attr-defined]

    def score(smiles: list[str]) -> list[float]:
        out = []
        for s in smiles:
            v = float(objective.score(s))  # type: ignore[attr-defined]
            out.append(0.0 if v == corrupt else v)
        return out

    return score


# Targets of the 16 tasks and valsartan itself (for the valsartan SMARTS), added to --check-tdc.
CHECK_MOLECULES = [
    "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",
    r"Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\C(=O)OC",
    "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F",
    "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C",
    "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4",
    "CC1(C)C2CCC1(C)C(=O)C2", "CC(C)C1CCC(C)CC1O",
    "O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C",
    "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C",
    "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1",
    "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34",
    "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC",
    "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2",
    "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1",
    "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O",
    "CCCCC(=O)N(Cc1ccc(cc1)-c1ccccc1-c1nn[nH]n1)C(C(C)C)C(O)=O",
    "NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F",
]


def check_tdc(tdc_oracle_py: Path, n: int) -> int:
    """Score ``n`` ZINC molecules with GuacaMol and with TDC's own oracle code; print differences.

    ``tdc_oracle_py`` is ``tdc/chem_utils/oracle/oracle.py`` from a TDC checkout; only its pure
    RDKit functions are executed (its package-relative imports are replaced by stubs).
    """
    src = tdc_oracle_py.read_text()
    for stale, stub in (
        ("from ...utils import print_sys, install", "print_sys = install = print"),
        ("from ...utils import oracle_load", "oracle_load = None"),
        ("from rdkit.six import iteritems", "iteritems = dict.items"),
    ):
        src = src.replace(stale, stub)
    ns: dict[str, object] = {"__name__": "tdc_oracle"}
    pkg_resources = types.ModuleType("pkg_resources")
    pkg_resources.get_distribution = lambda name: types.SimpleNamespace(version="1.3")  # type: ignore[attr-defined]
    sys.modules.setdefault("pkg_resources", pkg_resources)
    from rdkit import rdBase

    blocker = rdBase.BlockLogs()  # TDC's code calls RDKit's deprecated fingerprint functions
    exec(compile(src, str(tdc_oracle_py), "exec"), ns)
    objectives = guacamol_objectives()
    smiles = zinc_smiles()
    rng = np.random.default_rng(0)
    sample = [smiles[i] for i in rng.choice(len(smiles), size=n, replace=False)]
    sample += CHECK_MOLECULES  # the task targets, so that every term of every task is exercised
    worst_all = 0.0
    print("| task | molecules | max abs difference GuacaMol vs TDC | mean score |")
    print("|---|---|---|---|")
    for task in TASKS:
        tdc_fn = ns[task]
        ours = task_scorer(objectives[task])(sample)
        theirs = []
        for s in sample:
            try:
                theirs.append(float(tdc_fn(s)))  # type: ignore[operator]
            except Exception:
                theirs.append(0.0)  # TDC's Oracle returns default_property on an exception
        diff = float(np.max(np.abs(np.array(ours) - np.array(theirs))))
        worst_all = max(worst_all, diff)
        print(f"| {task} | {len(sample)} | {diff:.2e} | {np.mean(ours):.4f} |")
    del blocker
    print(f"\nlargest difference over all tasks: {worst_all:.2e}")
    return 0 if worst_all < 1e-9 else 1


# --------------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------------


_ZINC_CACHE: list[str] = []


def zinc_smiles() -> list[str]:
    """ZINC-250k as distributed (PMO's screening library and starting pool), in file order."""
    if not _ZINC_CACHE:
        if not ZINC.exists():
            raise SystemExit(f"error: ZINC-250k not found at {ZINC}")
        import gzip

        with gzip.open(ZINC, "rt") as fh:
            lines = [line.strip() for line in fh]
        _ZINC_CACHE.extend(s for s in lines[1:] if s)
    return _ZINC_CACHE


def run_screening(oracle: CountingOracle, seed: int, args: argparse.Namespace) -> dict:
    """PMO's screening: shuffle the library with ``np.random.seed(seed)``, score 100 at a time."""
    np.random.seed(seed)
    library = list(zinc_smiles())
    np.random.shuffle(library)
    try:
        for i in range(0, len(library), 100):
            oracle(library[i : i + 100])
            if oracle.finished:
                break
    except BudgetExhausted:
        pass
    return {}


def run_graph_ga(oracle: CountingOracle, seed: int, args: argparse.Namespace) -> dict:
    """mol-ga's Graph GA from 120 random ZINC molecules (scored, counted), population 120,
    70 offspring a generation."""
    try:
        from mol_ga import default_ga
    except ImportError:
        raise SystemExit("error: mol-ga is not installed; run: pip install -e .") \
            from None
    rng = random.Random(seed)
    np.random.seed(seed)
    start = rng.sample(zinc_smiles(), 120)
    generations = 0

    def scoring(smiles: list[str]) -> list[float]:
        nonlocal generations
        generations += 1
        return oracle(smiles)

    with contextlib.suppress(BudgetExhausted):
        default_ga(
            starting_population_smiles=start, scoring_function=scoring,
            max_generations=10**9, offspring_size=70, population_size=120, rng=rng,
        )
    return {"generations": generations - 1}


def vae_share(run: dict, vae_sources: set[str]) -> float:
    """Share of a molvae run's top 10 that the VAE proposed, from its recorded sources."""
    sources = run.get("top10_sources")
    if not sources:
        return float(run.get("vae_share_top10", float("nan")))
    return sum(n for s, n in sources.items() if s in vae_sources) / sum(sources.values())


def top10_lineage(calls: pd.DataFrame, order: list[int], vae_sources: set[str]) -> dict | None:
    """Where the top 10 (rows ``order`` of ``calls``) came from, one generation back: the VAE
    (``vae``), a graph-GA child with at least one parent the VAE proposed (``ga-of-vae``), or
    with none (``ga-of-other``: parents from the GA or the start), or a start molecule. None
    for a record without parents (written before design recorded them)."""
    ga = calls["source"] == "graph-ga"
    parents = calls["parents"] if "parents" in calls else pd.Series("", index=calls.index)
    if not ga.any() or (parents[ga] == "").all():
        return None
    source_of = dict(zip(calls["smiles"], calls["source"], strict=True))
    counts: dict[str, int] = {}
    for i in order:
        source = str(calls["source"].iloc[i])
        if source in vae_sources:
            kind = "vae"
        elif source == "graph-ga":
            mothers = str(parents.iloc[i]).split()
            kind = ("ga-of-vae" if any(source_of.get(m) in vae_sources for m in mothers)
                    else "ga-of-other")
        else:
            kind = source
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def cpu_seconds(usage: resource.struct_rusage) -> float:
    """User plus system CPU seconds of a ``resource.getrusage`` result."""
    return usage.ru_utime + usage.ru_stime


def run_molvae(oracle: CountingOracle, seed: int, args: argparse.Namespace) -> dict:
    """``molvae.design`` with the bundled model; metrics from its own record of calls.

    Our counting oracle sits between design and the task: it checks independently that design
    never sends a repeat or goes over budget. On a resumed run the record holds calls made in an
    earlier process, so the metrics are computed from ``result.calls`` (all rows, in call order,
    a failed call scoring 0.0 as in TDC).
    """
    design = molvae_design()
    if design is None:
        raise SystemExit("error: this molvae has no design(); skip --methods molvae")
    task, budget = args._task, oracle.budget
    record = RECORDS / args._method / f"{task}_s{seed}_b{budget}.csv"
    record.parent.mkdir(parents=True, exist_ok=True)
    from molvae.settings import DesignSettings

    settings = DesignSettings(**args._design)
    # With --start-zinc N: N random ZINC-250k molecules scored first (counted), drawn as
    # run_graph_ga draws its starting population, so N=120 starts from the same molecules.
    start = random.Random(seed).sample(zinc_smiles(), args.start_zinc) if args.start_zinc else None
    result = design(oracle, budget=budget, model=args.model, seed=seed, record=record,
                    resume=True, settings=settings, start_from=start)
    calls = result.calls.sort_values("call")
    scores = [0.0 if (v is None or v != v) else float(v) for v in calls["score"]]
    # Calls read from the record of an earlier process: the run's wall and CPU times cover
    # only the rest.
    extra: dict = {"record": str(record.relative_to(REPO)), "resumed_calls": result.resumed}
    # Top-10 by score (first reached wins a tie, as in the call order) and where it came from.
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:10]
    sources = [str(calls["source"].iloc[i]) for i in order]
    vae_sources = set(args.vae_sources.split(","))
    extra["top10_sources"] = {s: sources.count(s) for s in sorted(set(sources))}
    extra["vae_share_top10"] = vae_share(extra, vae_sources)
    lineage = top10_lineage(calls, order, vae_sources)
    if lineage is not None:
        extra["top10_lineage"] = lineage
    extra["sources_all"] = {str(k): int(v) for k, v in calls["source"].value_counts().items()}
    fresh = oracle.calls == len(scores)
    extra["counted_by_harness"] = oracle.calls
    extra["harness_agrees"] = bool(fresh and oracle.scores == scores) if fresh else None
    extra["_scores"] = scores
    if args._design:
        extra["design_settings"] = args._design
    # Every setting the run used, so that rows made under different defaults stay apart.
    extra["design_settings_all"] = dataclasses.asdict(settings)
    if args.model is not None:
        extra["model"] = args.model
    if args.start_zinc:
        extra["start_zinc"] = args.start_zinc
    return extra


def molvae_design() -> Callable | None:
    """``molvae.design`` if this molvae has it, else None."""
    try:
        import molvae

        return getattr(molvae, "design", None)
    except (ImportError, AttributeError):
        return None


# The ``source`` values of molvae's call records that are the VAE's proposals (as
# ``molvae.optimize.design.VAE_SOURCES``; everything but ``start``).
VAE_SOURCES = ("vae-prior", "vae-trust-region", "vae-crossover", "vae-splice")

RUNNERS = {"screening": run_screening, "graph_ga": run_graph_ga, "molvae": run_molvae}


# --------------------------------------------------------------------------------------------
# Results file and tables
# --------------------------------------------------------------------------------------------


def results_path(budget: int) -> Path:
    name = "runs.jsonl" if budget == PMO_BUDGET else f"runs_budget{budget}.jsonl"
    return RESULTS / name


def load_runs(path: Path) -> list[dict]:
    if not path.exists():
        return []
    runs = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            print(f"warning: {path.name} line {n} is not JSON (a run killed while writing?); "
                  "ignored", file=sys.stderr)
    return runs


def run_one(method: str, task: str, seed: int, objectives: dict, args: argparse.Namespace) -> dict:
    oracle = CountingOracle(task_scorer(objectives[task]), budget=args.budget)
    args._task = task
    args._method = method
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    extra = RUNNERS[runner_of(method)](oracle, seed, args)
    wall = time.perf_counter() - t0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    scores = extra.pop("_scores", oracle.scores)
    row = {
        "method": method, "task": task, "seed": seed, "budget": args.budget,
        **summarize(scores, args.budget),
        "n_invalid": oracle.n_invalid, "n_repeats": oracle.n_repeats,
        "n_failed": oracle.n_failed,
        "wall_s": round(wall, 1), "cpu_s": round(time.process_time() - cpu0, 1),
        "oracle_s": round(oracle.oracle_seconds, 1),
        "oracle_cpu_s": round(oracle.oracle_cpu_seconds, 1),
        # CPU of the forked decode workers (reaped when each decode ends), and peak memory:
        # this process's, and the largest of any worker's (they share the parent's pages
        # until they write, so the sum overstates what the run held).
        "workers_cpu_s": round(cpu_seconds(children) - cpu_seconds(children0), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "worker_peak_rss_mb": round(children.ru_maxrss / 1024),
        **extra,
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "host": f"{_cpu()}, {os.cpu_count()} cores",
        "note": args.note,
    }
    return row


def _cpu() -> str:
    try:
        from molvae.runtime import cpu_model

        return cpu_model()
    except ImportError:
        return platform.processor() or "unknown CPU"


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} +- {np.std(values, ddof=1):.3f}"


def lineage_cell(rs: list[dict]) -> str:
    """Mean number of top-10 graph-GA children of a VAE molecule over the runs that recorded
    it (records older than the lineage column have none), naming how many those are."""
    known = [r["top10_lineage"].get("ga-of-vae", 0) for r in rs
             if isinstance(r.get("top10_lineage"), dict)]
    if not known:
        return "-"
    cell = f"{np.mean(known):.1f}"
    return cell if len(known) == len(rs) else f"{cell} ({len(known)} of {len(rs)} seeds)"


def print_tables(runs: list[dict], methods: list[str], tasks: list[str], budget: int,
                 vae_sources: Sequence[str] = VAE_SOURCES) -> None:
    """Per-task tables (mean +- sample std over seeds) and the sums beside published numbers."""
    if budget != PMO_BUDGET:
        print(f"**Budget {budget} calls: quick run, NOT comparable with PMO's 10,000-call "
              "numbers.**\n")
    by = {}
    for r in runs:
        by.setdefault((r["method"], r["task"]), {})[r["seed"]] = r
    methods = [m for m in methods if any((m, t) in by for t in tasks)]
    if not methods:
        print("no runs recorded for these methods and tasks")
        return
    seeds_of = {m: sorted({s for t in tasks for s in by.get((m, t), {})}) for m in methods}
    print("## AUC top-10 (PMO's metric) per task, mean +- std over seeds\n")
    head = " | ".join(f"{m} (seeds {','.join(map(str, seeds_of[m]))})" for m in methods)
    full = budget == PMO_BUDGET  # the quoted mol-ga numbers are 10,000-call runs
    print(f"| task | {head} |" + (" mol-ga seed 0 (issue 23) |" if full else ""))
    print("|---|" + "---|" * (len(methods) + full))
    for t in tasks:
        cells = [mean_std([r["auc_top10"] for r in by.get((m, t), {}).values()]) for m in methods]
        if full:
            cells.append(f"{MOLGA_ISSUE_SEED0[t]:.3f}")
        print(f"| {t} | " + " | ".join(cells) + " |")
    sums = []
    for m in methods:
        complete = [s for s in seeds_of[m] if all(s in by.get((m, t), {}) for t in tasks)]
        per_seed = [sum(by[(m, t)][s]["auc_top10"] for t in tasks) for s in complete]
        n_tasks = sum(1 for t in tasks if (m, t) in by)
        partial = sum(np.mean([r["auc_top10"] for r in by[(m, t)].values()])
                      for t in tasks if (m, t) in by)
        cell = (mean_std(per_seed) if per_seed else
                f"{partial:.3f} over {n_tasks}/{len(tasks)} tasks")
        sums.append(cell)
    issue_sum = sum(MOLGA_ISSUE_SEED0[t] for t in tasks)
    if full:
        sums.append(f"{issue_sum:.3f}")
    print(f"| **sum ({len(tasks)} tasks)** | " + " | ".join(f"**{c}**" for c in sums) + " |")
    if full and len(tasks) == len(TASKS):
        print("\nPublished sums of AUC top-10 over these 16 tasks (PMO, 5 seeds): "
              + ", ".join(f"{k} {v:.3f}" for k, v in PUBLISHED_SUMS.items()) + ".")
    for m in methods:
        end = "10k" if budget == PMO_BUDGET else str(budget)
        early = "1k" if budget >= 1000 else str(budget)
        print(f"\n## {m}: top-1 / top-10 mean at {early} and {end} calls, cost per run\n")
        extra_head = (" | VAE share of top-10 | top-10 GA children of a VAE molecule"
                      if runner_of(m) == "molvae" else "")
        print(f"| task | seeds | top-1 @{early} | top-10 @{early} | top-1 @{end} | top-10 @{end} "
              "| calls "
              f"| wall s | CPU s | oracle wall s | oracle CPU s{extra_head} |")
        print("|---|---|---|---|---|---|---|---|---|---|---" + ("|---|---" if extra_head else "")
              + "|")
        for t in tasks:
            rs = list(by.get((m, t), {}).values())
            if not rs:
                continue
            cells = [mean_std([r[k] for r in rs]) for k in
                     ("top1_1k", "top10_1k", "top1_end", "top10_end")]
            calls = f"{np.mean([r['n_calls'] for r in rs]):,.0f}"
            wall = f"{np.mean([r['wall_s'] for r in rs]):.0f}"
            cpu = f"{np.mean([r['cpu_s'] for r in rs]):.0f}"
            orac = f"{np.mean([r['oracle_s'] for r in rs]):.0f}"
            ocpu = [r["oracle_cpu_s"] for r in rs if "oracle_cpu_s" in r]
            ocpu_cell = f"{np.mean(ocpu):.0f}" if len(ocpu) == len(rs) else "-"
            row = (f"| {t} | {len(rs)} | " + " | ".join(cells)
                   + f" | {calls} | {wall} | {cpu} | {orac} | {ocpu_cell}")
            if extra_head:
                row += " | " + mean_std([vae_share(r, set(vae_sources)) for r in rs])
                row += " | " + lineage_cell(rs)
            print(row + " |")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def runner_of(method: str) -> str:
    """The runner of a method name: ``molvae-<label>`` is molvae with other design settings."""
    return "molvae" if method.startswith("molvae-") else method


def parse_design(items: list[str]) -> dict:
    """``--design KEY=VALUE`` pairs as DesignSettings fields (numbers where they parse)."""
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"error: --design takes KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def parse_list(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in items if runner_of(x) not in allowed]
    if bad:
        raise SystemExit(
            f"error: unknown {what} {', '.join(bad)}; choose from {', '.join(allowed)}")
    return items


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", default="screening,graph_ga,molvae",
                   help=f"comma-separated, from {', '.join(METHODS)}")
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated task names")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (PMO: 0,1,2,3,5)")
    p.add_argument("--budget", type=int, default=PMO_BUDGET,
                   help="oracle calls per run; anything but 10000 is a quick, non-comparable run")
    p.add_argument("--table-only", action="store_true", help="print the table of recorded runs")
    p.add_argument("--note", default="", help="free text stored with each run (e.g. load)")
    p.add_argument("--vae-sources", default=",".join(VAE_SOURCES),
                   help="values of molvae's calls 'source' column counted as VAE proposals")
    p.add_argument("--design", action="append", default=[], metavar="KEY=VALUE",
                   help="a DesignSettings field for molvae runs (repeatable); give such runs a "
                        "method name molvae-<label> so they are kept apart")
    p.add_argument("--model", default=None,
                   help="molvae's model (bundled name or directory); default: the bundled one")
    p.add_argument("--start-zinc", type=int, default=0, metavar="N",
                   help="molvae runs start from N random ZINC-250k molecules, scored and counted "
                        "(120: graph_ga's starting population)")
    p.add_argument("--check-tdc", type=Path, default=None, metavar="ORACLE_PY",
                   help="compare the oracles with TDC's tdc/chem_utils/oracle/oracle.py and exit")
    p.add_argument("--check-n", type=int, default=2000, help="molecules for --check-tdc")
    args = p.parse_args()

    if os.environ.get("PYTHONHASHSEED") != "0" and not args.table_only:
        # mol-ga iterates over sets of SMILES: fix string hashing so a seed repeats its run.
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  {**os.environ, "PYTHONHASHSEED": "0"})
    if args.check_tdc is not None:
        return check_tdc(args.check_tdc, args.check_n)
    if args.budget < 1:
        raise SystemExit("error: --budget must be at least 1")
    if not 0 <= args.start_zinc <= args.budget:
        raise SystemExit("error: --start-zinc must be within [0, --budget]")
    methods = parse_list(args.methods, METHODS, "method")
    args._design = parse_design(args.design)
    if (args._design or args.model or args.start_zinc) and "molvae" in methods \
            and not args.table_only:
        raise SystemExit("error: runs with --design, --model or --start-zinc need a method name "
                         "molvae-<label>, so that they are not mixed with the default runs")
    tasks = parse_list(args.tasks, TASKS, "task")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"error: --seeds must be comma-separated integers, got {args.seeds!r}") \
            from None
    path = results_path(args.budget)

    if not args.table_only:
        if any(runner_of(m) == "molvae" for m in methods) and molvae_design() is None:
            print("note: this molvae has no design(); the molvae method is skipped",
                  file=sys.stderr)
            methods_to_run = [m for m in methods if runner_of(m) != "molvae"]
        else:
            methods_to_run = methods
        done = {(r["method"], r["task"], r["seed"]) for r in load_runs(path)}
        todo = [(m, t, s) for s in seeds for m in methods_to_run for t in tasks
                if (m, t, s) not in done]
        print(f"{len(todo)} run(s) to do, results in {path.relative_to(REPO)}", file=sys.stderr)
        if todo:
            objectives = guacamol_objectives()
            path.parent.mkdir(parents=True, exist_ok=True)
        for m, t, s in todo:
            if any((r["method"], r["task"], r["seed"]) == (m, t, s) for r in load_runs(path)):
                continue  # finished meanwhile by another process on the same file
            row = run_one(m, t, s, objectives, args)
            with path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{m} {t} seed {s}: AUC top-10 {row['auc_top10']:.3f}, "
                  f"{row['n_calls']} calls, {row['wall_s']:.0f} s "
                  f"(oracle {row['oracle_s']:.0f} s)", file=sys.stderr, flush=True)

    runs = [r for r in load_runs(path) if r["seed"] in seeds]
    print(f"# pmo.py\n\n- **Printed:** {dt.date.today().isoformat()}\n"
          f"- **Hardware:** {_cpu()}, {os.cpu_count()} cores\n"
          f"- **Results file:** {path.relative_to(REPO)}\n")
    print_tables(runs, methods, tasks, args.budget, args.vae_sources.split(","))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
