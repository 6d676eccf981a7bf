"""Chemistry: the one module that talks to RDKit.

Everything else in molvae asks this module to parse, standardize, canonicalize, compute
properties and compare molecules, so RDKit conventions (sanitization, canonical SMILES,
fingerprint settings) are decided in exactly one place.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import BinaryIO

import numpy as np
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdFingerprintGenerator, rdMolDescriptors
from rdkit.Chem.MolStandardize import rdMolStandardize

__all__ = [
    "PROPERTIES",
    "alert_catalog_names",
    "structural_alerts",
    "surrogate_smiles",
    "SeedSite",
    "apply_seed_sites",
    "seed_sites",
    "Property",
    "canonical_smiles",
    "compute_properties",
    "get_property",
    "heavy_atoms",
    "iter_sdf_records",
    "largest_ring_size",
    "logp",
    "morgan_count_fingerprint",
    "morgan_fingerprints",
    "parse_smiles",
    "penalized_logp",
    "property_names",
    "qed",
    "sa_score",
    "set_rdkit_logging",
    "standardize",
    "tanimoto",
    "bulk_tanimoto",
    "compile_smarts",
    "grid_image",
    "has_substructure",
    "inchi_key",
    "maxmin_pick",
    "mol_to_svg",
    "morgan_on_bits",
    "similarity_to",
    "write_sdf",
]

RDKIT_LOG_ENV = "MOLVAE_RDKIT_LOG"


def set_rdkit_logging(enabled: bool | None = None) -> bool:
    """Silence (default) or enable RDKit's C++ logging; returns the state applied.

    Decoded molecules are often invalid on purpose (that is what validity measures), and RDKit
    would print one warning per failed parse. The CLI calls this once at start-up; with
    ``enabled=None`` the environment variable ``MOLVAE_RDKIT_LOG=1`` turns logging back on.
    """
    if enabled is None:
        enabled = os.environ.get(RDKIT_LOG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
    if enabled:
        RDLogger.EnableLog("rdApp.*")
    else:
        RDLogger.DisableLog("rdApp.*")
    return enabled


def parse_smiles(smiles: str | None) -> Chem.Mol | None:
    """Parse and sanitize a SMILES string; ``None`` for empty or invalid input (never raises)."""
    if not smiles or not isinstance(smiles, str):
        return None
    smiles = smiles.strip()
    if not smiles:
        return None
    try:
        mol = Chem.MolFromSmiles(smiles)
    except Exception:  # RDKit raises on a few pathological inputs instead of returning None
        return None
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return mol


def canonical_smiles(smiles_or_mol: str | Chem.Mol | None, isomeric: bool = True) -> str | None:
    """RDKit canonical SMILES of a SMILES string or molecule, ``None`` if it does not parse."""
    mol = parse_smiles(smiles_or_mol) if isinstance(smiles_or_mol, str) else smiles_or_mol
    if mol is None:
        return None
    try:
        return Chem.MolToSmiles(mol, isomericSmiles=isomeric)
    except Exception:
        return None


@lru_cache(maxsize=1)
def _standardizers() -> tuple[rdMolStandardize.LargestFragmentChooser, rdMolStandardize.Uncharger]:
    return rdMolStandardize.LargestFragmentChooser(preferOrganic=True), rdMolStandardize.Uncharger()


def standardize(
    mol: Chem.Mol, largest_fragment: bool = True, neutralize: bool = True
) -> Chem.Mol | None:
    """Keep the largest organic fragment (salts, solvents) and neutralize charges where possible.

    Returns ``None`` if RDKit cannot standardize the molecule (reported by callers as a reason).
    """
    chooser, uncharger = _standardizers()
    try:
        if largest_fragment:
            mol = chooser.choose(mol)
        if neutralize:
            mol = uncharger.uncharge(mol)
        Chem.SanitizeMol(mol)
    except Exception:
        return None
    return mol


def flattened_smiles(smiles: str) -> str | None:
    """Canonical SMILES without stereochemistry, salts or charges (where neutralizable).

    A model trained on MOSES has no tokens for stereocentres or charged atoms; this is the
    closest form of a molecule it can encode (e.g. a ZINC seed ``C[NH3+]`` becomes ``CN``).
    ``None`` if the SMILES does not parse or cannot be standardized.
    """
    mol = _flattened_mol(smiles)
    return canonical_smiles(mol) if mol is not None else None


def _flattened_mol(smiles: str) -> Chem.Mol | None:
    """The molecule of :func:`flattened_smiles` (parsed, stereo removed, standardized)."""
    mol = parse_smiles(smiles)
    if mol is None:
        return None
    Chem.RemoveStereochemistry(mol)
    return standardize(mol)


_NITRO = "[N+](=O)[O-]"
_SURROGATE_DROPS = (
    # (SMARTS, indices of the match to delete): nitro and azide groups as a whole, the oxygen
    # of an N-oxide; neutral forms of these need charges no neutral valence can express.
    (_NITRO, (0, 1, 2)),
    ("[NX2]=[N+]=[N-]", (1, 2)),
    ("[#7+]-[O-]", (1,)),
)


@lru_cache(maxsize=1)
def _surrogate_patterns() -> tuple[tuple[Chem.Mol, tuple[int, ...]], ...]:
    return tuple((Chem.MolFromSmarts(sm), idx) for sm, idx in _SURROGATE_DROPS)


def _sanitized(rw: Chem.RWMol) -> Chem.Mol | None:
    """The edited molecule, sanitized; ``None`` if the edit left it chemically impossible."""
    try:
        out = rw.GetMol()
        Chem.SanitizeMol(out)
    except Exception:
        return None
    return out


def _set_charge(atom: Chem.Atom, charge: int) -> None:
    """(De)protonate ``atom`` to formal charge ``charge``: one hydrogen per unit of change."""
    hs = atom.GetTotalNumHs() + charge - atom.GetFormalCharge()
    atom.SetFormalCharge(charge)
    atom.SetNumExplicitHs(hs)
    atom.SetNoImplicit(True)


def _delete_atoms(rw: Chem.RWMol, atoms: Iterable[int]) -> None:
    for i in sorted(set(atoms), reverse=True):
        rw.RemoveAtom(i)


def surrogate_smiles(smiles: str, element_swaps: dict[str, str] | None = None) -> str | None:
    """The nearest neutral, stereo-free molecule a vocabulary without charged atoms can write.

    :func:`flattened_smiles` neutralizes what can be neutralized; this goes further, for seeds
    a model could otherwise not encode at all. Nitro and azide groups are removed, N-oxides
    lose their oxygen, other charged atoms are set neutral (an iminium's double bond becomes
    single; an atom that still has no neutral valence, e.g. a quaternary N, is removed with
    the smaller fragments it leaves), and ``element_swaps`` replaces elements (``{"I": "Br"}``).
    It is a starting point for a latent search around the seed, not the seed: callers keep
    measuring similarity against the molecule as given. ``None`` if nothing sensible is left.
    """
    std = _flattened_mol(smiles)
    if std is None:
        return None
    drop: set[int] = set()
    for pattern, idx in _surrogate_patterns():
        for match in std.GetSubstructMatches(pattern):
            drop.update(match[i] for i in idx)
    rw = Chem.RWMol(std)
    Chem.Kekulize(rw, clearAromaticFlags=True)
    table = Chem.GetPeriodicTable()
    for atom in rw.GetAtoms():
        if element_swaps and atom.GetSymbol() in element_swaps:
            atom.SetAtomicNum(table.GetAtomicNumber(element_swaps[atom.GetSymbol()]))
        if atom.GetFormalCharge() == 0 or atom.GetIdx() in drop:
            continue
        atom.SetFormalCharge(0)
        if atom.GetSymbol() == "N":
            kept = [b for b in atom.GetBonds() if b.GetOtherAtomIdx(atom.GetIdx()) not in drop]
            valence = sum(int(b.GetBondTypeAsDouble()) for b in kept) + atom.GetNumExplicitHs()
            for bond in kept:  # iminium: the double bond becomes single
                if valence > 3 and bond.GetBondType() == Chem.BondType.DOUBLE:
                    bond.SetBondType(Chem.BondType.SINGLE)
                    valence -= 1
            if valence > 3:  # quaternary: lose a terminal substituent (a methyl), else the N
                ends = [b.GetOtherAtom(atom) for b in kept if b.GetOtherAtom(atom).GetDegree() == 1]
                drop.add(ends[0].GetIdx() if ends else atom.GetIdx())
        atom.SetNumExplicitHs(0)
        atom.SetNoImplicit(False)
    # Atoms bonded to deleted ones recompute their hydrogens.
    for i in drop:
        for nb in rw.GetAtomWithIdx(i).GetNeighbors():
            if nb.GetIdx() not in drop and nb.GetSymbol() not in {"N", "P"}:
                nb.SetNoImplicit(False)
    _delete_atoms(rw, drop)
    out = _sanitized(rw)
    if out is None or out.GetNumAtoms() == 0:
        return None
    chooser, _ = _standardizers()
    out = chooser.choose(out)
    return canonical_smiles(out)


@dataclass(frozen=True)
class SeedSite:
    """A feature of a seed that a neutral vocabulary cannot write, as a query for candidates.

    ``smarts`` describes the site's atom (atom 0) in the seed's neutral, nitro-free form
    (element, aromaticity, connections, hydrogens) with its bonded neighbours (element,
    aromaticity, connections). ``change`` is what the seed has there: ``"+1"`` one proton more
    (a protonated amine), ``"-1"`` one proton fewer (a carboxylate), ``"nitro"`` a nitro group
    in place of a hydrogen.
    """

    smarts: str
    change: str


def _bond_smarts(bond: Chem.Bond) -> str:
    if bond.GetIsAromatic():
        return ":"
    return {Chem.BondType.SINGLE: "-", Chem.BondType.DOUBLE: "=",
            Chem.BondType.TRIPLE: "#"}.get(bond.GetBondType(), "~")


def _atom_smarts(atom: Chem.Atom, hydrogens: int | None = None) -> str:
    arom = "a" if atom.GetIsAromatic() else "A"
    spec = f"#{atom.GetAtomicNum()};{arom};X{atom.GetTotalDegree()}"
    if hydrogens is not None:
        spec += f";H{hydrogens};+0"
    return f"[{spec}]"


def _site_smarts(atom: Chem.Atom, hydrogens: int, skip: set[int] = frozenset()) -> str:
    branches = "".join(
        f"({_bond_smarts(b)}{_atom_smarts(b.GetOtherAtom(atom))})"
        for b in atom.GetBonds()
        if b.GetOtherAtomIdx(atom.GetIdx()) not in skip
    )
    return _atom_smarts(atom, hydrogens) + branches


def seed_sites(smiles: str) -> tuple[SeedSite, ...]:
    """Where a seed has protonation states or nitro groups that a MOSES vocabulary lacks.

    A model without charged atoms in its vocabulary decodes neutral, nitro-free molecules. A
    seed given as its protonated amine or carboxylate (ZINC's pH-7 forms), or with a nitro
    group, then looks less similar to every candidate than the candidate would in the seed's
    own form; :func:`apply_seed_sites` puts that form on a candidate. Only (de)protonations
    count as charge sites: a cation with a hydrogen to give up, an anion that can take one
    and is not bonded to a cation (nitro and N-oxide oxygens are not sites). Empty when the
    molecule has no such site.
    """
    mol = parse_smiles(smiles)
    if mol is None:
        return ()
    sites: list[SeedSite] = []
    for match in mol.GetSubstructMatches(_site_query("[*]-" + _NITRO)):
        atom = mol.GetAtomWithIdx(match[0])
        sites.append(SeedSite(_site_smarts(atom, atom.GetTotalNumHs() + 1, {match[1]}), "nitro"))
    rw = Chem.RWMol(mol)
    changed: list[tuple[int, str]] = []
    for atom in rw.GetAtoms():
        charge = atom.GetFormalCharge()
        if (charge == 1 and atom.GetTotalNumHs() > 0) or (
            charge == -1 and not any(n.GetFormalCharge() > 0 for n in atom.GetNeighbors())
        ):
            _set_charge(atom, 0)
            changed.append((atom.GetIdx(), f"{charge:+d}"))
    neutral = _sanitized(rw) if changed else None
    if neutral is not None:
        for idx, change in changed:
            atom = neutral.GetAtomWithIdx(idx)
            sites.append(SeedSite(_site_smarts(atom, atom.GetTotalNumHs()), change))
    return tuple(dict.fromkeys(sites))


@lru_cache(maxsize=4096)
def _site_query(smarts: str) -> Chem.Mol:
    return compile_smarts(smarts)


def apply_seed_sites(smiles: str, sites: Sequence[SeedSite], max_nitro: int = 8) -> list[str]:
    """``smiles`` in the form of the seed whose :func:`seed_sites` are given.

    Every atom that matches a charge site is (de)protonated like the seed; a nitro site, whose
    position on a candidate is ambiguous, gives one variant per matching atom (at most
    ``max_nitro``), each on the (de)protonated form. Returns the distinct canonical SMILES of
    the variants that sanitize (empty when no site matches); each is a molecule in its own
    right, scored like any other.
    """
    mol = parse_smiles(smiles)
    if mol is None or not sites:
        return []
    charges: dict[int, int] = {}
    nitro_atoms: list[int] = []
    for site in sites:
        for match in mol.GetSubstructMatches(_site_query(site.smarts)):
            if site.change == "nitro":
                nitro_atoms.append(match[0])
            else:
                charges.setdefault(match[0], int(site.change))
    rw = Chem.RWMol(mol)
    for idx, charge in charges.items():
        _set_charge(rw.GetAtomWithIdx(idx), charge)
    out = [_sanitized(rw)] if charges else []
    for idx in list(dict.fromkeys(nitro_atoms))[:max_nitro]:
        grafted = Chem.RWMol(rw)
        atom = grafted.GetAtomWithIdx(idx)
        if atom.GetNoImplicit():
            atom.SetNumExplicitHs(max(atom.GetNumExplicitHs() - 1, 0))
        n = grafted.AddAtom(Chem.Atom(7))
        o1 = grafted.AddAtom(Chem.Atom(8))
        o2 = grafted.AddAtom(Chem.Atom(8))
        grafted.GetAtomWithIdx(n).SetFormalCharge(1)
        grafted.GetAtomWithIdx(o2).SetFormalCharge(-1)
        grafted.AddBond(idx, n, Chem.BondType.SINGLE)
        grafted.AddBond(n, o1, Chem.BondType.DOUBLE)
        grafted.AddBond(n, o2, Chem.BondType.SINGLE)
        out.append(_sanitized(grafted))
    variants = (canonical_smiles(m) for m in out if m is not None)
    return [v for v in dict.fromkeys(variants) if v is not None]


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


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Similarity
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _morgan_generator(radius: int, fp_size: int):
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=fp_size)


def morgan_count_fingerprint(mol: Chem.Mol, radius: int = 2):
    """Unfolded Morgan count fingerprint (the constrained-optimization benchmark's similarity)."""
    return _morgan_generator(radius, 2048).GetSparseCountFingerprint(mol)


def morgan_fingerprints(mols: Iterable[Chem.Mol], radius: int = 2, fp_size: int = 2048) -> list:
    """Folded Morgan bit-vector fingerprints, for bulk similarity searches."""
    gen = _morgan_generator(radius, fp_size)
    return [gen.GetFingerprint(m) for m in mols]


def tanimoto(fp_a, fp_b) -> float:
    """Tanimoto similarity of two RDKit fingerprints (bit or count)."""
    return float(DataStructs.TanimotoSimilarity(fp_a, fp_b))


def bulk_tanimoto(fp, fps: Sequence) -> np.ndarray:
    """Tanimoto similarity of one fingerprint against many, as a float array."""
    return np.asarray(DataStructs.BulkTanimotoSimilarity(fp, list(fps)), dtype=np.float64)


def similarity_to(query: str, smiles: Sequence[str | None]) -> np.ndarray:
    """Tanimoto similarity (Morgan radius-2 counts) of each SMILES to ``query``; NaN if unparsable.

    The same fingerprint as ``--min-similarity`` in generation (the constrained-optimization
    benchmark's), so similarities printed by different commands can be compared.
    """
    out = np.full(len(smiles), np.nan)
    query_mol = parse_smiles(query)
    if query_mol is None:
        return out
    query_fp = morgan_count_fingerprint(query_mol)
    for i, s in enumerate(smiles):
        mol = parse_smiles(s) if isinstance(s, str) else None
        if mol is not None:
            out[i] = tanimoto(query_fp, morgan_count_fingerprint(mol))
    return out


# --------------------------------------------------------------------------------------------
# Structural alerts (RDKit FilterCatalog)
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Identifiers, substructures, diversity and output (screening)
# --------------------------------------------------------------------------------------------


def inchi_key(mol: Chem.Mol) -> str | None:
    """Standard InChIKey of ``mol``; ``None`` if RDKit's InChI cannot describe it.

    Two spellings of one compound (tautomers with mobile H included) share a key, which is why
    screening deduplicates by InChIKey rather than by canonical SMILES.
    """
    try:
        key = Chem.MolToInchiKey(mol)
    except Exception:
        return None
    return key or None


def compile_smarts(pattern: str) -> Chem.Mol:
    """Parse a SMARTS pattern once for repeated matching; ``ValueError`` if it is invalid."""
    query = Chem.MolFromSmarts(pattern) if isinstance(pattern, str) and pattern.strip() else None
    if query is None:
        raise ValueError(f"invalid SMARTS {pattern!r}")
    return query


def has_substructure(mol: Chem.Mol, query: Chem.Mol) -> bool:
    """Does ``mol`` contain the compiled SMARTS ``query`` (see :func:`compile_smarts`)?"""
    return bool(mol.HasSubstructMatch(query))


def morgan_on_bits(mol: Chem.Mol, radius: int = 2, fp_size: int = 2048) -> np.ndarray:
    """Indices of the set bits of a folded Morgan fingerprint, ``uint16`` (``fp_size <= 65536``).

    Morgan fingerprints are sparse (about 40 of 2048 bits set for drug-like molecules), so lists
    of set bits store a large reference set compactly and feed sparse-matrix Tanimoto searches.
    The bits are those of :func:`morgan_fingerprints`.
    """
    fp = _morgan_generator(radius, fp_size).GetFingerprint(mol)
    return np.fromiter(fp.GetOnBits(), dtype=np.uint16)


def maxmin_pick(
    fingerprints: Sequence, n: int, first_picks: Sequence[int] = (), seed: int = 42
) -> list[int]:
    """Indices of ``n`` mutually dissimilar fingerprints (RDKit ``MaxMinPicker``, Tanimoto).

    Each pick is the fingerprint farthest from everything picked so far; ``first_picks`` seeds the
    selection (e.g. the best-scored molecule). Returns all indices when ``n >= len(fingerprints)``.
    """
    from rdkit.SimDivFilters import rdSimDivPickers

    size = len(fingerprints)
    if n >= size:
        return list(range(size))
    if n <= 0:
        return []
    picker = rdSimDivPickers.MaxMinPicker()
    picks = picker.LazyBitVectorPick(
        list(fingerprints), size, n, firstPicks=list(first_picks), seed=seed
    )
    return [int(i) for i in picks]


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


# Presentation attributes equal to SVG's defaults, and RDKit's per-element class names (only
# useful for scripting the drawing): removing them halves the size of a structure drawing.
_SVG_REDUNDANT = re.compile(
    r" class='[^']*'|;fill-rule:evenodd|;stroke-linecap:butt|;stroke-linejoin:miter"
    r"|;stroke-opacity:1(?=[;'])"
)


def mol_to_svg(smiles: str, size: tuple[int, int] = (220, 170)) -> str | None:
    """A compact SVG drawing of one molecule (no XML header), ``None`` if the SMILES is invalid.

    Meant for embedding many structures in one HTML page (latent maps), where size matters: the
    XML prolog, comments, class names and default-valued style properties are dropped.
    """
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = parse_smiles(smiles)
    if mol is None:
        return None
    drawer = rdMolDraw2D.MolDraw2DSVG(int(size[0]), int(size[1]))
    try:
        rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
    except Exception:  # RDKit cannot lay out a few exotic molecules
        return None
    drawer.FinishDrawing()
    text = drawer.GetDrawingText()
    text = re.sub(r"<\?xml[^>]*\?>|<!--.*?-->", "", text, flags=re.S)
    text = _SVG_REDUNDANT.sub("", text)
    return " ".join(text.split())


def grid_image(
    smiles: Sequence[str],
    legends: Sequence[str] | None = None,
    mols_per_row: int = 4,
    size: tuple[int, int] = (300, 250),
    svg: bool = False,
) -> bytes | str:
    """A grid drawing of molecules with legends: PNG bytes, or SVG text when ``svg`` is true.

    Uses RDKit ``Draw.MolsToGridImage`` (PNG needs Pillow). Unparsable SMILES are drawn empty
    so legends stay aligned with their molecules.
    """
    import io as _io

    from rdkit.Chem import Draw

    mols = [parse_smiles(s) or Chem.Mol() for s in smiles]
    legend_list = list(legends) if legends is not None else [""] * len(mols)
    image = Draw.MolsToGridImage(
        mols,
        molsPerRow=max(1, mols_per_row),
        subImgSize=size,
        legends=legend_list,
        useSVG=svg,
    )
    if svg:
        return str(image)
    if isinstance(image, bytes | bytearray):  # some RDKit builds return PNG data directly
        return bytes(image)
    buffer = _io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
