"""Reading and writing SD files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import numpy as np
from rdkit import Chem

from molvae.chem.molecules import parse_smiles


def iter_sdf_records(stream: BinaryIO) -> Iterator[tuple[str | None, dict[str, object]]]:
    """Stream an SD file as ``(smiles, properties)`` pairs, one per record, in file order.

    ``smiles`` is RDKit's SMILES of the record, ``None`` when RDKit cannot read or sanitize the
    record (its properties are then unknown, so ``{}``). ``properties`` holds the SD data fields
    (numbers already converted by RDKit) plus the title line as ``name`` when it is not blank.
    ``ForwardSDMolSupplier`` reads one record at a time, so memory stays flat on huge files.
    """
    supplier = Chem.ForwardSDMolSupplier(stream)
    for mol in supplier:
        if mol is None:
            yield None, {}
            continue
        props: dict[str, object] = {}
        title = mol.GetProp("_Name").strip() if mol.HasProp("_Name") else ""
        if title:
            props["name"] = title
        props.update(mol.GetPropsAsDict(includePrivate=False, includeComputed=False))
        try:
            smiles = Chem.MolToSmiles(mol)
        except Exception:
            smiles = None
        yield smiles, props


def _sd_value(value: object) -> str | None:
    """Text of an SD tag value; ``None`` (tag omitted) for missing values."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else format(float(value), ".10g")
    if isinstance(value, np.integer):
        return str(int(value))
    text = str(value)
    return None if text == "" or text == "<NA>" else text


def write_sdf(
    records: Iterable[tuple[str, str, dict[str, object]]], path: str | os.PathLike[str]
) -> int:
    """Write ``(smiles, title, tags)`` records as an SD file with 2D coordinates; returns the count.

    Tags become SD data fields (numbers written in full precision, missing values omitted), so
    the properties travel with the structures into other tools. ``.gz`` names are compressed.
    A SMILES RDKit cannot parse is skipped (callers pass validated SMILES).
    """
    import gzip

    from rdkit.Chem import rdDepictor

    path = os.fspath(path)
    opener = gzip.open if path.lower().endswith(".gz") else open
    count = 0
    with opener(path, "wt", encoding="utf-8") as handle:
        writer = Chem.SDWriter(handle)
        try:
            for smiles, title, tags in records:
                mol = parse_smiles(smiles)
                if mol is None:
                    continue
                rdDepictor.Compute2DCoords(mol)
                mol.SetProp("_Name", title or "")
                for key, value in tags.items():
                    text = _sd_value(value)
                    if text is not None:
                        mol.SetProp(str(key), text)
                writer.write(mol)
                count += 1
        finally:
            writer.close()
    return count
