"""``molvae optimize``: improve each seed molecule's property under a similarity constraint (one row per seed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from molvae.data.writing import write_table
from molvae.settings import OptimizeSettings

from ._bounds import REFINE_STEPS, SEED, SHARE, real, whole
from ._common import (
    MODEL_HELP,
    console,
    load_model,
    progress_display,
)
from ._config import config_option

OPTIMIZE = OptimizeSettings()


def optimize(
    seeds: Path = typer.Argument(..., help="Molecules to improve (CSV/TSV/SMI/SDF)."),
    target: str = typer.Option("plogP", "--target", help="NAME or NAME:min (an RDKit property)."),
    min_similarity: float = typer.Option(OPTIMIZE.min_similarity, "--min-similarity", **SHARE, help="Tanimoto bound."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    out: Path = typer.Option(Path("optimized.csv"), "--out", "-o", help="Output CSV/TSV/parquet: one row per seed, in input order."),
    steps: int = typer.Option(OPTIMIZE.steps, "--steps", **whole(1, 1000), help="Gradient steps per trajectory."),
    starts: int = typer.Option(OPTIMIZE.starts, "--starts", **whole(1, 1000), help="Trajectories per seed."),
    step_size: float = typer.Option(OPTIMIZE.step_size, "--step-size", **real(0.0001, 10), help="Gradient step size."),
    decode_every: int = typer.Option(OPTIMIZE.decode_every, "--decode-every", **whole(1, 1000), help="Decode every N steps."),
    extra_samples: int = typer.Option(
        OPTIMIZE.extra_samples, "--extra-samples", **whole(0, 100), help="Stochastic decodes per point."
    ),
    refine_steps: int = typer.Option(
        OPTIMIZE.refine_steps, "--refine-steps", **REFINE_STEPS,
        help="Steps refining each seed's z so it decodes back to the seed (0: use mu).",
    ),
    rescue_rounds: int = typer.Option(
        OPTIMIZE.rescue_rounds, "--rescue-rounds", **whole(0, 100),
        help="Wider searches around seeds that found nothing (0: none).",
    ),
    rescue_waves: int = typer.Option(
        OPTIMIZE.rescue_waves, "--rescue-waves", **whole(1, 100),
        help="A rescue's starts go in this many waves; a seed stops at its first success "
        "(1: all at once, slower, slightly better rescued seeds).",
    ),
    polish_rounds: int = typer.Option(
        OPTIMIZE.polish_rounds, "--polish-rounds", **whole(0, 1000),
        help="Rounds of edits of each seed's best molecules after the search (0: none).",
    ),
    polish_children: int = typer.Option(
        OPTIMIZE.polish_children, "--polish-children", **whole(1, 10000),
        help="New molecules per seed and polish round.",
    ),
    polish_ga_share: float = typer.Option(
        OPTIMIZE.polish_ga_share, "--polish-ga-share", **SHARE,
        help="Share of the polish's molecules made by graph-GA edits (mol-ga); the rest are "
        "splices the decoder writes (0: the VAE's edits only).",
    ),
    seed_forms: bool = typer.Option(
        OPTIMIZE.seed_sites, "--seed-forms/--no-seed-forms",
        help="Also score each candidate with the seed's charges and nitro groups put on it "
        "(for models that write neutral molecules only).",
    ),
    smiles_column: str | None = typer.Option(None, "--smiles-column", help="SMILES column of a CSV/TSV (default: the column named like 'smiles')."),
    seed: int = typer.Option(OPTIMIZE.seed, "--seed", **SEED, help="Random seed (reproducible on CPU)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Improve each seed molecule's property under a similarity constraint (one row per seed)."""
    from molvae.data.tables import read_molecules
    from molvae.optimize.goals import parse_goal
    from molvae.optimize.moves import SOURCE_GA, SOURCE_SPLICE
    from molvae.optimize.seeds import SOURCE_LATENT, optimize_seeds

    vae = load_model(model, device)
    goal = parse_goal(target, vae.model.config.all_properties)
    table = read_molecules(seeds, smiles_column=smiles_column, canonicalize=False)
    settings = OptimizeSettings(steps=steps, starts=starts, step_size=step_size,
                                decode_every=decode_every, extra_samples=extra_samples,
                                refine_steps=refine_steps, rescue_rounds=rescue_rounds,
                                rescue_waves=rescue_waves, polish_rounds=polish_rounds,
                                polish_children=polish_children,
                                polish_ga_share=polish_ga_share, seed_sites=seed_forms, seed=seed,
                                min_similarity=min_similarity)
    progress, on_stage = _stage_progress()
    with progress:
        result = optimize_seeds(vae, table.records["smiles"].tolist(), goal, min_similarity,
                                settings, on_stage=on_stage)
    result.insert(0, "row", table.records["row"].to_numpy())
    if len(table.rejects):
        bad = pd.DataFrame({"row": table.rejects["row"], "seed": table.rejects["smiles"],
                            "status": table.rejects["reason"], "success": False,
                            "improvement": 0.0})
        result = pd.concat([result, bad], ignore_index=True).sort_values("row", kind="stable")
    write_table(result, out)
    ok = result["status"] == "ok"
    imp = result.loc[ok, "improvement"]
    # How the summary line names the ``source`` of each seed's best molecule.
    names = {SOURCE_LATENT: "the latent search", SOURCE_SPLICE: "decoder splices",
             SOURCE_GA: "graph-GA edits"}
    found = result.loc[result["success"].astype(bool), "source"].value_counts()
    origin = ", ".join(f"{int(n):,} from {names.get(str(k), str(k))}" for k, n in found.items())
    console.print(
        f"{int(ok.sum()):,} seeds optimized ({int((~ok).sum()):,} not usable): improvement "
        f"{imp.mean():.2f} ± {imp.std(ddof=0):.2f}, success {result.loc[ok, 'success'].mean():.1%}, "
        f"mean similarity {result.loc[result['success'], 'similarity'].mean():.2f}"
        + (f"; best molecules: {origin}" if origin else "") + f"; written to {out}",
        highlight=False,
    )


def _stage_progress():
    """A transient stderr display with a bar per stage of the run (the latent search, each
    rescue round, the polish), and the ``on_stage`` callback of ``optimize_seeds`` feeding it.
    A stage that starts marks the one before it done (a search skips unusable seeds)."""
    progress = progress_display()

    def on_stage(name: str, total: int):
        if progress.tasks:
            last = progress.tasks[-1]
            progress.update(last.id, completed=last.total)
        task = progress.add_task(name, total=total)
        return lambda n: progress.advance(task, n)

    return progress, on_stage


def register(app: typer.Typer) -> None:
    app.command("optimize")(optimize)
