"""molvae: molecular generation with a GRU variational autoencoder.

``from molvae import MolVAE`` gives the high-level model API. It is imported lazily so that
``molvae --version`` and ``--help`` do not pay for importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from molvae._version import __version__

if TYPE_CHECKING:
    from molvae.api import MolVAE

__all__ = ["MolVAE", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "MolVAE":
        from molvae.api import MolVAE

        return MolVAE
    raise AttributeError(f"module 'molvae' has no attribute {name!r}")
