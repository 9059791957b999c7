"""The one progress-event type that library functions report through.

Every long-running call (``Separator.separate_file``, :func:`separate.batch.separate_many`,
``adapt``, ``train``...) takes ``on_progress: ProgressCallback | None`` and calls it with
:class:`ProgressEvent` values; the CLI renders them with one helper
(:class:`separate.cli.progress.ProgressBars`). Library code never draws bars itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    """How far one stage of a job is.

    Attributes:
        stage: what is counted, e.g. ``"chunks"`` (model calls over one file), ``"tracks"``
            (files of a batch), ``"steps"`` (optimiser steps of adapt or train).
        done: units done so far (absolute, not an increment).
        total: units in all, or ``None`` while unknown.
        unit: the unit's name for display (``"chunks"``, ``"files"``, ``"steps"``).
        message: a short status for display, e.g. ``"loss 0.01234"`` or ``"epoch 3"``.
        key: which item the stage belongs to when several run at once (e.g. the input file of a
            ``chunks`` stage); ``None`` for the job as a whole.
        value: the current value of the quantity being optimised (e.g. the loss), if any.
    """

    stage: str
    done: int
    total: int | None = None
    unit: str = ""
    message: str = ""
    key: str | None = None
    value: float | None = None

    @property
    def finished(self) -> bool:
        """``done`` has reached a known ``total``."""
        return self.total is not None and self.done >= self.total


#: The callback type every ``on_progress`` parameter has.
ProgressCallback = Callable[[ProgressEvent], None]
