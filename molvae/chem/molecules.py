"""Molecules: parsing, canonical SMILES, standardization, flattening, SMARTS, InChIKeys, and
RDKit's logging switch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from functools import lru_cache

from rdkit import Chem, RDLogger
from rdkit.Chem.MolStandardize import rdMolStandardize

from molvae.runtime import map_chunks

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


# Longer SMILES are not parsed: RDKit's canonical ranking grows with the square of the atom count
# (a 2,000-atom chain takes seconds, a 10,000-atom one minutes), so one megabyte-long string would
# stall a whole file; no model or filter of molvae handles molecules that size anyway.
MAX_SMILES_CHARS = 2_000
# Why a SMILES text is refused before RDKit sees it (see smiles_text_problem).
TEXT_TOO_LONG = "too long"
TEXT_NOT_ASCII = "not ASCII"
TEXT_BLANK = "blank"
_BLANK = re.compile(r"\s+")


def smiles_text_problem(smiles: str) -> str | None:
    """Why ``smiles`` (already stripped) must not be handed to RDKit, or ``None`` if it may.

    RDKit stops reading at a blank and at some non-ASCII bytes and returns the molecule read so
    far (``"C C"`` and ``"CCé"`` both give methane or ethane, not an error), so such text would be
    silently misread; a blank followed by ``|`` starts a CXSMILES extension, which RDKit reads.
    Overlong text is refused for time (``MAX_SMILES_CHARS``). Returns one of ``TEXT_TOO_LONG``,
    ``TEXT_NOT_ASCII``, ``TEXT_BLANK``.
    """
    if len(smiles) > MAX_SMILES_CHARS:
        return TEXT_TOO_LONG
    if not smiles.isascii():
        return TEXT_NOT_ASCII
    blank = _BLANK.search(smiles)
    if blank is not None and not smiles[blank.end():].startswith("|"):
        return TEXT_BLANK
    return None


def parse_smiles(smiles: str | None) -> Chem.Mol | None:
    """Parse and sanitize a SMILES string; ``None`` for empty or invalid input (never raises).

    Text RDKit would misread or take minutes over (see :func:`smiles_text_problem`) is invalid.
    """
    if not smiles or not isinstance(smiles, str):
        return None
    smiles = smiles.strip()
    if not smiles or smiles_text_problem(smiles) is not None:
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


def largest_fragment_smiles(smiles: str) -> str | None:
    """Canonical SMILES of the largest organic fragment, stereo marks and charges kept.

    The first thing to try for a salt (``CC[NH3+].[Cl-]``) whose parent the vocabulary can
    write as it is: unlike :func:`flattened_smiles`, a stereo-aware model keeps the parent's
    stereocentres and charges. ``None`` if the SMILES does not parse or RDKit cannot choose.
    """
    mol = parse_smiles(smiles)
    if mol is None:
        return None
    mol = standardize(mol, largest_fragment=True, neutralize=False)
    return canonical_smiles(mol) if mol is not None else None


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


def _canonicalize_chunk(smiles: Sequence[str]) -> list[str | None]:
    return [canonical_smiles(s) if isinstance(s, str) else None for s in smiles]


def canonicalize(smiles: Sequence[str], n_jobs: int | None = None) -> list[str | None]:
    """RDKit canonical SMILES of each input (``None`` if invalid), in worker processes if large."""
    return map_chunks(
        _canonicalize_chunk, list(smiles), n_jobs=n_jobs, chunk_size=20_000, min_parallel=2000
    )
