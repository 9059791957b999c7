"""The one CLI progress helper: renders :class:`separate.progress.ProgressEvent` values as rich
bars on stderr (hidden when stderr is not a terminal)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from separate.cli.state import err_console
from separate.progress import ProgressEvent


class ProgressBars:
    """A context manager and :data:`separate.progress.ProgressCallback`: one bar per
    ``(stage, key)``; a keyed bar (e.g. one file's chunks) is removed when it finishes.

    Args:
        title: label of the job-wide bars (``key=None``); default the event's stage.
        console: where to draw (default: the shared stderr console).
        transient: erase the bars when done.
    """

    def __init__(self, title: str | None = None, console: Console | None = None,
                 transient: bool = True):
        self.console = console or err_console()
        self.title = title
        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TextColumn("{task.fields[message]}"),
                                  TimeRemainingColumn(), console=self.console,
                                  transient=transient, disable=not self.console.is_terminal)
        self._tasks: dict[tuple[str, str | None], TaskID] = {}

    def __enter__(self) -> ProgressBars:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, event: ProgressEvent) -> None:
        ident = (event.stage, event.key)
        task = self._tasks.get(ident)
        if task is None:
            if event.key is not None:
                label = Path(event.key).name[:40]
            else:
                label = self.title or event.stage
            task = self._progress.add_task(label, total=event.total, message=event.message)
            self._tasks[ident] = task
        self._progress.update(task, completed=event.done, total=event.total,
                              message=event.message)
        if event.key is not None and event.finished:
            self._progress.remove_task(task)
            del self._tasks[ident]
