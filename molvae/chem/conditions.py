"""Property conditions such as ``MW<500`` or ``QED>=0.6``: parsed once, checked per molecule.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from molvae.chem.properties import get_property
from molvae.errors import MolvaeError

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
        name = get_property(m.group(1)).name
    except KeyError as exc:
        raise MolvaeError(f"condition {spec!r}: {exc.args[0]}") from None
    return Condition(name, m.group(2), float(m.group(3)))
