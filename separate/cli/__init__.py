"""Command-line interface: ``separate <subcommand>`` (also ``python -m separate``).

Errors raised on purpose (:class:`separate.errors.SeparateError`) become one line on stderr and
an exit code (2 for usage errors, 1 when some files failed); a traceback only with ``--debug``.
"""

from __future__ import annotations

import sys

import typer

from separate.cli import adapt as _adapt  # noqa: E402,F401
from separate.cli import evaluate as _evaluate  # noqa: E402,F401
from separate.cli import f0 as _f0  # noqa: E402,F401
from separate.cli import fewshot as _fewshot  # noqa: E402,F401
from separate.cli import marks as _marks  # noqa: E402,F401
from separate.cli import models as _models  # noqa: E402,F401

# Subcommand modules register themselves on `app` when imported.
from separate.cli import split as _split  # noqa: E402,F401
from separate.cli import state
from separate.cli import synth as _synth  # noqa: E402,F401
from separate.cli import train as _train  # noqa: E402,F401
from separate.cli.app import app
from separate.errors import SeparateError

__all__ = ["app", "main"]


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("separate")
        except PackageNotFoundError:  # a source tree that was never installed
            v = "unknown (not installed)"
        typer.echo(f"separate {v}")
        raise typer.Exit()


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    state.debug = debug


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``separate`` console script."""
    args = sys.argv[1:] if argv is None else argv
    state.debug = "--debug" in args
    try:
        app(args=args, prog_name="separate")
    except SeparateError as exc:
        if state.debug:
            raise
        state.err_console().print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        state.err_console().print("[red]interrupted[/red]")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        if state.debug:
            raise
        state.err_console().print(
            f"[red]error:[/red] unexpected {type(exc).__name__}: {exc} (run with --debug for the "
            "traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
