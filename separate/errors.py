"""Errors that the CLI turns into one-line messages and exit codes.

``UsageError`` (exit code 2) is a problem with the command line as a whole: a missing input, an
unknown option value, an unwritable output folder. ``InputError`` (exit code 1 for the batch)
is a problem with one file; the other files of a batch are still processed.
"""

from __future__ import annotations


class SeparateError(Exception):
    """Base class of every error raised on purpose by `separate`."""

    exit_code = 1


class UsageError(SeparateError):
    """The command as a whole cannot run (exit code 2)."""

    exit_code = 2


class InputError(SeparateError):
    """One input file is unusable: missing, empty, truncated, not audio, NaN samples, ...

    Args:
        path: the offending file (named in the message).
        problem: what is wrong with it, one line.
    """

    def __init__(self, path: object, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ModelError(SeparateError):
    """A model cannot be found, verified or built (exit code 2: nothing can run without it)."""

    exit_code = 2
