"""Goals of a latent search: maximize, minimize or approach a property value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from molvae import chem
from molvae.errors import MolvaeError


@dataclass(frozen=True)
class Goal:
    """One objective term: maximize, minimize, or reach ``value`` of a predicted property."""

    name: str
    mode: str  # "max" | "min" | "target"
    value: float | None = None
    weight: float = 1.0

    def describe(self) -> str:
        if self.mode == "target":
            return f"{self.name} = {self.value:g}"
        return f"{self.mode}imize {self.name}"


def parse_goal(spec: str, available: Sequence[str], weight: float = 1.0) -> Goal:
    """Parse ``logP`` / ``logP:max`` / ``logP:min`` / ``logP=2.5`` against the model's heads."""
    text = spec.strip()
    mode, value = "max", None
    if "=" in text:
        text, raw = text.split("=", 1)
        try:
            value = float(raw)
        except ValueError:
            raise MolvaeError(f"target {spec!r}: {raw!r} is not a number") from None
        mode = "target"
    elif ":" in text:
        text, mode = text.split(":", 1)
        mode = mode.strip().lower()
        if mode not in ("max", "min"):
            raise MolvaeError(f"target {spec!r}: use NAME, NAME:max, NAME:min or NAME=VALUE")
    name = chem.match_property_name(text.strip(), available)
    if name is None:
        listing = ", ".join(available) if available else "none"
        try:
            rdkit_name = chem.get_property(text.strip()).name
        except KeyError:
            raise MolvaeError(
                f"unknown target {text.strip()!r}; this model predicts: {listing}"
            ) from None
        raise MolvaeError(
            f"this model has no predictor for {rdkit_name} (it predicts: {listing}); fit one "
            f"with `molvae fit-property DATA --column {rdkit_name} --model MODEL --out NEW_MODEL`"
        )
    return Goal(name, mode, value, weight)


def as_goals(goals: str | Goal | Sequence[str | Goal], available: Sequence[str]) -> list[Goal]:
    """Goals from specs (``"logP"``, ``"SA:min"``, ``"QED=0.8"``) or ``Goal`` objects."""
    if isinstance(goals, str | Goal):
        goals = [goals]
    return [g if isinstance(g, Goal) else parse_goal(g, available) for g in goals]
