"""Structural alerts from RDKit's FilterCatalog (PAINS, Brenk, NIH, ZINC, ChEMBL).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rdkit import Chem

from molvae.errors import MolvaeError

_CATALOG_NAMES = ("PAINS", "BRENK", "NIH", "ZINC", "CHEMBL")


def alert_catalog_names() -> list[str]:
    """Names accepted by ``structural_alerts`` (RDKit FilterCatalog sets), lower-case."""
    return [n.lower() for n in _CATALOG_NAMES]


@lru_cache(maxsize=16)
def _filter_catalog(name: str):
    from rdkit.Chem import FilterCatalog

    key = name.upper()
    if key not in _CATALOG_NAMES:
        raise KeyError(
            f"unknown filter set {name!r}; available: {', '.join(alert_catalog_names())}"
        )
    params = FilterCatalog.FilterCatalogParams()
    params.AddCatalog(getattr(FilterCatalog.FilterCatalogParams.FilterCatalogs, key))
    return FilterCatalog.FilterCatalog(params)


def structural_alerts(mol: Chem.Mol, catalogs: Sequence[str], first_only: bool = True) -> list[str]:
    """Alerts matched in ``mol`` as ``"SET: description"``; empty if it passes every set.

    With ``first_only`` each set stops at its first match (enough to reject a molecule).
    """
    hits: list[str] = []
    for name in catalogs:
        catalog = _filter_catalog(name)
        if first_only:
            entry = catalog.GetFirstMatch(mol)
            if entry is not None:
                hits.append(f"{name.upper()}: {entry.GetDescription()}")
        else:
            hits.extend(f"{name.upper()}: {e.GetDescription()}" for e in catalog.GetMatches(mol))
    return hits


def check_alert_sets(names: Sequence[str], where: str = "filters") -> list[str]:
    """The alert set names in lower case; an unknown one is an error naming those available."""
    valid = alert_catalog_names()
    names = [n.lower() for n in names]
    bad = [n for n in names if n not in valid]
    if bad:
        raise MolvaeError(
            f"{where}: unknown filter set(s) {', '.join(bad)}; available: {', '.join(valid)}"
        )
    return names
