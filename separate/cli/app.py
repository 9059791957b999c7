"""The Typer application every subcommand module registers on.

Each subcommand lives in its own module of ``separate.cli`` and decorates its function with
``@app.command()`` (or adds a sub-app with ``app.add_typer``); ``separate.cli.__init__`` imports
them all. No maths here: parse, call ``separate.api``, render with rich.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="separate",
    help=(
        "Music source separation: split songs into stems, adapt a model to one song from marks of "
        "when each instrument plays, extract an instrument from a few examples, separate voices "
        "from their F0, evaluate with BSS-Eval, train."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
