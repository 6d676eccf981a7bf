"""Chemistry: the one place molvae talks to RDKit.

Everything else asks this package to parse, standardize, canonicalize, compute properties,
compare, filter and draw molecules, so RDKit conventions (sanitization, canonical SMILES,
fingerprint settings) are decided in one place. ``from molvae import chem; chem.qed(mol)``.
"""

from molvae.chem.alerts import (
    alert_catalog_names,
    check_alert_sets,
    structural_alerts,
)
from molvae.chem.conditions import (
    Condition,
    parse_condition,
)
from molvae.chem.drawing import (
    grid_image,
    mol_to_svg,
)
from molvae.chem.fingerprints import (
    bulk_tanimoto,
    maxmin_pick,
    morgan_count_fingerprint,
    morgan_fingerprints,
    morgan_on_bits,
    similarity_to,
    tanimoto,
)
from molvae.chem.molecules import (
    RDKIT_LOG_ENV,
    canonical_smiles,
    canonicalize,
    compile_smarts,
    flattened_smiles,
    has_substructure,
    inchi_key,
    parse_smiles,
    set_rdkit_logging,
    standardize,
)
from molvae.chem.properties import (
    PROPERTIES,
    Property,
    compute_properties,
    get_property,
    h_bond_acceptors,
    h_bond_donors,
    heavy_atom_count,
    heavy_atoms,
    largest_ring_size,
    logp,
    molecular_weight,
    penalized_logp,
    property_names,
    qed,
    ring_count,
    rotatable_bonds,
    sa_score,
    tpsa,
)
from molvae.chem.sdf import (
    iter_sdf_records,
    write_sdf,
)
from molvae.chem.seed_forms import (
    SeedSite,
    apply_seed_sites,
    seed_sites,
    surrogate_smiles,
)

__all__ = [
    "PROPERTIES",
    "Condition",
    "Property",
    "RDKIT_LOG_ENV",
    "SeedSite",
    "alert_catalog_names",
    "check_alert_sets",
    "apply_seed_sites",
    "bulk_tanimoto",
    "canonical_smiles",
    "canonicalize",
    "compile_smarts",
    "compute_properties",
    "flattened_smiles",
    "get_property",
    "grid_image",
    "h_bond_acceptors",
    "h_bond_donors",
    "has_substructure",
    "heavy_atom_count",
    "heavy_atoms",
    "inchi_key",
    "iter_sdf_records",
    "largest_ring_size",
    "logp",
    "maxmin_pick",
    "mol_to_svg",
    "molecular_weight",
    "morgan_count_fingerprint",
    "morgan_fingerprints",
    "morgan_on_bits",
    "parse_condition",
    "parse_smiles",
    "penalized_logp",
    "property_names",
    "qed",
    "ring_count",
    "rotatable_bonds",
    "sa_score",
    "seed_sites",
    "set_rdkit_logging",
    "similarity_to",
    "standardize",
    "structural_alerts",
    "surrogate_smiles",
    "tanimoto",
    "tpsa",
    "write_sdf",
]
