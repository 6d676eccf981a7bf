"""Screening configuration: one dataclass per TOML table, validated strictly.

``ScreenConfig.from_toml`` rejects unknown keys and mistyped values with a one-line error
(``molvae.settings.from_dict``), checks property names, conditions, SMARTS and filter sets before
any work starts, and canonicalizes property names (``logp`` becomes ``logP``).
``configs/screen.toml`` documents every key with the defaults.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from molvae import chem
from molvae.chem.conditions import parse_condition
from molvae.errors import MolvaeError
from molvae.settings import from_dict, read_toml

__all__ = [
    "AlertSettings",
    "DeduplicateSettings",
    "NoveltySettings",
    "PropertySettings",
    "RuleSettings",
    "ScoreSettings",
    "ScreenConfig",
    "SelectionSettings",
    "StandardizeSettings",
    "Target",
    "ThresholdSettings",
    "combine_desirabilities",
    "parse_conditions",
]

_GOALS = ("max", "min", "range")
_COMBINE = ("geometric", "arithmetic")


@dataclass
class StandardizeSettings:
    """``[standardize]``: how input molecules are cleaned before anything else."""

    enabled: bool = True
    largest_fragment: bool = True
    neutralize: bool = True


@dataclass
class DeduplicateSettings:
    """``[deduplicate]``: drop repeated compounds (same InChIKey), keeping the first row."""

    enabled: bool = True


@dataclass
class PropertySettings:
    """``[properties]``: properties written to the shortlist (empty ``names``: all of them).

    Properties needed by rules, thresholds and the score are always computed.
    """

    enabled: bool = True
    names: list[str] = field(default_factory=list)


@dataclass
class RuleSettings:
    """``[rules]``: Lipinski's rule of five (with allowed violations) and Veber's rules."""

    lipinski: bool = True
    lipinski_max_violations: int = 1
    veber: bool = True


@dataclass
class ThresholdSettings:
    """``[thresholds]``: property conditions every candidate must meet, e.g. ``"SA<4.5"``."""

    where: list[str] = field(default_factory=list)


@dataclass
class AlertSettings:
    """``[alerts]``: RDKit FilterCatalog sets whose first match rejects a molecule."""

    catalogs: list[str] = field(default_factory=lambda: ["pains", "brenk", "nih", "zinc"])


@dataclass
class NoveltySettings:
    """``[novelty]``: comparison with reference sets (e.g. the training set).

    ``reject_known`` rejects exact matches (canonical SMILES); ``nearest_neighbor`` annotates
    the shortlist with the most similar reference molecule; ``max_similarity`` rejects
    candidates whose nearest neighbour is more similar than that (Tanimoto on Morgan bits).
    """

    references: list[str] = field(default_factory=list)
    reject_known: bool = True
    nearest_neighbor: bool = True
    max_similarity: float | None = None
    fingerprint_radius: int = 2
    fingerprint_bits: int = 2048
    cache_dir: str | None = None


@dataclass
class Target:
    """One ``[[score.targets]]`` entry: how desirable a property value is (see module docs)."""

    property: str
    goal: str = "max"
    low: float = 0.0
    high: float = 1.0
    tolerance: float = 1.0
    weight: float = 1.0

    def desirability(self, value: float) -> float:
        """Map a property value to [0, 1]; a missing (NaN) value is undesirable (0)."""
        if value is None or not math.isfinite(value):
            return 0.0
        if self.goal == "max":
            return min(max((value - self.low) / (self.high - self.low), 0.0), 1.0)
        if self.goal == "min":
            return min(max((self.high - value) / (self.high - self.low), 0.0), 1.0)
        distance = max(self.low - value, value - self.high, 0.0)
        return max(1.0 - distance / self.tolerance, 0.0)

    def describe(self) -> str:
        """Short text such as ``QED max [0.2, 0.9] x1``."""
        return f"{self.property} {self.goal} [{self.low:g}, {self.high:g}] x{self.weight:g}"


def _default_targets() -> list[Target]:
    return [
        Target("QED", "max", low=0.2, high=0.9, weight=1.0),
        Target("SA", "min", low=2.0, high=6.0, weight=1.0),
        Target("logP", "range", low=1.0, high=4.0, tolerance=2.0, weight=0.5),
    ]


@dataclass
class ScoreSettings:
    """``[score]``: the desirability score used for ranking (and an optional minimum)."""

    enabled: bool = True
    combine: str = "geometric"
    min_score: float | None = None
    targets: list[Target] = field(default_factory=_default_targets)


@dataclass
class SelectionSettings:
    """``[selection]``: how many molecules the shortlist keeps (0: all) and how diverse.

    With ``diverse`` > 0 the MaxMin picker chooses that many among the best-scored candidates:
    the top ``top`` when given, else the top ``diverse * diversity_pool``.
    """

    top: int = 0
    diverse: int = 0
    diversity_pool: int = 5
    seed: int = 42


_SECTIONS: dict[str, type] = {
    "standardize": StandardizeSettings,
    "deduplicate": DeduplicateSettings,
    "properties": PropertySettings,
    "rules": RuleSettings,
    "thresholds": ThresholdSettings,
    "alerts": AlertSettings,
    "novelty": NoveltySettings,
    "score": ScoreSettings,
    "selection": SelectionSettings,
}


@dataclass
class ScreenConfig:
    """Everything a screen does; loads from TOML with strict validation (unknown keys fail).

    ``smarts`` maps a name to a SMARTS pattern that rejects the molecules it matches (the TOML
    ``[smarts]`` table). ``jobs=0`` uses every CPU available (``MOLVAE_JOBS`` overrides).
    """

    chunk_size: int = 10_000
    jobs: int = 0
    smiles_column: str | None = None
    standardize: StandardizeSettings = field(default_factory=StandardizeSettings)
    deduplicate: DeduplicateSettings = field(default_factory=DeduplicateSettings)
    properties: PropertySettings = field(default_factory=PropertySettings)
    rules: RuleSettings = field(default_factory=RuleSettings)
    thresholds: ThresholdSettings = field(default_factory=ThresholdSettings)
    smarts: dict[str, str] = field(default_factory=dict)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    novelty: NoveltySettings = field(default_factory=NoveltySettings)
    score: ScoreSettings = field(default_factory=ScoreSettings)
    selection: SelectionSettings = field(default_factory=SelectionSettings)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> ScreenConfig:
        """Read and validate a screening TOML file (see ``configs/screen.toml``)."""
        return cls.from_dict(read_toml(path), where=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "screen config") -> ScreenConfig:
        """Build from a TOML-shaped dict: top-level keys plus one table per section."""
        data = dict(data)
        sections: dict[str, Any] = {}
        for name, section_cls in _SECTIONS.items():
            if name not in data:
                continue
            table = data.pop(name)
            if not isinstance(table, dict):
                raise MolvaeError(f"{where}: section {name} must be a table")
            table = dict(table)
            targets = table.pop("targets", None) if name == "score" else None
            section = from_dict(section_cls, table, where=f"{where} section {name}")
            if targets is not None:
                section.targets = _targets_from_toml(targets, where)
            sections[name] = section
        smarts = data.pop("smarts", {})
        if not isinstance(smarts, dict) or not all(isinstance(v, str) for v in smarts.values()):
            raise MolvaeError(f'{where}: section smarts must be a table of name = "SMARTS" strings')
        config = dataclasses.replace(from_dict(cls, data, where=where), **sections, smarts=smarts)
        config.validate(where)
        return config

    def override(
        self,
        *,
        where: Sequence[str] = (),
        filters: Sequence[str] | None = None,
        references: Sequence[str | os.PathLike[str]] = (),
        top: int | None = None,
        diverse: int | None = None,
        max_similarity: float | None = None,
        jobs: int | None = None,
        smiles_column: str | None = None,
    ) -> ScreenConfig:
        """A copy with command-line options layered on top (conditions and references add).

        ``filters`` replaces the alert catalogs; ``["none"]`` switches alerts off.
        """
        cfg = dataclasses.replace(
            self,
            thresholds=dataclasses.replace(self.thresholds, where=[*self.thresholds.where, *where]),
            novelty=dataclasses.replace(
                self.novelty, references=[*self.novelty.references, *map(str, references)]
            ),
        )
        if filters is not None:
            catalogs = [] if [f.lower() for f in filters] == ["none"] else list(filters)
            cfg.alerts = dataclasses.replace(cfg.alerts, catalogs=catalogs)
        if max_similarity is not None:
            cfg.novelty.max_similarity = max_similarity
        if top is not None or diverse is not None:
            cfg.selection = dataclasses.replace(
                cfg.selection,
                top=cfg.selection.top if top is None else top,
                diverse=cfg.selection.diverse if diverse is None else diverse,
            )
        if jobs is not None:
            cfg.jobs = jobs
        if smiles_column is not None:
            cfg.smiles_column = smiles_column
        cfg.validate("options")
        return cfg

    def validate(self, where: str = "screen config") -> None:
        """Raise ``MolvaeError`` naming the first bad value; canonicalizes property names."""
        if self.chunk_size < 1:
            raise MolvaeError(f"{where}: chunk_size must be at least 1")
        if self.jobs < 0:
            raise MolvaeError(f"{where}: jobs must be 0 (all CPUs) or positive")
        self.properties.names = [
            _property_name(n, f"{where} section properties") for n in self.properties.names
        ]
        if not 0 <= self.rules.lipinski_max_violations <= 3:
            raise MolvaeError(f"{where} section rules: lipinski_max_violations must be 0..3")
        parse_conditions(self.thresholds.where)  # parse errors surface here, before any work
        for name, pattern in self.smarts.items():
            try:
                chem.compile_smarts(pattern)
            except ValueError as exc:
                raise MolvaeError(f"{where} section smarts, {name}: {exc}") from None
        self.alerts.catalogs = chem.check_alert_sets(
            self.alerts.catalogs, f"{where} section alerts"
        )
        nov = self.novelty
        if nov.max_similarity is not None and not 0.0 < nov.max_similarity <= 1.0:
            raise MolvaeError(f"{where} section novelty: max_similarity must be in (0, 1]")
        if nov.fingerprint_bits < 64 or nov.fingerprint_bits % 64:
            raise MolvaeError(f"{where} section novelty: fingerprint_bits must be a multiple of 64")
        if not 0 <= nov.fingerprint_radius <= 6:
            raise MolvaeError(f"{where} section novelty: fingerprint_radius must be 0..6")
        score = self.score
        if score.combine not in _COMBINE:
            raise MolvaeError(
                f"{where} section score: combine must be one of {', '.join(_COMBINE)}"
            )
        if score.min_score is not None and not 0.0 <= score.min_score <= 1.0:
            raise MolvaeError(f"{where} section score: min_score must be in [0, 1]")
        for target in score.targets:
            _validate_target(target, f"{where} score.targets {target.property}")
        sel = self.selection
        if sel.top < 0 or sel.diverse < 0 or sel.diversity_pool < 1:
            raise MolvaeError(
                f"{where} section selection: top and diverse must be >= 0, diversity_pool >= 1"
            )

    @property
    def scored(self) -> bool:
        """Does the screen compute a score (enabled, with at least one target)?"""
        return self.score.enabled and bool(self.score.targets)

    def pool_size(self) -> int | None:
        """How many best-ranked candidates selection keeps (``None``: all of them)."""
        sel = self.selection
        if sel.diverse:
            return sel.top or sel.diverse * sel.diversity_pool
        return sel.top or None


def _targets_from_toml(targets: Any, where: str) -> list[Target]:
    if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
        raise MolvaeError(f"{where}: score.targets must be a list of tables")
    out = []
    for i, table in enumerate(targets, 1):
        if "property" not in table:
            raise MolvaeError(f"{where} score.targets #{i}: missing key 'property'")
        out.append(from_dict(Target, table, where=f"{where} score.targets #{i}"))
    return out


def _property_name(name: str, where: str) -> str:
    try:
        return chem.get_property(name).name
    except KeyError as exc:
        raise MolvaeError(f"{where}: {exc.args[0]}") from None


def _validate_target(target: Target, where: str) -> None:
    target.property = _property_name(target.property, where)
    if target.goal not in _GOALS:
        raise MolvaeError(f"{where}: goal must be one of {', '.join(_GOALS)}, got {target.goal!r}")
    if not target.high > target.low:
        raise MolvaeError(f"{where}: high must be greater than low")
    if target.weight <= 0 or target.tolerance <= 0:
        raise MolvaeError(f"{where}: weight and tolerance must be positive")


def parse_conditions(specs: Sequence[str]) -> list:
    """Parse threshold conditions such as ``SA<4.5`` (``MolvaeError`` on a bad one)."""
    if not specs:
        return []

    return [parse_condition(s) for s in specs]


def combine_desirabilities(
    values: Sequence[float], weights: Sequence[float], method: str = "geometric"
) -> float:
    """Weighted geometric (any 0 gives 0) or arithmetic mean of desirabilities in [0, 1]."""
    total = float(sum(weights))
    if total <= 0 or not values:
        return 0.0
    if method == "arithmetic":
        return float(sum(w * d for d, w in zip(values, weights, strict=True)) / total)
    if any(d <= 0 for d in values):
        return 0.0
    return float(
        math.exp(sum(w * math.log(d) for d, w in zip(values, weights, strict=True)) / total)
    )
