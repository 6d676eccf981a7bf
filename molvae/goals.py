"""Optimization goals (``logP``, ``QED:min``, ``logP=2.5``) and property conditions (``MW<500``).

Parsed from the command line by ``generate``, ``optimize`` and ``screen``. This module needs
neither torch nor a model, so a screen with ``--where`` conditions starts fast.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from molvae import chem
from molvae.errors import MolvaeError

__all__ = ["Condition", "Goal", "parse_condition", "parse_goal"]




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


def _resolve_property_name(name: str, available: Sequence[str]) -> str | None:
    lowered = {a.lower(): a for a in available}
    if name.lower() in lowered:
        return lowered[name.lower()]
    try:
        canonical = chem.get_property(name).name
    except KeyError:
        return None
    return lowered.get(canonical.lower())


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
    name = _resolve_property_name(text.strip(), available)
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


_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
}
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(<=|>=|==|!=|<|>|=)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Condition:
    """A property range such as ``MW<500``, checked on the RDKit value."""

    name: str
    op: str
    value: float

    def holds(self, x: float) -> bool:
        return bool(np.isfinite(x)) and _OPS[self.op](x, self.value)

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value:g}"


def parse_condition(spec: str) -> Condition:
    """Parse ``MW<500``, ``QED>=0.5``, ... (any named RDKit property)."""
    m = _CONDITION.match(spec)
    if not m:
        raise MolvaeError(f"condition {spec!r}: expected NAME<VALUE (operators < <= > >= = !=)")
    try:
        name = chem.get_property(m.group(1)).name
    except KeyError as exc:
        raise MolvaeError(f"condition {spec!r}: {exc.args[0]}") from None
    return Condition(name, m.group(2), float(m.group(3)))
