"""``--config FILE.toml`` for every command: a file of option values, checked strictly.

The keys of a command's config file are its option names with underscores (``--max-rounds`` is
``max_rounds``, ``-n`` is ``n``); a value given on the command line wins over the file, and the
file wins over the default. An unknown key, or a value of the wrong type, is a usage error that
names the valid keys. ``train`` and ``screen`` have a config schema of their own (a ``[model]``
table, screening sections).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from molvae.errors import MolvaeError
from molvae.settings import read_toml


def _options(ctx: typer.Context) -> dict[str, Any]:
    """The command's options that a file may set, by parameter name."""
    return {
        p.name: p
        for p in ctx.command.params
        if p.param_type_name == "option" and p.name not in ("help", "config")
    }


def _load_config(ctx: typer.Context, param: typer.CallbackParam, value: Path | None):
    """Eager callback: read the file and make its values the defaults of the other options."""
    if value is None or ctx.resilient_parsing:
        return value
    try:
        data = read_toml(value)
    except MolvaeError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None
    options = _options(ctx)
    unknown = sorted(set(data) - set(options))
    if unknown:
        raise typer.BadParameter(
            f"{value}: unknown key(s) {', '.join(unknown)}; valid keys: "
            f"{', '.join(sorted(options))}",
            param_hint="--config",
        )
    values: dict[str, Any] = {}
    for name, raw in data.items():
        multiple = getattr(options[name], "multiple", False)
        values[name] = raw if not multiple or isinstance(raw, list) else [raw]
    ctx.default_map = {**(ctx.default_map or {}), **values}
    return value


CONFIG_HELP = (
    "TOML file of option values (keys: the option names with underscores, e.g. max_rounds); "
    "flags given on the command line win. See configs/."
)


def config_option() -> Any:
    """The ``--config`` option every command declares: read before the options it sets."""
    return typer.Option(
        None, "--config", is_eager=True, callback=_load_config, dir_okay=False, help=CONFIG_HELP
    )
