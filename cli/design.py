"""``molvae design``: find the molecules an oracle (your Python function or an external command)
scores highest, under a budget of oracle calls."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from molvae.errors import MolvaeError, no_column
from molvae.settings import DESIGN_SURROGATES, DesignSettings

from ._bounds import SEED, SHARE, real, whole
from ._common import MODEL_HELP, check_choice, console, err_console, load_model, parse_csv_list
from ._config import config_option

DESIGN = DesignSettings()


def _read_start(path: Path) -> list[str]:
    from molvae.data.tables import read_molecules

    table = read_molecules(path)
    err_console.print(f"--start-from: {table.describe()}", highlight=False)
    return table.records["canonical"].tolist()


def _read_scores(path: Path, column: str):
    import pandas as pd

    from molvae.data.tables import read_molecules

    table = read_molecules(path)
    if column not in table.records.columns:
        columns = [c for c in table.records.columns if c not in ("row", "canonical")]
        raise no_column(column, columns, path, "name it with --score-column")
    if len(table.rejects):
        err_console.print(f"--scores: {table.describe()}", highlight=False)
    return pd.DataFrame({"smiles": table.records["canonical"], "score": table.records[column]})


def _progress(budget: int):
    """A stderr progress bar showing calls spent, the best score and the top-10 mean."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("design", style="bold"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("calls  best {task.fields[best]}  top-10 mean {task.fields[top10]}",
                   markup=False),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task = progress.add_task("design", total=budget, best="–", top10="–")

    def update(state) -> None:
        progress.update(
            task, completed=state.calls,
            best="–" if math.isnan(state.best) else f"{state.best:.4g}",
            top10="–" if math.isnan(state.top10) else f"{state.top10:.4g}",
        )

    return progress, update


def _print_best(result, k: int) -> None:
    best = result.best(k)
    if best.empty:
        return
    out = Table(title=f"best {len(best)} of {result.n_calls:,} calls")
    for name, justify in (("#", "right"), ("call", "right"), ("SMILES", "left"),
                          ("score", "right"), ("source", "left")):
        out.add_column(name, justify=justify, overflow="fold" if name == "SMILES" else None)
    for i, row in enumerate(best.itertuples(index=False)):
        out.add_row(str(i + 1), str(row.call), row.smiles, f"{row.score:.4g}", row.source)
    console.print(out)


def design(
    oracle: str | None = typer.Option(
        None, "--oracle", help="FILE.py:FUNCTION, a function taking a list of SMILES and "
        "returning one score per molecule (higher is better).",
    ),
    oracle_cmd: str | None = typer.Option(
        None, "--oracle-cmd", help="A command reading SMILES (one per line) on stdin and writing "
        "one score per line on stdout, run once per batch.",
    ),
    budget: int = typer.Option(1000, "--budget", **whole(1, 1_000_000), help="Oracle calls at most (one per unique molecule)."),
    out: Path = typer.Option(Path("calls.csv"), "--out", "-o", help="Record of calls (CSV), written as the run goes."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run recorded in --out, calling nothing it holds again."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    batch_size: int = typer.Option(DESIGN.batch_size, "--batch-size", **whole(1, 10_000), help="Molecules sent to the oracle at once."),
    start_from: Path | None = typer.Option(None, "--start-from", help="Molecules scored first (they count against the budget)."),
    scores: Path | None = typer.Option(None, "--scores", help="Molecules already scored (free prior knowledge; never sent)."),
    score_column: str = typer.Option("score", "--score-column", help="Score column of the --scores file."),
    similar_to: str | None = typer.Option(DESIGN.similar_to, "--similar-to", help="SMILES the proposals must stay close to."),
    min_similarity: float = typer.Option(DESIGN.min_similarity, "--min-similarity", **SHARE, help="Tanimoto bound to --similar-to (Morgan r2 counts)."),
    max_heavy_atoms: int | None = typer.Option(DESIGN.max_heavy_atoms, "--max-heavy-atoms", **whole(1, 1000), help="Propose molecules with at most this many heavy atoms."),
    where: list[str] | None = typer.Option(None, "--where", help='Property range, e.g. "MW<500".'),
    filters: list[str] | None = typer.Option(None, "--filters", help="Alert sets: pains,brenk,nih,zinc."),
    pool_size: int = typer.Option(DESIGN.pool_size, "--pool-size", **whole(1, 100_000), help="Latent points decoded per round."),
    centers: int = typer.Option(DESIGN.centers, "--centers", **whole(1, 1000), help="Best molecules the trust regions are centred on."),
    radius: float = typer.Option(DESIGN.radius, "--radius", **real(0.001, 10), help="Initial trust-region radius (std per latent dimension)."),
    prior_share: float = typer.Option(DESIGN.prior_share, "--prior-share", **SHARE, help="Share of each round's points drawn from the prior."),
    crossover_share: float = typer.Option(DESIGN.crossover_share, "--crossover-share", **SHARE, help="Share of points blended between two good molecules' encodings."),
    ga_share: float = typer.Option(DESIGN.ga_share, "--ga-share", **SHARE, help="Share of the pool made by graph-GA edits of the best molecules (mol-ga), beside the VAE's proposals."),
    splice_share: float = typer.Option(DESIGN.splice_share, "--splice-share", **SHARE, help="Share of points decoded after the first tokens of a good molecule (the decoder writes a crossover or mutation)."),
    splice_parents: int = typer.Option(DESIGN.splice_parents, "--splice-parents", **whole(1, 10_000), help="Best molecules splices draw their parents from."),
    splice_random_writing: float = typer.Option(DESIGN.splice_random_writing, "--splice-random-writing", **SHARE, help="Share of splices started from a random writing of the parent, so any part of it can be kept."),
    splice_temperature: float = typer.Option(DESIGN.splice_temperature, "--splice-temperature", **real(0.01, 5), help="Sampling temperature of splices."),
    decode_temperature: float = typer.Option(DESIGN.decode_temperature, "--decode-temperature", **real(0, 5), help="0: decode the other points greedily; above: sample at this temperature."),
    canonical_only: bool = typer.Option(DESIGN.canonical_only, "--canonical-only/--any-form", help="Propose only molecules the model wrote in canonical form; --any-form keeps every valid one."),
    tune_every: int = typer.Option(DESIGN.tune_every, "--tune-every", **whole(0, 10_000), help="Fine-tune a copy of the VAE on the best molecules every N rounds (0: never)."),
    surrogate: str = typer.Option(DESIGN.surrogate, "--surrogate", help="gp (Tanimoto GP, Thompson sampling) or none (random pick)."),
    max_train: int = typer.Option(DESIGN.max_train, "--max-train", **whole(2, 5000), help="Scored molecules the GP is fitted to, at most."),
    top: int = typer.Option(10, "--top", **whole(0, 10_000), help="Best molecules shown at the end."),
    seed: int = typer.Option(0, "--seed", **SEED, help="Random seed (reproducible on CPU)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Find the molecules an oracle scores highest, under a budget of oracle calls."""
    from molvae.chem.alerts import check_alert_sets
    from molvae.chem.conditions import parse_condition
    from molvae.optimize.design import design as run_design
    from molvae.optimize.design import recorded_calls
    from molvae.optimize.oracles import CommandOracle, load_python_oracle

    if (oracle is None) == (oracle_cmd is None):
        raise typer.BadParameter("give exactly one of --oracle FILE.py:FUNCTION or --oracle-cmd",
                                 param_hint="--oracle")
    check_choice(surrogate, DESIGN_SURROGATES, "--surrogate")
    try:
        alert_sets = check_alert_sets(parse_csv_list(filters), "--filters")
    except MolvaeError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--filters: "), param_hint="--filters") from None
    settings = DesignSettings(
        batch_size=batch_size, pool_size=pool_size, centers=centers, radius=radius,
        min_radius=min(DESIGN.min_radius, radius), max_radius=max(DESIGN.max_radius, radius),
        prior_share=prior_share, crossover_share=crossover_share, splice_share=splice_share,
        splice_parents=splice_parents, splice_temperature=splice_temperature,
        splice_random_writing=splice_random_writing,
        ga_share=ga_share,
        decode_temperature=decode_temperature,
        canonical_only=canonical_only, tune_every=tune_every,
        surrogate=surrogate, max_train=max_train,
        similar_to=similar_to, min_similarity=min_similarity, max_heavy_atoms=max_heavy_atoms,
        conditions=[parse_condition(w) for w in where or []], filters=alert_sets,
    )
    function = load_python_oracle(oracle) if oracle is not None else CommandOracle(oracle_cmd)
    start = _read_start(start_from) if start_from is not None else None
    known = _read_scores(scores, score_column) if scores is not None else None
    if not resume and recorded_calls(out) > 0:
        raise MolvaeError(f"{out}: a record of calls already exists; pass --resume to continue "
                          "it, or choose another --out")
    vae = load_model(model, device)
    progress, update = _progress(budget)
    with progress:
        result = run_design(
            function, budget, model=vae, settings=settings, seed=seed, record=out,
            resume=resume, start_from=start, scores=known, on_progress=update,
        )
    if result.resumed:
        err_console.print(f"resumed from {out}: {result.resumed:,} calls already made",
                          highlight=False)
    if len(result.prior):
        err_console.print(f"prior knowledge: {len(result.prior):,} molecules with known scores "
                          "(not sent to the oracle, not counted)", highlight=False)
    for reason, count in result.skipped.items():
        err_console.print(f"skipped {count:,} ({reason})", highlight=False)
    _print_best(result, top)
    calls = result.calls
    failed = int((calls["status"] != "ok").sum())
    rejected = ", ".join(f"{k}: {v:,}" for k, v in result.rejected.items()) or "none"
    top10 = result.top_mean(10)
    console.print(
        f"{result.n_calls:,} of {budget:,} calls ({failed:,} failed); best "
        + ("–" if top10 != top10 else f"{result.best(1)['score'].iat[0]:.4g}, top-10 mean {top10:.4g}")
        + f"; proposals rejected by constraints: {rejected}; record: {out}",
        highlight=False,
    )
    if result.stopped:
        err_console.print(f"stopped early: {result.stopped}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("design")(design)
