"""molvae: molecular generation with a GRU variational autoencoder."""

from molvae._version import __version__

__all__ = ["__version__"]
