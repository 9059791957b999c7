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
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, pwsh)
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _plain_help_labels() -> None:
    """Help as people read it elsewhere (issue 20): usage lines name arguments ``INPUT...`` and
    ``[ESTIMATES]`` (Typer 0.2x writes ``{input}...``), and on/off flags carry no ``<bool>``
    type label. Typer has no setting for either, so its two label methods are wrapped here, once,
    when the CLI is imported; a Typer without them is left alone."""
    core = typer.core
    arg, opt = getattr(core, "TyperArgument", None), getattr(core, "TyperOption", None)
    if arg is not None and hasattr(arg, "_usage_display_name"):

        def usage_name(self) -> str:  # type: ignore[no-untyped-def]
            name = self.display_name_raw.upper()
            name = name if self.required else f"[{name}]"
            return name + ("..." if self.nargs != 1 else "")

        arg._usage_display_name = usage_name
    if opt is not None and hasattr(opt, "display_type_rich"):
        typed = opt.display_type_rich

        def type_label(self, ctx):  # type: ignore[no-untyped-def]
            return None if getattr(self, "is_flag", False) else typed(self, ctx)

        opt.display_type_rich = type_label


_plain_help_labels()
