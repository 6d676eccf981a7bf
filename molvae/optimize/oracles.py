"""Oracles for :func:`molvae.design`: a user's Python function or an external command, and the
checks every oracle answer goes through.

An oracle takes a list of canonical SMILES and returns one score per molecule (higher is better).
A score that is None, NaN, infinite or not a number marks that molecule as failed (recorded with
the reason, the run goes on). A batch whose call raises is retried one molecule at a time, so
that one molecule that crashes the oracle fails alone; only when every molecule of the batch
fails that way, or the answer has the wrong length, does the run stop with an
:class:`OracleError` (the calls recorded so far are kept).
"""

from __future__ import annotations

import importlib.util
import math
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from molvae.errors import MolvaeError, file_not_found

Oracle = Callable[[list[str]], Sequence[Any]]


class OracleError(MolvaeError):
    """The oracle failed for a whole batch, or answered with the wrong number of values."""


class OracleLengthError(OracleError):
    """The oracle returned a number of values other than the number of molecules sent."""


def load_python_oracle(spec: str) -> Oracle:
    """The function ``FUNCTION`` of the Python file ``FILE.py``, from ``"FILE.py:FUNCTION"``.

    The file is run as a module (it is the user's own code, loaded at their request), with its
    folder on ``sys.path`` so that it can import its neighbours. A missing file, a missing or
    non-callable function, or an error while the file runs is a one-line :class:`MolvaeError`.
    """
    path_text, sep, name = spec.rpartition(":")
    if not sep or not path_text or not name:
        raise MolvaeError(f"--oracle {spec!r}: expected FILE.py:FUNCTION")
    path = Path(path_text)
    if not path.is_file():
        raise file_not_found(path)
    module_name = f"molvae_oracle_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise MolvaeError(f"{path}: cannot load as a Python file")
    module = importlib.util.module_from_spec(loader_spec)
    folder = str(path.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any error is theirs to see, in one line
        raise MolvaeError(f"{path}: error while loading: {type(exc).__name__}: {exc}") from None
    function = getattr(module, name, None)
    if function is None:
        public = sorted(
            k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
            and getattr(v, "__module__", None) == module_name
        )
        listing = ", ".join(public) or "none"
        raise MolvaeError(f"{path}: no function {name!r} (functions defined there: {listing})")
    if not callable(function):
        raise MolvaeError(f"{path}: {name!r} is not a function")
    return function


@dataclass
class CommandOracle:
    """An external process per batch: SMILES one per line on stdin, one score per line on stdout.

    The command is run by the shell (so pipes and ``cd x && ./dock.sh`` work). A line that is
    empty, ``nan`` or ``None`` (or not a number) is a failed molecule. A non-zero exit status
    fails the batch, with the last line of the command's stderr as the reason.
    """

    command: str
    timeout: float | None = None

    def __call__(self, smiles: list[str]) -> list[float | None]:
        text = "".join(f"{s}\n" for s in smiles)
        try:
            done = subprocess.run(
                self.command, input=text, capture_output=True, text=True, shell=True,
                timeout=self.timeout, check=False,
            )
        except subprocess.TimeoutExpired:
            raise OracleError(f"--oracle-cmd timed out after {self.timeout:g} s") from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            last = lines[-1].strip() if lines else "no message on stderr"
            raise OracleError(
                f"--oracle-cmd {shlex.quote(self.command)} exited with status "
                f"{done.returncode}: {last}"
            )
        lines = done.stdout.splitlines()
        while lines and not lines[-1].strip() and len(lines) > len(smiles):
            lines.pop()  # trailing blank lines
        return [parse_score_text(line) for line in lines]


def parse_score_text(text: str) -> float | None:
    """A score from one line of an external oracle's output (None when it is not a number)."""
    text = text.strip()
    try:
        return float(text.split()[0]) if text else None
    except ValueError:
        return None


def check_score(value: Any) -> tuple[float, str]:
    """``(score, "")`` for a usable score, ``(nan, reason)`` for a failed one."""
    if value is None:
        return math.nan, "oracle returned None"
    try:
        score = float(value)
    except (TypeError, ValueError):
        return math.nan, f"oracle returned a non-number: {str(value)[:60]!r}"
    if math.isnan(score):
        return math.nan, "oracle returned NaN"
    if math.isinf(score):
        return math.nan, f"oracle returned {score}"
    return score, ""


def _describe(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}"[:200] if message else type(exc).__name__


def _as_list(values: Any, n: int) -> list[Any]:
    try:
        out = list(values)
    except TypeError:
        raise OracleLengthError(
            f"the oracle returned {type(values).__name__}, not one value per molecule"
        ) from None
    if len(out) != n:
        raise OracleLengthError(
            f"the oracle returned {len(out)} value(s) for {n} molecule(s); it must return one "
            "score per molecule, in order"
        )
    return out


def call_oracle(oracle: Oracle, smiles: list[str]) -> tuple[list[float], list[str]]:
    """Scores and failure reasons (``""`` when ok) of one batch, checked value by value.

    A call that raises is repeated for each molecule alone; the ones that raise again fail with
    the exception as their reason. :class:`OracleError` when all of a batch of several raise
    (the oracle is broken, not one molecule) or when an answer has the wrong number of values.
    A batch of one that raises is a failed molecule; :func:`molvae.design` stops after several
    such molecules in a row.
    """
    try:
        values = _as_list(oracle(list(smiles)), len(smiles))
    except OracleLengthError:
        raise
    except Exception as batch_exc:
        if len(smiles) == 1:
            return [math.nan], [f"oracle raised {_describe(batch_exc)}"]
        scores, reasons = [], []
        for s in smiles:
            try:
                (value,) = _as_list(oracle([s]), 1)
            except OracleLengthError:
                raise
            except Exception as exc:
                scores.append(math.nan)
                reasons.append(f"oracle raised {_describe(exc)}")
                continue
            score, reason = check_score(value)
            scores.append(score)
            reasons.append(reason)
        if all(r.startswith("oracle raised") for r in reasons):
            raise OracleError(
                f"the oracle failed for every molecule of a batch of {len(smiles)}: "
                f"{_describe(batch_exc)}"
            ) from None
        return scores, reasons
    checked = [check_score(v) for v in values]
    return [c[0] for c in checked], [c[1] for c in checked]
