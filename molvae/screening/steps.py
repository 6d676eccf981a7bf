"""Per-molecule screening work, run in worker processes.

Standardization (with the InChIKey for deduplication) is one pass; the evaluation is a second
pass over the molecules that survived deduplication and exact novelty: rules, thresholds, user
SMARTS, FilterCatalog alerts, the remaining properties and the score, in that order, stopping at
the first failure so that a rejected molecule skips the expensive steps. Everything here is a
top-level function of picklable arguments, as :func:`molvae.runtime.map_chunks` requires.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from molvae import chem
from molvae.data.tables import REASON_STANDARDIZATION
from molvae.screening.config import ScreenConfig, Target, combine_desirabilities, parse_conditions

__all__ = [
    "LIPINSKI_LIMITS",
    "VEBER_LIMITS",
    "lipinski_violations",
    "profile_steps",
    "veber_violations",
]

# Lipinski's rule of five and Veber's oral-bioavailability rules (upper limits, inclusive).
LIPINSKI_LIMITS: dict[str, float] = {"MW": 500.0, "logP": 5.0, "HBD": 5.0, "HBA": 10.0}
VEBER_LIMITS: dict[str, float] = {"RotB": 10.0, "TPSA": 140.0}


def _violations(props: dict[str, float], limits: dict[str, float]) -> list[str]:
    # "not <=" so that a missing (NaN) value counts as a violation.
    return [
        f"{name}={props[name]:.4g}>{limit:g}"
        for name, limit in limits.items()
        if not props[name] <= limit
    ]


def lipinski_violations(props: dict[str, float]) -> list[str]:
    """Rule-of-five violations as ``"MW=612.3>500"``; ``props`` holds MW, logP, HBD, HBA."""
    return _violations(props, LIPINSKI_LIMITS)


def veber_violations(props: dict[str, float]) -> list[str]:
    """Veber-rule violations (RotB <= 10, TPSA <= 140) as ``"TPSA=152.1>140"``."""
    return _violations(props, VEBER_LIMITS)


# --------------------------------------------------------------------------------------------
# Plans and checks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prep:
    """What standardization needs to know."""

    standardize: bool
    largest_fragment: bool
    neutralize: bool
    inchikey: bool


@dataclass(frozen=True)
class Plan:
    """The evaluation steps (rules to score) resolved from a config, sent to the workers."""

    lipinski: bool
    lipinski_max_violations: int
    veber: bool
    conditions: tuple
    smarts: tuple[tuple[str, str], ...]
    catalogs: tuple[str, ...]
    targets: tuple[Target, ...]
    combine: str
    min_score: float | None
    properties: tuple[str, ...]  # every property written out, in column order
    scored: bool

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the values :func:`_evaluate_one` returns for an accepted molecule."""
        return (*self.properties, "score") if self.scored else self.properties


def make_plan(config: ScreenConfig) -> Plan:
    conditions = tuple(parse_conditions(config.thresholds.where))
    needed = []
    if config.rules.lipinski:
        needed += list(LIPINSKI_LIMITS)
    if config.rules.veber:
        needed += list(VEBER_LIMITS)
    needed += [c.name for c in conditions]
    if config.scored:
        needed += [t.property for t in config.score.targets]
    chosen = []
    if config.properties.enabled:
        chosen = config.properties.names or chem.property_names()
    properties = tuple(dict.fromkeys([*chosen, *needed]))
    return Plan(
        lipinski=config.rules.lipinski,
        lipinski_max_violations=config.rules.lipinski_max_violations,
        veber=config.rules.veber,
        conditions=conditions,
        smarts=tuple(config.smarts.items()),
        catalogs=tuple(sorted(config.alerts.catalogs, key=_alert_cost_rank)),
        targets=tuple(config.score.targets) if config.scored else (),
        combine=config.score.combine,
        min_score=config.score.min_score if config.scored else None,
        properties=properties,
        scored=config.scored,
    )


def _prepare_one(smiles: str, prep: Prep) -> tuple[str | None, str | None, str | None]:
    """``(canonical SMILES, InChIKey, None)`` or ``(None, None, reason)``."""
    mol = chem.parse_smiles(smiles)
    if mol is not None and prep.standardize:
        mol = chem.standardize(mol, prep.largest_fragment, prep.neutralize)
    canonical = chem.canonical_smiles(mol) if mol is not None else None
    if not canonical:
        return None, None, REASON_STANDARDIZATION
    return canonical, chem.inchi_key(mol) if prep.inchikey else None, None


def prepare_batch(batch: Sequence[str], prep: Prep) -> list[tuple[str | None, ...]]:
    return [_prepare_one(s, prep) for s in batch]


@lru_cache(maxsize=64)
def _compiled_smarts(pattern: str):
    return chem.compile_smarts(pattern)


def _need(mol, props: dict[str, float], names: Iterable[str]) -> None:
    missing = [n for n in names if n not in props]
    if missing:
        props.update(chem.compute_properties(mol, missing))


# Each check returns None (pass) or (reason, label); label groups reasons in summaries.
_Failure = tuple[str, str] | None


# FilterCatalog sets from cheapest to dearest per molecule (one core, MOSES-like molecules:
# ZINC 0.07 ms, BRENK 0.18, NIH 1.0, PAINS 2.4, ChEMBL 3.3). Sets are matched in this order and
# the first hit rejects, so a molecule caught by a cheap set never pays for PAINS.
_ALERT_COST_ORDER = ("zinc", "brenk", "nih", "pains", "chembl")


def _alert_cost_rank(name: str) -> int:
    return _ALERT_COST_ORDER.index(name) if name in _ALERT_COST_ORDER else len(_ALERT_COST_ORDER)


def _check_rules(mol, props: dict[str, float], plan: Plan) -> _Failure:
    if plan.lipinski:
        _need(mol, props, LIPINSKI_LIMITS)
        violations = lipinski_violations(props)
        if len(violations) > plan.lipinski_max_violations:
            noun = "violation" if len(violations) == 1 else "violations"
            return f"Lipinski: {len(violations)} {noun} ({', '.join(violations)})", "Lipinski"
    if plan.veber:
        _need(mol, props, VEBER_LIMITS)
        violations = veber_violations(props)
        if violations:
            return f"Veber: {', '.join(violations)}", "Veber"
    return None


def _check_thresholds(mol, props: dict[str, float], plan: Plan) -> _Failure:
    for cond in plan.conditions:
        _need(mol, props, [cond.name])
        value = props[cond.name]
        if not cond.holds(value):
            return f"{cond} failed ({cond.name}={value:.4g})", str(cond)
    return None


def _check_smarts(mol, props: dict[str, float], plan: Plan) -> _Failure:
    for name, pattern in plan.smarts:
        if chem.has_substructure(mol, _compiled_smarts(pattern)):
            return f"SMARTS: {name}", f"SMARTS {name}"
    return None


def _check_alerts(mol, props: dict[str, float], plan: Plan) -> _Failure:
    # One catalog at a time, stopping at the first hit: a rejected molecule skips the rest.
    for catalog in plan.catalogs:
        hits = chem.structural_alerts(mol, [catalog])
        if hits:
            return hits[0], catalog.upper()
    return None


def _fill_properties(mol, props: dict[str, float], plan: Plan) -> _Failure:
    _need(mol, props, plan.properties)
    return None


def _check_score(mol, props: dict[str, float], plan: Plan) -> _Failure:
    if not plan.scored:
        return None
    score = combine_desirabilities(
        [t.desirability(props[t.property]) for t in plan.targets],
        [t.weight for t in plan.targets],
        plan.combine,
    )
    props["score"] = score
    if plan.min_score is not None and score < plan.min_score:
        return f"score<{plan.min_score:g} failed (score={score:.3f})", f"score<{plan.min_score:g}"
    return None


_EVALUATION: tuple[tuple[str, Callable[[Any, dict[str, float], Plan], _Failure]], ...] = (
    ("rules", _check_rules),
    ("thresholds", _check_thresholds),
    ("smarts", _check_smarts),
    ("alerts", _check_alerts),
    ("properties", _fill_properties),
    ("score", _check_score),
)

# (step, reason, label, values): values is None for a reject, else one per plan.columns.
_Evaluated = tuple[str | None, str | None, str | None, tuple[float, ...] | None]


def _evaluate_one(smiles: str, plan: Plan, clock: dict[str, float] | None = None) -> _Evaluated:
    """Run rules to score on one canonical SMILES; ``clock`` accumulates seconds per step."""
    mol = chem.parse_smiles(smiles)
    if mol is None:  # canonical SMILES from this RDKit always parse; kept for safety
        return "standardize", REASON_STANDARDIZATION, REASON_STANDARDIZATION, None
    props: dict[str, float] = {}
    for step, check in _EVALUATION:
        start = time.perf_counter() if clock is not None else 0.0
        failure = check(mol, props, plan)
        if clock is not None:
            clock[step] += time.perf_counter() - start
        if failure is not None:
            return step, failure[0], failure[1], None
    return None, None, None, tuple(props[c] for c in plan.columns)


def evaluate_batch(batch: Sequence[str], plan: Plan) -> list[_Evaluated]:
    return [_evaluate_one(s, plan) for s in batch]


def warm_up(plan: Plan) -> None:
    """Build RDKit catalogs and load score tables once, so forked workers inherit them."""
    mol = chem.parse_smiles("c1ccccc1CC(=O)O")
    for catalog in plan.catalogs:
        chem.structural_alerts(mol, [catalog])
    chem.compute_properties(mol, plan.properties)
    for _, pattern in plan.smarts:
        _compiled_smarts(pattern)


def profile_steps(smiles: Sequence[str], config: ScreenConfig | None = None) -> dict[str, float]:
    """Mean CPU milliseconds per molecule of each step, run in-process (for benchmarks).

    Steps after a rejection are not run for that molecule, as in a real screen, so the numbers
    are the per-input-molecule cost of each step.
    """
    config = config or ScreenConfig()
    config.validate()
    plan = make_plan(config)
    warm_up(plan)
    prep = Prep(
        config.standardize.enabled,
        config.standardize.largest_fragment,
        config.standardize.neutralize,
        False,
    )
    clock: dict[str, float] = defaultdict(float)
    canonical = []
    start = time.perf_counter()
    for s in smiles:
        out = _prepare_one(s, prep)
        if out[0]:
            canonical.append(out[0])
    clock["standardize"] = time.perf_counter() - start
    if config.deduplicate.enabled:
        mols = [chem.parse_smiles(s) for s in canonical]
        start = time.perf_counter()
        for mol in mols:
            chem.inchi_key(mol)
        clock["deduplicate"] = time.perf_counter() - start
    for s in canonical:
        _evaluate_one(s, plan, clock)
    n = max(len(smiles), 1)
    return {step: 1000 * seconds / n for step, seconds in clock.items()}
