"""``molvae generate``: generate molecules steered toward property goals (e.g. --target logP)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from molvae.data.writing import write_table
from molvae.errors import MolvaeError
from molvae.settings import GenerateSettings

from ._bounds import REFINE_STEPS, SEED, SHARE, real, whole
from ._common import (
    MODEL_HELP,
    console,
    err_console,
    flattened_note,
    load_model,
    parse_csv_list,
)
from ._config import config_option

GENERATE = GenerateSettings()


TARGET_HELP = "Goal: NAME (maximize), NAME:min, or NAME=VALUE; repeat for several objectives."


def _goals(vae, targets: list[str], weights: list[float] | None):
    from molvae.optimize.goals import parse_goal

    if weights and len(weights) != len(targets):
        raise typer.BadParameter(
            f"{len(weights)} --weight value(s) for {len(targets)} --target(s)", param_hint="--weight"
        )
    weights = weights or [1.0] * len(targets)
    return [parse_goal(t, vae.model.config.all_properties, w) for t, w in zip(targets, weights,
                                                                              strict=True)]


def _novelty_checker(vae, train_file: Path | None):
    """A function telling whether canonical SMILES are absent from the training set."""
    from molvae.data.index import TrainingSetIndex

    index = None
    if train_file is not None:
        from molvae.data.tables import read_molecules

        table = read_molecules(train_file)
        index = TrainingSetIndex.compute(table.records["canonical"].tolist(),
                                         source=str(train_file))
    else:
        from molvae.data.index import training_set_index

        index = training_set_index(vae.path)
        if index is None:
            raise MolvaeError(
                "--novel: this model ships no training-set index; pass --train-file FILE"
            )
    return lambda smiles: ~index.contains(list(smiles))


def _print_top(table: pd.DataFrame, goals, similar: bool, k: int = 10) -> None:
    if table.empty:
        return
    out = Table(title=f"top {min(k, len(table))} of {len(table)}")
    out.add_column("#", justify="right")
    out.add_column("SMILES", overflow="fold")
    for g in goals:
        out.add_column(f"{g.name}", justify="right")
        out.add_column(f"{g.name} pred.", justify="right")
    if similar:
        out.add_column("sim.", justify="right")
    for i, row in enumerate(table.head(k).itertuples(index=False)):
        r = row._asdict()
        cells = [str(i + 1), r["smiles"]]
        for g in goals:
            cells.append(f"{r[g.name]:.3f}")
            pred, spread = r[f"{g.name}_predicted"], r[f"{g.name}_uncertainty"]
            # NaN: the molecule's canonical string needs a token the model lacks (no encoding).
            cells.append("–" if pd.isna(pred) else f"{pred:.2f} ± {spread:.2f}")
        if similar:
            cells.append(f"{r['similarity']:.2f}")
        out.add_row(*cells)
    console.print(out)


def generate(
    target: list[str] = typer.Option(["logP"], "--target", help=TARGET_HELP),
    weight: list[float] | None = typer.Option(None, "--weight", **real(0, 1000), help="Weight of each --target."),
    n: int = typer.Option(20, "-n", **whole(1, 100_000), help="Number of unique valid molecules wanted."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    out: Path = typer.Option(Path("generated.csv"), "--out", "-o", help="Output CSV."),
    start_from: Path | None = typer.Option(None, "--start-from", help="Start from these molecules."),
    similar_to: str | None = typer.Option(GENERATE.similar_to, "--similar-to", help="Seed SMILES to stay close to."),
    min_similarity: float = typer.Option(GENERATE.min_similarity, "--min-similarity", **SHARE, help="Tanimoto bound (Morgan r2 counts)."),
    max_heavy_atoms: int | None = typer.Option(GENERATE.max_heavy_atoms, "--max-heavy-atoms", **whole(1, 1000), help="Keep molecules with at most this many heavy atoms."),
    where: list[str] | None = typer.Option(None, "--where", help='Property range, e.g. "MW<500".'),
    filters: list[str] | None = typer.Option(None, "--filters", help="Alert sets: pains,brenk,nih,zinc."),
    novel: bool = typer.Option(GENERATE.novel, "--novel", help="Only molecules absent from the training set."),
    train_file: Path | None = typer.Option(None, "--train-file", help="Training set for --novel."),
    steps: int = typer.Option(GENERATE.steps, "--steps", **whole(1, 1000), help="Gradient steps per trajectory."),
    starts: int = typer.Option(GENERATE.starts, "--starts", **whole(1, 10_000), help="Trajectories per round."),
    step_size: float = typer.Option(GENERATE.step_size, "--step-size", **real(0.0001, 10), help="Length of each gradient step in latent space."),
    max_norm: float | None = typer.Option(GENERATE.max_norm, "--max-norm", **real(0.01, 1000), help="Bound on ||z|| (default sqrt(d)+3)."),
    trust_radius: float | None = typer.Option(GENERATE.trust_radius, "--trust-radius", **real(0.01, 1000), help="Max distance from the start."),
    prior_weight: float = typer.Option(GENERATE.prior_weight, "--prior-weight", **real(0, 1000), help="Penalty on ||z||^2 / 2."),
    uncertainty_penalty: float = typer.Option(GENERATE.uncertainty_penalty, "--uncertainty-penalty", **real(0, 1000),
                                              help="Penalty on the predictor ensemble's spread."),
    max_rounds: int = typer.Option(GENERATE.max_rounds, "--max-rounds", **whole(1, 1000), help="Rounds at most while fewer than -n molecules pass."),
    min_rounds: int = typer.Option(GENERATE.min_rounds, "--min-rounds", **whole(1, 1000), help="Rounds to run even when -n are found."),
    elite: int = typer.Option(GENERATE.elite, "--elite", **whole(0, 10_000),
                              help="Restart later rounds from the N best molecules so far."),
    refine_steps: int = typer.Option(
        GENERATE.refine_steps, "--refine-steps", **REFINE_STEPS,
        help="Refine the encodings of --start-from/--similar-to molecules (0: use mu).",
    ),
    canonical_only: bool = typer.Option(
        GENERATE.canonical_only, "--canonical-only/--any-form",
        help="Keep only molecules the model wrote as the canonical form of their string (as "
        "in its training data); --any-form also keeps strings SELFIES had to repair.",
    ),
    screen: Path | None = typer.Option(None, "--screen", help="Screen the results with this screening TOML (see `molvae screen`)."),
    seed: int | None = typer.Option(GENERATE.seed, "--seed", **SEED, help="Random seed (reproducible on CPU)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Generate molecules steered toward property goals (e.g. --target logP)."""
    from molvae.chem.alerts import check_alert_sets
    from molvae.chem.conditions import parse_condition
    from molvae.optimize.search import generate as run_generate

    try:
        alert_sets = check_alert_sets(parse_csv_list(filters), "--filters")
    except MolvaeError as exc:
        message = str(exc).removeprefix("--filters: ")
        raise typer.BadParameter(message, param_hint="--filters") from None
    vae = load_model(model, device)
    goals = _goals(vae, target, weight)
    settings = GenerateSettings(
        steps=steps, step_size=step_size, starts=starts, prior_weight=prior_weight,
        max_norm=max_norm, trust_radius=trust_radius, uncertainty_penalty=uncertainty_penalty,
        max_rounds=max_rounds, min_rounds=min_rounds, elite=elite, refine_steps=refine_steps,
        seed=seed, similar_to=similar_to, min_similarity=min_similarity,
        max_heavy_atoms=max_heavy_atoms, conditions=[parse_condition(w) for w in where or []],
        filters=alert_sets, novel=novel, canonical_only=canonical_only,
    )
    starts_smiles = None
    if start_from is not None:
        from molvae.data.tables import read_molecules

        table = read_molecules(start_from)
        err_console.print(f"--start-from: {table.describe()}", highlight=False)
        starts_smiles = table.records["canonical"].tolist()
        if not starts_smiles:
            raise MolvaeError(f"{start_from}: no usable start molecules")
        prep = vae.prepare(starts_smiles, flatten=True)
        if len(prep.rejects):  # counted and named, not fatal: the other starts still serve
            reasons = prep.rejects["reason"].value_counts()
            err_console.print(
                f"--start-from: {len(prep.rejects):,} molecule(s) skipped, the model cannot "
                "encode them: " + ", ".join(f"{r} {k}" for r, k in reasons.items()),
                highlight=False,
            )
            skipped = set(prep.rejects["row"].astype(int))
            starts_smiles = [s for i, s in enumerate(starts_smiles) if i not in skipped]
            if not starts_smiles:
                raise MolvaeError(f"{start_from}: no start molecule the model can encode")
        n_flat = len(prep.flattened)
        if n_flat:
            err_console.print(f"--start-from: {flattened_note(n_flat)[2:]}", highlight=False)
    is_novel = _novelty_checker(vae, train_file) if novel or train_file else None
    err_console.print("goal: " + "; ".join(g.describe() for g in goals), highlight=False)
    result = run_generate(
        vae, goals, n=n, settings=settings, start_from=starts_smiles, is_novel=is_novel,
        on_round=lambda r, k: err_console.print(f"round {r}: {k} molecules pass", highlight=False),
    )
    table = result.table
    if screen is not None and len(table):
        from molvae.screening import ScreenConfig, screen_frame

        screened = screen_frame(table, ScreenConfig.from_toml(screen))
        console.print(screened.summary_table())
        console.print(screened.describe(), highlight=False)
        if len(screened.rejects):
            rejects_path = out.with_name(out.stem + ".rejects.csv")
            write_table(screened.rejects, rejects_path)
            err_console.print(f"screening rejects written to {rejects_path}", highlight=False)
        table = screened.shortlist
    # Written even when empty: a previous run's file must not be left to be read as this one's.
    write_table(table, out)
    _print_top(table, goals, similar=similar_to is not None)
    rejected = ", ".join(f"{k}: {v}" for k, v in result.rejected.items()) or "none"
    console.print(
        f"{result.decoded:,} decoded in {result.rounds} round(s), {result.unique_valid:,} unique "
        f"valid, rejected by constraints: {rejected}; "
        + (f"{len(table):,} written to {out}" if len(table) else f"nothing passed ({out} is empty)"),
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
