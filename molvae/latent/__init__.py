"""The latent space: 2-D maps (:mod:`.maps`), interpolation and neighbourhoods (:mod:`.paths`),
and ELBO scores, an out-of-distribution measure (:mod:`.scores`).

Names are loaded on first use (PEP 562): importing one module of the package does not
import the others (the command line starts without torch).
"""

from __future__ import annotations

from molvae.runtime import lazy_exports

_EXPORTS = {
    "INTERPOLATIONS": "molvae.latent.paths",
    "LatentMap": "molvae.latent.maps",
    "NeighborResult": "molvae.latent.paths",
    "PROJECTIONS": "molvae.latent.maps",
    "check_projection": "molvae.latent.maps",
    "color_values": "molvae.latent.maps",
    "elbo": "molvae.latent.scores",
    "interpolate": "molvae.latent.paths",
    "latent_map": "molvae.latent.maps",
    "lerp": "molvae.latent.paths",
    "neighbors": "molvae.latent.paths",
    "project": "molvae.latent.maps",
    "slerp": "molvae.latent.paths",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
