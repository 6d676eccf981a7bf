"""molvae: molecular generation with a GRU variational autoencoder.

The Python API mirrors the commands (see docs/python-api.md)::

    import molvae
    vae = molvae.MolVAE.load()                    # the bundled model
    samples = vae.sample(1000, seed=0)            # as `molvae sample`
    hits = molvae.generate(vae, "logP").table     # as `molvae generate --target logP`

Names are loaded on first use (PEP 562), so ``molvae --version`` and ``--help`` do not pay for
importing torch. The first use also silences RDKit's logging, as the ``molvae`` command does
(decoded strings are often invalid on purpose, and RDKit would print a warning for each):
``MOLVAE_RDKIT_LOG=1`` or ``molvae.chem.set_rdkit_logging(True)`` turns it back on.
"""

from __future__ import annotations

import functools
from typing import Any

from molvae._version import __version__
from molvae.runtime import lazy_exports

_EXPORTS = {
    "MolVAE": "molvae.generation.model",
    "DecodeSettings": "molvae.settings",
    "SampleSettings": "molvae.settings",
    "GenerateSettings": "molvae.settings",
    "OptimizeSettings": "molvae.settings",
    "FaithfulSettings": "molvae.settings",
    "DesignSettings": "molvae.settings",
    "reconstruct": "molvae.generation.refine",
    "refine_latents": "molvae.generation.refine",
    "generate": "molvae.optimize.search",
    "optimize_seeds": "molvae.optimize.seeds",
    "design": "molvae.optimize.design",
    "DesignResult": "molvae.optimize.design",
    "ScreenConfig": "molvae.screening.config",
    "screen": "molvae.screening.pipeline",
    "screen_frame": "molvae.screening.pipeline",
    "screen_file": "molvae.screening.pipeline",
    "evaluate": "molvae.evaluation.metrics",
    "evaluate_smiles": "molvae.evaluation.metrics",
}

__all__ = ["__version__", *sorted(_EXPORTS)]
_load = lazy_exports(__name__, _EXPORTS)


@functools.cache
def _quiet_rdkit() -> None:
    """Silence RDKit once, at the first use of the Python API (the env variable can undo it)."""
    from molvae.chem import set_rdkit_logging

    set_rdkit_logging(None)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        _quiet_rdkit()
    return _load(name)
