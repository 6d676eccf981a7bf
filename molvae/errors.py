"""User-facing error type.

A ``MolvaeError`` carries one line that tells the user what went wrong and, where possible, what to
do. The CLI prints it without a traceback (unless ``--debug``) and exits with status 1.
"""

from __future__ import annotations

__all__ = ["MolvaeError", "file_not_found"]


class MolvaeError(Exception):
    """An expected, explainable failure (bad file, bad option value, missing model, offline...)."""


def file_not_found(path: object) -> MolvaeError:
    """The one wording of a missing input file, whatever the file is for: ``X: file not found``."""
    return MolvaeError(f"{path}: file not found")
