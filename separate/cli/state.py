"""Process-wide CLI state (the ``--debug`` flag) and the shared rich consoles."""

from __future__ import annotations

from functools import lru_cache

from rich.console import Console

debug = False


@lru_cache(maxsize=1)
def err_console() -> Console:
    """Console on stderr for progress bars, warnings and errors (stdout stays for --json)."""
    return Console(stderr=True)


@lru_cache(maxsize=1)
def out_console() -> Console:
    """Console on stdout for tables and JSON."""
    return Console()
