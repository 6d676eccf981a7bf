"""The ``molvae`` command-line interface (installed as the import package ``molvae_cli``)."""
