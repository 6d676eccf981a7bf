"""Entry point of the ``molvae`` console script.

Commands are thin: they parse options, call one library function and print or write its result.
Exit codes: 0 success, 2 usage error (Typer/Click), 1 runtime error with one line on stderr.
"""

from __future__ import annotations

import sys

import typer

from molvae._version import __version__
from molvae.errors import MolvaeError

from ._common import err_console, report_replaced_outputs

app = typer.Typer(
    name="molvae",
    help="Molecular generation with a GRU variational autoencoder.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_STATE = {"debug": False}


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"molvae {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    rdkit_log: bool = typer.Option(
        False, "--rdkit-log", help="Show RDKit warnings (also MOLVAE_RDKIT_LOG=1)."
    ),
) -> None:
    """Molecular generation with a GRU variational autoencoder."""
    from molvae.chem.molecules import set_rdkit_logging

    _STATE["debug"] = debug
    set_rdkit_logging(True if rdkit_log else None)


def _register_commands() -> None:
    """Attach every command to ``app`` once (``invoke`` may run many times in one process)."""
    if app.registered_commands:
        return
    from . import commands

    commands.register_all(app)


def invoke(args: list[str]) -> int:
    """Run the CLI on ``args`` and return the exit code; expected errors become one line.

    Usage errors are reported by Typer/Click itself (exit 2); a ``MolvaeError`` or any other
    exception escaping a command is printed as one line on stderr (exit 1) unless ``--debug``.
    """
    _register_commands()
    try:
        app(args=args, prog_name="molvae")
    except SystemExit as exc:  # Click's standalone mode always ends this way
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except MolvaeError as exc:
        if _STATE["debug"]:
            raise
        _print_error(str(exc))
        return 1
    except Exception as exc:  # unexpected: still one line unless --debug
        if _STATE["debug"]:
            raise
        _print_error(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1
    finally:
        report_replaced_outputs()  # "replaced X (it existed)" for outputs not named yet
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(invoke(sys.argv[1:]))


def _print_error(message: str) -> None:
    from rich.markup import escape

    first_line = " ".join(message.split())  # one line, whatever the exception text held
    err_console.print(
        f"[bold red]error:[/] {escape(first_line)}", highlight=False, soft_wrap=True, markup=True
    )
