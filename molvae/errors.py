"""User-facing error type, and the one wording of each common kind of error.

A ``MolvaeError`` carries one line that tells the user what went wrong and, where possible, what to
do. The CLI prints it without a traceback (unless ``--debug``) and exits with status 1.

Errors about a file start with the file's name, then say what is wrong with it, so every command
words the same problem the same way:

- ``data.csv: file not found``                               (:func:`file_not_found`)
- ``data.csv: cannot read: near data row 17: <parser error>`` (:func:`cannot_read`)
- ``data.csv: no column 'pIC50' (columns: smiles, name)``    (:func:`no_column`)
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MolvaeError", "cannot_read", "file_not_found", "no_column"]


class MolvaeError(Exception):
    """An expected, explainable failure (bad file, bad option value, missing model, offline...)."""


def file_not_found(path: object) -> MolvaeError:
    """The one wording of a missing input file, whatever the file is for: ``X: file not found``."""
    return MolvaeError(f"{path}: file not found")


def cannot_read(path: object, reason: object) -> MolvaeError:
    """The one wording of a file that exists but cannot be read or parsed:
    ``X: cannot read: REASON``."""
    return MolvaeError(f"{path}: cannot read: {' '.join(str(reason).split())}")


def no_column(
    column: str, columns: Iterable[object], source: object | None = None, hint: str = ""
) -> MolvaeError:
    """The one wording of a column a table lacks, naming the columns it has:
    ``X: no column 'c' (columns: a, b)`` and an optional ``; hint``."""
    present = ", ".join(str(c) for c in columns) or "none"
    where = f"{source}: " if source is not None else ""
    tail = f"; {hint}" if hint else ""
    return MolvaeError(f"{where}no column {column!r} (columns: {present}){tail}")
