"""Generation: ``MolVAE`` (load, encode, decode, sample) and the decoding settings behind it.

Names are loaded on first use (PEP 562): importing one module of the package does not
import the others (the command line starts without torch).
"""

from __future__ import annotations

from molvae.runtime import lazy_exports

_EXPORTS = {
    "ConditionRangeWarning": "molvae.generation.model",
    "FewerSamplesWarning": "molvae.generation.model",
    "encode_mean": "molvae.generation.refine",
    "faithful_latents": "molvae.generation.refine",
    "FaithfulLatents": "molvae.generation.refine",
    "FaithfulSettings": "molvae.settings",
    "reconstruct": "molvae.generation.refine",
    "refine_latents": "molvae.generation.refine",
    "encode_file": "molvae.generation.files",
    "EncodedFile": "molvae.generation.files",
    "BEAM_PICKS": "molvae.settings",
    "DecodeSettings": "molvae.settings",
    "EncodedInput": "molvae.generation.model",
    "MolVAE": "molvae.generation.model",
    "SampleSettings": "molvae.settings",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
