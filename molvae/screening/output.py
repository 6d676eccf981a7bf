"""Writing a shortlist as SDF (properties as SD tags) and as an image grid."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from molvae import chem
from molvae.data.tables import write_image
from molvae.errors import MolvaeError

__all__ = ["write_grid", "write_sdf"]


def write_sdf(shortlist: pd.DataFrame, path: str | os.PathLike[str]) -> int:
    """Write the shortlist as an SD file: standardized structures, every column as an SD tag.

    The input SMILES travels as the ``input_smiles`` tag and a ``name`` column (if any) as the
    record title. Returns the number of records written.
    """
    tag_columns = [c for c in shortlist.columns if c not in ("canonical", "name")]

    def records() -> Iterator[tuple[str, str, dict[str, object]]]:
        for rec in shortlist.to_dict("records"):
            tags = {("input_smiles" if c == "smiles" else c): rec[c] for c in tag_columns}
            title = rec.get("name")
            yield rec["canonical"], "" if pd.isna(title) else str(title), tags

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _staged(path) as partial:
        return chem.write_sdf(records(), partial)


def write_grid(
    shortlist: pd.DataFrame,
    path: str | os.PathLike[str],
    n: int = 24,
    mols_per_row: int = 4,
    size: tuple[int, int] = (300, 250),
) -> Path:
    """Draw the first ``n`` shortlisted molecules (PNG, or SVG for a ``.svg`` name) with legends.

    Each legend gives the rank, the input row and the score when there is one.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise MolvaeError(f"{path}: grid image must be .png or .svg")
    top = shortlist.head(n)
    legends = []
    for rec in top.to_dict("records"):
        text = f"#{rec['rank']}  row {rec['row']}"
        if "score" in rec and pd.notna(rec["score"]):
            text += f"  score {rec['score']:.2f}"
        legends.append(text)
    image = chem.grid_image(
        top["canonical"].tolist(),
        legends,
        mols_per_row=mols_per_row,
        size=size,
        svg=suffix == ".svg",
    )
    with _staged(path) as partial:
        write_image(image, partial)
    return path


@contextmanager
def _staged(path: Path) -> Iterator[str]:
    """A hidden name beside ``path`` (same extension) to write to, renamed to ``path`` when
    the block succeeds and removed when it fails: a killed screen leaves no half file."""
    partial = path.with_name(f".partial.{path.name}")
    try:
        yield str(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
