"""Molecular properties computed by RDKit (logP, QED, SA, penalized logP, MW, TPSA, ...), by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors


def logp(mol: Chem.Mol) -> float:
    """Wildman-Crippen logP (RDKit ``Crippen.MolLogP``)."""
    return float(Crippen.MolLogP(mol))


def qed(mol: Chem.Mol) -> float:
    """Quantitative estimate of drug-likeness (Bickerton et al. 2012), RDKit implementation."""
    return float(QED.qed(mol))


@lru_cache(maxsize=1)
def _sascorer():
    # RDKit ships Ertl & Schuffenhauer's SA score in Contrib; importing it loads fragment scores.
    from rdkit.Contrib.SA_Score import sascorer

    return sascorer


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility score, 1 (easy) to 10 (hard): RDKit Contrib ``sascorer``."""
    return float(_sascorer().calculateScore(mol))


def largest_ring_size(mol: Chem.Mol) -> int:
    """Size of the largest SSSR ring, 0 for acyclic molecules."""
    rings = mol.GetRingInfo().AtomRings()
    return max((len(r) for r in rings), default=0)


def penalized_logp(mol: Chem.Mol) -> float:
    """Penalized logP, unnormalized: ``MolLogP - SA - max(largest_ring - 6, 0)``.

    This is the definition of the constrained-optimization benchmark (Jin et al. 2018) as
    recomputed in its published file, not the ZINC-standardized variant.
    """
    cycle_penalty = max(largest_ring_size(mol) - 6, 0)
    return logp(mol) - sa_score(mol) - cycle_penalty


def heavy_atoms(mol: Chem.Mol) -> int:
    """Number of heavy (non-hydrogen) atoms."""
    return int(mol.GetNumHeavyAtoms())


def molecular_weight(mol: Chem.Mol) -> float:
    """Average molecular weight (RDKit ``Descriptors.MolWt``)."""
    return float(Descriptors.MolWt(mol))


def tpsa(mol: Chem.Mol) -> float:
    """Topological polar surface area (Ertl 2000)."""
    return float(rdMolDescriptors.CalcTPSA(mol))


def h_bond_donors(mol: Chem.Mol) -> float:
    """Lipinski hydrogen-bond donors."""
    return float(Lipinski.NumHDonors(mol))


def h_bond_acceptors(mol: Chem.Mol) -> float:
    """Lipinski hydrogen-bond acceptors."""
    return float(Lipinski.NumHAcceptors(mol))


def rotatable_bonds(mol: Chem.Mol) -> float:
    """Rotatable bonds (RDKit default, strict definition)."""
    return float(rdMolDescriptors.CalcNumRotatableBonds(mol))


def ring_count(mol: Chem.Mol) -> float:
    """Number of SSSR rings."""
    return float(rdMolDescriptors.CalcNumRings(mol))


def heavy_atom_count(mol: Chem.Mol) -> float:
    """Heavy-atom count as a float, for property tables."""
    return float(heavy_atoms(mol))


@dataclass(frozen=True)
class Property:
    """A named molecular property: how to compute it, and the names users may call it by."""

    name: str
    func: Callable[[Chem.Mol], float]
    description: str
    aliases: tuple[str, ...] = ()


# Registry: the CLI's property choices are exactly these names (plus aliases).
PROPERTIES: dict[str, Property] = {
    p.name: p
    for p in (
        Property("logP", logp, "Wildman-Crippen logP", ("logp", "clogp")),
        Property("QED", qed, "quantitative estimate of drug-likeness"),
        Property("SA", sa_score, "synthetic accessibility (1 easy - 10 hard)", ("sascore",)),
        Property(
            "plogP",
            penalized_logp,
            "penalized logP = logP - SA - max(largest ring - 6, 0)",
            ("penalized_logp",),
        ),
        Property("MW", molecular_weight, "molecular weight", ("molwt",)),
        Property("TPSA", tpsa, "topological polar surface area"),
        Property("HBD", h_bond_donors, "hydrogen-bond donors"),
        Property("HBA", h_bond_acceptors, "hydrogen-bond acceptors"),
        Property("RotB", rotatable_bonds, "rotatable bonds", ("rotatable_bonds",)),
        Property("Rings", ring_count, "ring count", ("ring_count",)),
        Property("HeavyAtoms", heavy_atom_count, "heavy atoms", ("heavy_atoms",)),
    )
}


_ALIASES = {alias.lower(): p.name for p in PROPERTIES.values() for alias in (p.name, *p.aliases)}


def property_names() -> list[str]:
    """Canonical names of every built-in property, in a stable order."""
    return list(PROPERTIES)


def get_property(name: str) -> Property:
    """Look a property up by name or alias (case-insensitive); ``KeyError`` lists valid names."""
    key = _ALIASES.get(name.lower())
    if key is None:
        raise KeyError(f"unknown property {name!r}; available: {', '.join(PROPERTIES)}")
    return PROPERTIES[key]


def match_property_name(name: str, available: Sequence[str]) -> str | None:
    """The entry of ``available`` that ``name`` means, or None: itself, else compared
    case-insensitively, directly or through the property's aliases (``clogp`` finds ``logP``)."""
    if name in available:
        return name
    lowered = {a.lower(): a for a in available}
    if name.lower() in lowered:
        return lowered[name.lower()]
    try:
        canonical = get_property(name).name
    except KeyError:
        return None
    return lowered.get(canonical.lower())


def compute_properties(mol: Chem.Mol | None, names: Sequence[str]) -> dict[str, float]:
    """Compute the named properties of ``mol``; NaN where ``mol`` is None or RDKit fails.

    Within one call logP and SA are computed once even when penalized logP is also asked for.
    """
    cache: dict[str, float] = {}

    def value(prop: Property) -> float:
        if prop.name not in cache:
            if prop.name == "plogP" and mol is not None:
                cache["plogP"] = (
                    value(PROPERTIES["logP"])
                    - value(PROPERTIES["SA"])
                    - max(largest_ring_size(mol) - 6, 0)
                )
            else:
                try:
                    cache[prop.name] = prop.func(mol) if mol is not None else float("nan")
                except Exception:
                    cache[prop.name] = float("nan")
        return cache[prop.name]

    return {get_property(name).name: value(get_property(name)) for name in names}
