"""The outcome of a screen: shortlist, rejects and the count of rows per outcome."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["OUTCOMES", "REJECT_COLUMNS", "SHORTLIST", "STEPS", "ScreenResult"]

# Pipeline order; also the order of outcomes in summaries.
STEPS = (
    "read",
    "standardize",
    "deduplicate",
    "novelty",
    "rules",
    "thresholds",
    "smarts",
    "alerts",
    "score",
    "similarity",
    "selection",
)
SHORTLIST = "shortlist"
OUTCOMES = (SHORTLIST, *STEPS)
REJECT_COLUMNS = ("row", "smiles", "step", "reason")


@dataclass
class ScreenResult:
    """Shortlist (ranked), rejects and the count of input rows per outcome.

    ``counts`` maps ``"shortlist"`` and each step in :data:`STEPS` to its number of rows (zero
    counts omitted); they add up to ``n_input``. ``reasons`` counts rows per ``(step, label)``
    where the label groups reasons (``"PAINS"``, ``"duplicate"``, ``"SA<4.5"``...).
    ``rejects`` is ``None`` when the rejects were streamed to ``rejects_path`` or not kept.
    ``timings`` holds wall-clock seconds per phase.
    """

    shortlist: pd.DataFrame
    rejects: pd.DataFrame | None
    counts: dict[str, int]
    reasons: dict[tuple[str, str], int]
    n_input: int
    timings: dict[str, float] = field(default_factory=dict)
    rejects_path: Path | None = None

    @property
    def n_shortlisted(self) -> int:
        """Number of molecules in the shortlist."""
        return len(self.shortlist)

    def describe(self) -> str:
        """One line, e.g. ``screened 1,000 rows: 50 shortlisted, 950 rejected``."""
        return (
            f"screened {self.n_input:,} rows: {self.n_shortlisted:,} shortlisted, "
            f"{self.n_input - self.n_shortlisted:,} rejected"
        )

    def summary_table(self, max_reasons: int = 4):
        """A rich table of rows per outcome, with the most frequent reasons of each step."""
        from rich.table import Table

        table = Table(title=self.describe(), title_justify="left")
        table.add_column("outcome")
        table.add_column("reason")
        table.add_column("rows", justify="right")
        table.add_column("%", justify="right")
        total = max(self.n_input, 1)
        for outcome in OUTCOMES:
            count = self.counts.get(outcome, 0)
            if not count:
                continue
            table.add_row(outcome, "", f"{count:,}", f"{100 * count / total:.1f}")
            labels = sorted(
                ((n, label) for (step, label), n in self.reasons.items() if step == outcome),
                key=lambda item: (-item[0], item[1]),
            )
            if len(labels) > 1 or (labels and outcome not in ("deduplicate", "novelty")):
                for n, label in labels[:max_reasons]:
                    table.add_row("", label, f"{n:,}", f"{100 * n / total:.1f}")
                rest = sum(n for n, _ in labels[max_reasons:])
                if rest:
                    table.add_row("", "other", f"{rest:,}", f"{100 * rest / total:.1f}")
        table.add_row("total", "", f"{self.n_input:,}", "100.0", style="bold")
        return table


class RejectSink:
    """Collects rejected rows in memory, or appends them to a CSV chunk by chunk."""

    def __init__(self, path: Path | None, keep: bool) -> None:
        self.path = path
        self.keep = keep and path is None
        self.frames: list[pd.DataFrame] = []
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[tuple[str, str]] = Counter()
        self._pending: list[pd.DataFrame] = []
        self._written = False
        # Rows are appended to a hidden partial file, renamed to ``path`` by ``result``: a
        # process killed mid-run leaves no rejects file that looks complete.
        self._partial = None if path is None else path.with_name(f".{path.name}.partial")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            self._partial.unlink(missing_ok=True)

    def add(
        self,
        rows: Sequence[int] | np.ndarray,
        smiles: Sequence[str] | np.ndarray,
        step: str,
        reasons: Sequence[str] | str,
        labels: Sequence[str] | str,
    ) -> None:
        n = len(rows)
        if n == 0:
            return
        reasons = [reasons] * n if isinstance(reasons, str) else list(reasons)
        labels = [labels] * n if isinstance(labels, str) else list(labels)
        self.counts[step] += n
        self.reasons.update((step, label) for label in labels)
        if self.keep or self.path is not None:
            self._pending.append(
                pd.DataFrame(
                    {
                        "row": np.asarray(rows, dtype=np.int64),
                        "smiles": np.asarray(smiles, dtype=object),
                        "step": step,
                        "reason": np.asarray(reasons, dtype=object),
                    }
                )
            )

    def flush(self) -> None:
        if not self._pending:
            return
        frame = pd.concat(self._pending, ignore_index=True).sort_values("row", kind="stable")
        self._pending = []
        if self.path is not None:
            frame.to_csv(self._partial, mode="a", header=not self._written, index=False)
            self._written = True
        else:
            self.frames.append(frame)

    def result(self) -> pd.DataFrame | None:
        self.flush()
        if self.path is not None:
            if not self._written:
                pd.DataFrame(columns=list(REJECT_COLUMNS)).to_csv(self._partial, index=False)
                self._written = True
            if self._partial.exists():
                os.replace(self._partial, self.path)
        if not self.keep:
            return None
        if not self.frames:
            return pd.DataFrame(
                {
                    "row": pd.Series([], dtype="int64"),
                    "smiles": pd.Series([], dtype=object),
                    "step": pd.Series([], dtype=object),
                    "reason": pd.Series([], dtype=object),
                }
            )
        frames = pd.concat(self.frames, ignore_index=True)
        return frames.sort_values("row", kind="stable").reset_index(drop=True)
