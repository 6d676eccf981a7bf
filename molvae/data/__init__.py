"""Data: reading and writing molecule tables with row accounting, encoding molecules to
tensors, the user cache, training-set indexes and the public data sets.

Names are loaded on first use (PEP 562): importing one module of the package does not
import the others (the command line starts without torch).
"""

from __future__ import annotations

from molvae.runtime import lazy_exports

_EXPORTS = {
    "Batch": "molvae.data.encoding",
    "CACHE_DIR_ENV": "molvae.data.cache",
    "DATASETS": "molvae.data.public",
    "Dataset": "molvae.data.public",
    "EncodedDataset": "molvae.data.encoding",
    "LengthBucketSampler": "molvae.data.encoding",
    "MoleculeTable": "molvae.data.tables",
    "TRAINING_INDEX": "molvae.data.index",
    "TrainingSetIndex": "molvae.data.index",
    "cache_dir": "molvae.data.cache",
    "cached_entry": "molvae.data.cache",
    "collate": "molvae.data.encoding",
    "compute_property_matrix": "molvae.data.encoding",
    "data_dir": "molvae.data.public",
    "datasets_table": "molvae.data.public",
    "detect_format": "molvae.data.tables",
    "download": "molvae.data.public",
    "encode_molecules": "molvae.data.encoding",
    "find_smiles_column": "molvae.data.tables",
    "from_dataframe": "molvae.data.tables",
    "iter_molecule_chunks": "molvae.data.tables",
    "read_molecules": "molvae.data.tables",
    "reason_kinds": "molvae.data.tables",
    "save_training_set_index": "molvae.data.index",
    "split_indices": "molvae.data.encoding",
    "training_set_index": "molvae.data.index",
    "write_image": "molvae.data.tables",
    "write_rejects": "molvae.data.tables",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
