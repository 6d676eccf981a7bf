"""``python -m molvae_cli ...`` runs the ``molvae`` command (``torchrun -m molvae_cli train``)."""

from molvae_cli.main import run

run()
