"""``molvae sample``: sample molecules from the prior and check each with RDKit."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer

from molvae.data.writing import write_table
from molvae.errors import MolvaeError
from molvae.settings import SampleSettings

from ._bounds import MAX_DECODE_BATCH, MAX_SAMPLES, MAX_VOCABULARY, SEED, TEMPERATURE, whole
from ._common import (
    MODEL_HELP,
    check_choice,
    console,
    err_console,
    load_model,
    parse_csv_list,
    progress_bar,
)
from ._config import config_option

SAMPLE = SampleSettings()


def sample(
    n: int = typer.Option(
        1000, "-n", **whole(1, MAX_SAMPLES), help="Number of molecules to decode (or unique ones with --unique)."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    out: Path = typer.Option(Path("samples.csv"), "--out", "-o", help="Output CSV/TSV/parquet."),
    temperature: float = typer.Option(SAMPLE.temperature, "--temperature", "-t", **TEMPERATURE, help="Softmax temperature."),
    strategy: str = typer.Option(SAMPLE.strategy, "--strategy", help="sample (multinomial) or greedy."),
    top_k: int | None = typer.Option(
        SAMPLE.top_k, "--top-k", **whole(1, MAX_VOCABULARY), help="Sample only among the k most likely tokens."
    ),
    unique: bool = typer.Option(
        SAMPLE.unique, "--unique", help="Keep sampling until n unique valid molecules."
    ),
    canonical_only: bool = typer.Option(
        SAMPLE.canonical_only,
        "--canonical-only/--any-form",
        help="Keep only strings written as the training data write their molecule, drawing "
        "until -n are kept (default); --any-form returns every draw as decoded.",
    ),
    critic: bool = typer.Option(
        SAMPLE.critic,
        "--critic/--no-critic",
        help="With a model that has a realism critic (molvae fit-critic), also keep each "
        "canonical-form draw with the critic's acceptance probability (default).",
    ),
    condition: list[str] | None = typer.Option(
        None,
        "--condition",
        help="With a conditional model: ask for a property value, NAME=VALUE (repeat or "
        "comma-separate for several, e.g. logP=2.5,MW=400); the output gets requested_NAME "
        "and RDKit's NAME columns.",
    ),
    tolerance: list[str] | None = typer.Option(
        None,
        "--tolerance",
        help="With --condition: keep only molecules whose RDKit value is within this distance "
        "of the request, NAME=VALUE (e.g. logP=0.3,MW=15), drawing until -n are kept.",
    ),
    reference: bool = typer.Option(
        SAMPLE.reference,
        "--reference/--no-reference",
        help="With --condition and a model that ships reference molecules: draw z near the "
        "--reference-pool of them whose values are nearest the request (default); "
        "--no-reference draws z from the model's prior.",
    ),
    reference_pool: int = typer.Option(
        SAMPLE.reference_pool,
        "--reference-pool",
        **whole(1, 20_000),
        help="How many of the reference molecules nearest the request z is drawn near.",
    ),
    seed: int | None = typer.Option(None, "--seed", **SEED, help="Random seed (reproducible on CPU)."),
    batch_size: int = typer.Option(SAMPLE.batch_size, "--batch-size", **whole(1, MAX_DECODE_BATCH), help="Draws decoded per batch."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    config: Path | None = config_option(),
) -> None:
    """Sample molecules from the prior and check each with RDKit."""
    from molvae.generation.model import ConditionRangeWarning, FewerSamplesWarning

    check_choice(strategy, ("sample", "greedy"), "--strategy")
    requested = parse_conditions(condition)
    tolerances = parse_conditions(tolerance, option="--tolerance", example="logP=0.3")
    if tolerances and not requested:
        raise MolvaeError("--tolerance applies to requested values: give them with --condition")
    vae = load_model(model, device)
    if requested:
        _check_conditions(vae, requested)
    bar, advance = progress_bar(n, "sampling")
    # A shortfall is reported below as a one-line warning, not as a Python warning.
    with bar, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FewerSamplesWarning)
        warnings.simplefilter("ignore", ConditionRangeWarning)  # reported by _check_conditions
        frame = vae.sample(
            n,
            temperature=temperature,
            strategy=strategy,
            top_k=top_k,
            unique=unique,
            seed=seed,
            batch_size=batch_size,
            on_progress=advance,
            canonical_only=canonical_only,
            critic=critic,
            conditions=requested or None,
            tolerance=tolerances or None,
            reference=reference,
            reference_pool=reference_pool,
        )
    write_table(frame, out)
    valid = int(frame["valid"].sum())
    n_unique = frame.loc[frame["valid"], "canonical"].nunique()
    drawn = int(frame.attrs.get("drawn", len(frame)))
    reasons = []
    if canonical_only:
        reasons.append("not in their molecule's canonical form")
    if frame.attrs.get("critic"):
        reasons.append("turned down by the critic")
    if tolerances:
        reasons.append(("" if canonical_only else "invalid or ") + "outside the tolerance")
    why = ", ".join(reasons[:-1]) + " or " + reasons[-1] if len(reasons) > 1 else "".join(reasons)
    kept = (
        f"{len(frame):,} kept of {drawn:,} drawn ({len(frame) / max(drawn, 1):.1%}; the rest "
        f"were {why}), "
        if reasons
        else f"{len(frame):,} decoded, "
    )
    console.print(
        f"{kept}{valid:,} valid ({valid / max(len(frame), 1):.1%}), "
        f"{n_unique:,} unique valid; written to {out}",
        highlight=False,
    )
    for warning in caught:
        if issubclass(warning.category, FewerSamplesWarning):
            err_console.print(f"warning: {warning.message}", highlight=False, soft_wrap=True)
        else:  # recording caught every warning: show the others as they would have been
            warnings.showwarning(warning.message, warning.category, warning.filename,
                                 warning.lineno)
    _print_verdict(vae, frame, canonical_only)
    if requested:
        if frame.attrs.get("latent_source") == "reference":
            console.print(
                f"z drawn near the {min(reference_pool, len(vae.reference)):,} reference "
                "molecules nearest the request (--no-reference: from the prior)",
                highlight=False,
            )
        _print_condition_errors(frame)


def parse_conditions(
    values: list[str] | None, option: str = "--condition", example: str = "logP=2.5"
) -> dict[str, float]:
    """``["logP=2.5", "MW=400,QED=0.8"]`` as ``{"logP": 2.5, ...}``; a malformed item is a
    one-line error naming ``option``."""
    import math

    out: dict[str, float] = {}
    for item in parse_csv_list(values):
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not name or number is None or not math.isfinite(number):
            raise MolvaeError(
                f"{option} {item!r}: expected NAME=VALUE with a finite number, e.g. {example}"
            )
        if name in out:
            raise MolvaeError(f"{option} {name} is given more than once")
        out[name] = number
    return out


def _check_conditions(vae, requested: dict[str, float]) -> None:
    """Fail on names the model lacks; warn, in one line each, on values outside its range."""
    from molvae.generation.model import ConditionRangeWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConditionRangeWarning)
        vae.condition_vector(requested)
    for warning in caught:
        if issubclass(warning.category, ConditionRangeWarning):
            err_console.print(f"warning: {warning.message}", highlight=False, soft_wrap=True)


def _print_condition_errors(frame) -> None:
    """Per RDKit-computed condition: how far the valid molecules are from the request."""
    for column in [c for c in frame.columns if c.startswith("requested_")]:
        name = column.removeprefix("requested_")
        if name not in frame.columns:
            continue
        values = frame.loc[frame["valid"], name].dropna()
        if len(values):
            target = float(frame[column].iloc[0])
            console.print(
                f"{name}: requested {target:g}, RDKit mean {values.mean():.3g} "
                f"(mean absolute error {(values - target).abs().mean():.3g}, "
                f"{len(values):,} molecules)",
                highlight=False,
            )


def _print_verdict(vae, frame, canonical_only: bool) -> None:
    """Say when the samples and the model's validation metrics show it is not usable yet."""
    from molvae.training.verdicts import model_verdict, sample_stats

    # Kept/drawn is the canonical-form share only when nothing else turned draws down.
    only_form = canonical_only and not frame.attrs.get("critic") and not frame.attrs.get("tolerance")
    drawn = frame.attrs.get("drawn") if only_form else None
    verdict = model_verdict(vae.bundle.metrics, sample_stats(frame, drawn=drawn))
    if not verdict.usable:
        err_console.print(verdict.line(), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("sample")(sample)
