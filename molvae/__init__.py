"""molvae: molecular generation with a GRU variational autoencoder.

The Python API mirrors the commands (see docs/python-api.md)::

    import molvae
    vae = molvae.MolVAE.load()                    # the bundled model
    samples = vae.sample(1000, seed=0)            # as `molvae sample`
    hits = molvae.generate(vae, "logP").table     # as `molvae generate --target logP`

Names are loaded on first use (PEP 562), so ``molvae --version`` and ``--help`` do not pay for
importing torch.
"""

from __future__ import annotations

from molvae._version import __version__
from molvae.runtime import lazy_exports

_EXPORTS = {
    "MolVAE": "molvae.generation.model",
    "DecodeSettings": "molvae.settings",
    "SampleSettings": "molvae.settings",
    "GenerateSettings": "molvae.settings",
    "OptimizeSettings": "molvae.settings",
    "reconstruct": "molvae.generation.refine",
    "refine_latents": "molvae.generation.refine",
    "generate": "molvae.optimize.search",
    "optimize_seeds": "molvae.optimize.seeds",
    "ScreenConfig": "molvae.screening.config",
    "screen_frame": "molvae.screening.pipeline",
    "screen_file": "molvae.screening.pipeline",
    "evaluate_smiles": "molvae.evaluation.metrics",
}

__all__ = ["__version__", *sorted(_EXPORTS)]
__getattr__ = lazy_exports(__name__, _EXPORTS)
