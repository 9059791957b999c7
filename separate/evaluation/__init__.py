"""Evaluation: BSS-Eval v4 as museval computes it (and a fast equivalent), SI-SDR, SiSEC-style
aggregation, museval JSON / CSV reports and box plots.

Main entry points:

* :func:`evaluate` — one track, in memory: ``{source: [channels, time]}`` estimates against
  references → :class:`TrackScores` (frame-wise values, activity masks, medians/means);
* :func:`aggregate` — SiSEC 2018 aggregation over tracks (median over frames, then median over
  tracks; means too);
* :func:`separate.evaluation.tracks.evaluate_tracks` — folders / MUSDB / file pairs (the CLI);
* :mod:`separate.evaluation.fast_bsseval` — drop-in ``bss_eval`` with museval's signature.

See ``separate/evaluation/README.md`` for which published golden numbers this reproduces.
"""

from separate.evaluation.core import evaluate
from separate.evaluation.metrics import ALL_METRICS, BSS_METRICS, bss_eval, si_sdr
from separate.evaluation.scores import TrackScores, aggregate

__all__ = [
    "ALL_METRICS",
    "BSS_METRICS",
    "TrackScores",
    "aggregate",
    "bss_eval",
    "evaluate",
    "si_sdr",
]
