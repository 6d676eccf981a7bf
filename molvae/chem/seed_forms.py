"""A seed's own form: the charges and nitro groups a neutral-only model cannot write, found on the
seed and put back on candidates; surrogates for seeds the vocabulary cannot encode.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rdkit import Chem

from molvae.chem.molecules import (
    _flattened_mol,
    _standardizers,
    canonical_smiles,
    compile_smarts,
    parse_smiles,
)

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
