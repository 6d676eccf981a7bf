"""Accepted ranges of the commands' numeric options, checked while the options are parsed.

Every int or float option declares its range in its ``typer.Option``:
``typer.Option(1000, "-n", **whole(1, MAX_SAMPLES), help=...)`` or ``**real(0.0, 1.0)``. Typer
shows the range in ``--help`` (``[1<=x<=1000000]``), and a value outside it, NaN, infinity or
text that is not a number is a usage error (exit 2) naming the option and the range, e.g.
``Invalid value for '-n': 0 is not in the range 1<=x<=1000000.``. The check runs while the
options are parsed, so it comes before any model or file is loaded, and it applies equally to
values from a ``--config`` file.

The lower ends follow from what an option means (a count of molecules is at least 1, a share
or a Tanimoto similarity lies in [0, 1], a temperature is positive). The upper ends bound what
one run may ask for: far above the defaults, but below values that would take days or
gigabytes of memory (each is explained where it is chosen).
"""

from __future__ import annotations

import math
import re
from typing import Any

import typer

from molvae.models.config import SIZE_LIMITS

__all__ = [
    "MAX_BEAM",
    "MAX_DECODE_BATCH",
    "MAX_ENCODE_BATCH",
    "MAX_REFINE_STEPS",
    "MAX_SAMPLES",
    "MAX_SEED",
    "MAX_VOCABULARY",
    "REFINE_STEPS",
    "SEED",
    "SHARE",
    "TEMPERATURE",
    "real",
    "whole",
]

# Molecules sampled by one `molvae sample`: the table is held in memory, and so are the latent
# draws of --any-form (0.26 GB per million with a 64-d latent); canonical-form sampling stops
# after 50 rounds of at most 200,000 draws anyway.
MAX_SAMPLES = 1_000_000
# Rows per encoder batch: activations grow as batch x length x hidden (about 0.8 GB at 4,096
# molecules of 100 tokens with the bundled model's bidirectional encoder).
MAX_ENCODE_BATCH = 4096
# Rows per decoder batch (greedy, sampled or beam decoding); a batch is also never larger than
# an eighth of the input (or 256 rows).
MAX_DECODE_BATCH = 16_384
# Strings kept per latent point by a beam search (cost and memory grow linearly with it).
MAX_BEAM = 128
# Refinement steps of an encoding (molvae.refine_latents): 33 times the default of 30.
MAX_REFINE_STEPS = 1000
# Tokens of a vocabulary (the model store's limit): a --top-k at least this large restricts
# nothing.
MAX_VOCABULARY = SIZE_LIMITS["vocab_size"]
# Random seeds: scikit-learn (t-SNE of `molvae map`) takes 32-bit seeds, so every command does.
MAX_SEED = 2**32 - 1

_INTEGER = re.compile(r"[+-]?[0-9][0-9_]*")


def _fmt(value: float) -> str:
    """A bound as written in the range: ``1000000``, ``0``, ``0.01``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _shown(value: Any) -> str:
    """The value as the user wrote it, shortened: a 5,000-digit number is not echoed whole."""
    if isinstance(value, bool):  # from a config file, as TOML writes it
        return "true" if value else "false"
    text = value.strip() if isinstance(value, str) else repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


class _Range:
    """Typer ``parser``: a number in ``[lo, hi]`` from the command line or a config file."""

    def __init__(self, lo: float, hi: float, integer: bool) -> None:
        self.lo, self.hi, self.integer = lo, hi, integer
        self.text = f"{_fmt(lo)}<=x<={_fmt(hi)}"

    def __call__(self, value: Any) -> int | float:
        number = self._number(value)
        if number is None:
            kind = "an integer" if self.integer else "a number"
            shown = repr(_shown(value)) if isinstance(value, str) else _shown(value)
            raise typer.BadParameter(f"{shown} is not {kind} in the range {self.text}.")
        # NaN compares false with everything, so it fails here too (as does an infinity).
        if not self.lo <= number <= self.hi:
            raise typer.BadParameter(f"{_shown(value)} is not in the range {self.text}.")
        return number

    def _number(self, value: Any) -> int | float | None:
        """``value`` as an int (or float), or None when it is not one; may be out of range."""
        if isinstance(value, bool):  # a TOML true/false is not a number
            return None
        if isinstance(value, int):
            return value if self.integer else float(value)
        if isinstance(value, float):
            if not self.integer:
                return value
            return int(value) if math.isfinite(value) and value.is_integer() else None
        if not isinstance(value, str):
            return None
        text = value.strip()
        if self.integer and _INTEGER.fullmatch(text):
            try:
                return int(text)
            except ValueError:  # more digits than int() parses: certainly out of range
                return math.inf
        try:
            number = float(text)  # also "1e6", "nan", "inf"
        except ValueError:
            return None
        if not self.integer:
            return number
        # "1e6" is a whole number in scientific notation; "2.5" is not a whole number.
        if not math.isfinite(number):
            return number
        return int(number) if number.is_integer() else None


def whole(lo: int, hi: int) -> dict[str, Any]:
    """Keyword arguments of ``typer.Option`` for an integer option accepting ``lo..hi``."""
    return {"min": lo, "max": hi, "parser": _Range(lo, hi, integer=True)}


def real(lo: float, hi: float) -> dict[str, Any]:
    """Keyword arguments of ``typer.Option`` for a float option accepting finite ``[lo, hi]``."""
    shown = [int(v) if float(v).is_integer() else v for v in (lo, hi)]
    return {"min": shown[0], "max": shown[1], "parser": _Range(float(lo), float(hi), False)}


# A random seed.
SEED = whole(0, MAX_SEED)
# A share, probability or Tanimoto similarity.
SHARE = real(0.0, 1.0)
# A softmax temperature: 0.01 is already all but greedy (``--strategy greedy`` is the limit at
# 0, where dividing the logits would overflow), 100 all but uniform.
TEMPERATURE = real(0.01, 100.0)
# Latent refinement steps (0: the encoder's mu as it is).
REFINE_STEPS = whole(0, MAX_REFINE_STEPS)
