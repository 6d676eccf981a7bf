"""MOSES-specific chemistry: the per-molecule features behind the MOSES metrics.

The only module of :mod:`molvae.evaluation` that imports RDKit. General chemistry
(parsing, canonical SMILES, logP/SA/QED/weight, Morgan fingerprints) still comes from
:mod:`molvae.chem`; what lives here exists only to reproduce the MOSES reference implementation
(``molsets`` 0.3.1, ``moses/metrics/utils.py``) exactly: BRICS fragments, Bemis-Murcko scaffolds
with at least two rings, and the MCF + PAINS structural filters with MOSES's extra conditions
(screened with RDKit pattern fingerprints, which gives the same answer about 4 times faster).

:func:`featurize` computes every feature of a list of SMILES in one parse per molecule, in
``n_jobs`` worker processes for large inputs (RDKit holds the GIL), and returns compact arrays
and counters rather than RDKit molecules, so nothing heavy crosses process boundaries.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from importlib import resources

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem.Scaffolds import MurckoScaffold

from molvae import chem
from molvae.runtime import map_chunks

__all__ = [
    "FINGERPRINT_BITS",
    "FINGERPRINT_RADIUS",
    "FILTER_ALLOWED_ATOMS",
    "MIN_SCAFFOLD_RINGS",
    "PROPERTY_NAMES",
    "Features",
    "brics_fragments",
    "featurize",
    "filter_patterns",
    "fingerprint_bits",
    "murcko_scaffold",
    "passes_filters",
    "property_values",
]

# MOSES: Morgan fingerprints, radius 2, folded to 1024 bits, used by SNN and IntDiv.
FINGERPRINT_RADIUS = 2
FINGERPRINT_BITS = 1024
# MOSES counts only scaffolds with at least two rings (compute_scaffolds(min_rings=2)).
MIN_SCAFFOLD_RINGS = 2
# MOSES's property distributions, under MOSES's names (logP, SA, QED, weight = MolWt).
PROPERTY_NAMES = ("logP", "SA", "QED", "weight")
_PROPERTY_FUNCS: tuple[Callable[[Chem.Mol], float], ...] = (
    chem.logp,
    chem.sa_score,
    chem.qed,
    chem.molecular_weight,
)
# MOSES mol_passes_filters: only these elements, no formal charges, no ring of 8 or more atoms.
FILTER_ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
_MAX_FILTER_RING_SIZE = 7
# Width of the RDKit pattern fingerprints that screen the filter patterns (RDKit's default).
_SCREEN_BITS = 2048
# Molecules per chunk handed to a worker: 30k molecules make 15 chunks, enough to keep two
# workers equally busy although the filters cost very different time per molecule.
_CHUNK_SIZE = 2000
# Below this many molecules a worker pool costs more than it saves (and tests stay fast).
PARALLEL_MIN_MOLECULES = 2000


# --------------------------------------------------------------------------------------------
# Per-molecule features, each exactly as in moses/metrics/utils.py
# --------------------------------------------------------------------------------------------


def fingerprint_bits(mol: Chem.Mol) -> np.ndarray:
    """MOSES's Morgan fingerprint (radius 2, 1024 bits) as a packed ``uint8`` array of 128 bytes."""
    fp = chem.morgan_fingerprints([mol], radius=FINGERPRINT_RADIUS, fp_size=FINGERPRINT_BITS)[0]
    bits = np.zeros(FINGERPRINT_BITS, dtype=np.uint8)
    DataStructs.ConvertToNumpyArray(fp, bits)
    return np.packbits(bits)


def brics_fragments(mol: Chem.Mol) -> list[str]:
    """SMILES of the fragments left after cutting every BRICS bond (MOSES ``fragmenter``).

    The dummy atoms that mark the cut bonds keep their BRICS labels (``[1*]C(=O)...``), so a
    fragment's identity includes how it was attached, as in MOSES.
    """
    return Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(mol)).split(".")


def murcko_scaffold(mol: Chem.Mol, min_rings: int = MIN_SCAFFOLD_RINGS) -> str | None:
    """Canonical SMILES of the Bemis-Murcko scaffold, ``None`` below ``min_rings`` rings.

    MOSES drops scaffolds with fewer than two rings (and acyclic molecules, whose scaffold is
    empty), so benzene derivatives do not dominate the scaffold distribution.
    """
    try:
        scaffold = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    n_rings = scaffold.GetRingInfo().NumRings()
    smiles = Chem.MolToSmiles(scaffold)
    if smiles == "" or n_rings < min_rings:
        return None
    return smiles


def _read_smarts(name: str, has_header: bool, column: int) -> list[str]:
    data_dir = resources.files("molvae.evaluation").joinpath("data")
    text = data_dir.joinpath(name).read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    if has_header:
        rows = rows[1:]
    # wehi_pains.csv pads each quoted SMARTS with spaces before the comma; RDKit ignores them,
    # strip them anyway so the patterns are clean.
    return [row[column].strip() for row in rows if row]


@lru_cache(maxsize=1)
def filter_patterns() -> tuple[Chem.Mol, ...]:
    """The MOSES MCF (22) and PAINS (480) SMARTS patterns, parsed once per process."""
    smarts = _read_smarts("mcf.csv", has_header=True, column=1)
    smarts += _read_smarts("wehi_pains.csv", has_header=False, column=0)
    patterns = tuple(Chem.MolFromSmarts(s) for s in smarts)
    if any(p is None for p in patterns):  # a corrupted package, not a user error
        raise RuntimeError("a MOSES filter SMARTS pattern failed to parse")
    return patterns


def _pattern_fingerprint(mol: Chem.Mol) -> np.ndarray:
    """RDKit pattern fingerprint, packed into ``uint64`` words for fast subset tests."""
    fp = Chem.PatternFingerprint(mol, fpSize=_SCREEN_BITS)
    bits = np.zeros(_SCREEN_BITS, dtype=np.uint8)
    DataStructs.ConvertToNumpyArray(fp, bits)
    return np.packbits(bits).view(np.uint64)


@lru_cache(maxsize=1)
def _filter_screen() -> np.ndarray:
    """Pattern fingerprints of the filter patterns, one row of ``uint64`` words per pattern."""
    return np.stack([_pattern_fingerprint(p) for p in filter_patterns()])


def _matches_any_filter(h_mol: Chem.Mol, screen: bool = True) -> bool:
    """Does the molecule (with explicit hydrogens) match any MCF or PAINS pattern?

    With ``screen``, a pattern is tried only if its pattern-fingerprint bits are all set in the
    molecule's: RDKit designs pattern fingerprints so that this holds for every true match (it
    is how ``SubstructLibrary`` screens), so the answer is the same while about 20 of the 502
    patterns are matched per molecule instead of all. This makes Filters about 4 times faster;
    the tests check the screened answer against the plain loop MOSES runs.
    """
    patterns = filter_patterns()
    if not screen:
        return any(h_mol.HasSubstructMatch(p) for p in patterns)
    mol_bits = _pattern_fingerprint(h_mol)
    candidates = np.flatnonzero(~(_filter_screen() & ~mol_bits).any(axis=1))
    return any(h_mol.HasSubstructMatch(patterns[i]) for i in candidates)


def passes_filters(mol: Chem.Mol) -> bool:
    """MOSES ``mol_passes_filters``: the molecule is "clean" for medicinal chemistry.

    It fails if it has a ring of 8 or more atoms, any formally charged atom, an element outside
    C, N, S, O, F, Cl, Br, H, or matches any MCF or PAINS pattern (matched against the molecule
    with explicit hydrogens, because some patterns spell hydrogens out), or if its non-isomeric
    SMILES does not parse back.
    """
    if any(len(ring) > _MAX_FILTER_RING_SIZE for ring in mol.GetRingInfo().AtomRings()):
        return False
    atoms = mol.GetAtoms()
    if any(atom.GetFormalCharge() != 0 for atom in atoms):
        return False
    if any(atom.GetSymbol() not in FILTER_ALLOWED_ATOMS for atom in atoms):
        return False
    if _matches_any_filter(Chem.AddHs(mol)):
        return False
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smiles) and Chem.MolFromSmiles(smiles) is not None


def property_values(mol: Chem.Mol) -> tuple[float, ...]:
    """logP, SA, QED and molecular weight (``PROPERTY_NAMES``); NaN where RDKit fails."""
    values = []
    for func in _PROPERTY_FUNCS:
        try:
            values.append(float(func(mol)))
        except Exception:  # a property failing must not lose the molecule's other metrics
            values.append(float("nan"))
    return tuple(values)


# --------------------------------------------------------------------------------------------
# Featurizing many molecules
# --------------------------------------------------------------------------------------------


@dataclass
class Features:
    """Everything the MOSES metrics need from a list of SMILES, without RDKit objects.

    ``canonical`` has one entry per input (``None`` for invalid input); the other arrays have
    one row per *valid* input, in input order, duplicates kept (MOSES scores every valid
    molecule, so a duplicated molecule counts twice in SNN, IntDiv, Frag, ...).
    ``seconds`` is the CPU time spent on each kind of feature, summed over worker processes.
    """

    canonical: list[str | None]
    fingerprints: np.ndarray  # (n_valid, FINGERPRINT_BITS // 8) packed uint8
    fragments: Counter[str]
    scaffolds: Counter[str]
    properties: np.ndarray  # (n_valid, len(PROPERTY_NAMES)) float64
    passes_filters: np.ndarray | None  # (n_valid,) bool, None when not requested
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def valid_canonical(self) -> list[str]:
        """Canonical SMILES of the valid inputs, in input order, duplicates kept."""
        return [s for s in self.canonical if s is not None]

    @property
    def n_valid(self) -> int:
        """Number of inputs RDKit could parse."""
        return len(self.fingerprints)

    @classmethod
    def concat(cls, parts: Sequence[Features]) -> Features:
        """Join the features of consecutive chunks, in order."""
        canonical: list[str | None] = []
        fragments: Counter[str] = Counter()
        scaffolds: Counter[str] = Counter()
        seconds: Counter[str] = Counter()
        for part in parts:
            canonical.extend(part.canonical)
            fragments.update(part.fragments)
            scaffolds.update(part.scaffolds)
            seconds.update(part.seconds)
        n_bytes = FINGERPRINT_BITS // 8
        fps = [p.fingerprints for p in parts]
        props = [p.properties for p in parts]
        filters = [p.passes_filters for p in parts if p.passes_filters is not None]
        return cls(
            canonical=canonical,
            fingerprints=np.concatenate(fps) if fps else np.zeros((0, n_bytes), np.uint8),
            fragments=fragments,
            scaffolds=scaffolds,
            properties=(np.concatenate(props) if props else np.zeros((0, len(PROPERTY_NAMES)))),
            passes_filters=np.concatenate(filters) if filters else None,
            seconds=dict(seconds),
        )


def _featurize_chunk(
    smiles: Sequence[str], reparse_canonical: bool, with_filters: bool
) -> list[Features]:
    """Features of one chunk, as a one-element list (the contract of ``map_chunks``)."""
    clock = time.perf_counter
    seconds: Counter[str] = Counter()
    canonical: list[str | None] = []
    fps: list[np.ndarray] = []
    fragments: Counter[str] = Counter()
    scaffolds: Counter[str] = Counter()
    props: list[tuple[float, ...]] = []
    passes: list[bool] = []
    for text in smiles:
        t0 = clock()
        mol = chem.parse_smiles(text)
        canon = chem.canonical_smiles(mol) if mol is not None else None
        if canon is not None and reparse_canonical:
            # MOSES computes the metrics on the molecules parsed back from canonical SMILES.
            mol = chem.parse_smiles(canon)
        if mol is None:
            canon = None
        canonical.append(canon)
        t1 = clock()
        seconds["parse"] += t1 - t0
        if mol is None:
            continue
        fps.append(fingerprint_bits(mol))
        t2 = clock()
        fragments.update(brics_fragments(mol))
        t3 = clock()
        scaffold = murcko_scaffold(mol)
        if scaffold is not None:
            scaffolds[scaffold] += 1
        t4 = clock()
        props.append(property_values(mol))
        t5 = clock()
        seconds["fingerprints"] += t2 - t1
        seconds["fragments"] += t3 - t2
        seconds["scaffolds"] += t4 - t3
        seconds["properties"] += t5 - t4
        if with_filters:
            passes.append(passes_filters(mol))
            seconds["filters"] += clock() - t5
    n_bytes = FINGERPRINT_BITS // 8
    return [
        Features(
            canonical=canonical,
            fingerprints=np.stack(fps) if fps else np.zeros((0, n_bytes), np.uint8),
            fragments=fragments,
            scaffolds=scaffolds,
            properties=np.array(props, dtype=np.float64).reshape(-1, len(PROPERTY_NAMES)),
            passes_filters=np.array(passes, dtype=bool) if with_filters else None,
            seconds=dict(seconds),
        )
    ]


def featurize(
    smiles: Sequence[str],
    *,
    reparse_canonical: bool,
    with_filters: bool,
    n_jobs: int | None = None,
) -> Features:
    """Parse every SMILES once and compute all MOSES features of the valid ones.

    ``reparse_canonical=True`` computes the features on the molecule parsed back from its
    canonical SMILES, as MOSES does for generated molecules; MOSES computes reference (test set)
    statistics on the molecules parsed from the given SMILES (``False``). ``with_filters`` adds
    the MCF/PAINS check, which only generated molecules need and which is the slowest feature.
    """
    func = partial(_featurize_chunk, reparse_canonical=reparse_canonical, with_filters=with_filters)
    parts = map_chunks(
        func,
        list(smiles),
        n_jobs=n_jobs,
        chunk_size=_CHUNK_SIZE,
        min_parallel=PARALLEL_MIN_MOLECULES,
    )
    return Features.concat(parts)

