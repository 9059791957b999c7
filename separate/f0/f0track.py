"""The F0 track of N voices: the one value that pitch trackers (:mod:`separate.f0.track`,
:mod:`separate.f0.salience`) return and F0-informed separation (:mod:`separate.f0.split`) reads.
Its CSV form is :func:`separate.f0.track.write_f0_csv` / :func:`~separate.f0.track.read_f0_csv`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class F0Track:
    """F0 tracks of ``N`` voices.

    Attributes:
        times: ``float64 [frames]`` frame centres in seconds.
        f0: ``float64 [voices, frames]`` in Hz, 0 where a voice is unvoiced/silent.
        salience: ``float32 [360, frames]`` pitch salience (``--method salience`` only, for the
            plot; bins of :func:`separate.f0.salience.bin_frequencies`), else None.
    """

    times: np.ndarray
    f0: np.ndarray
    salience: np.ndarray | None = None

    @property
    def voices(self) -> int:
        return int(self.f0.shape[0])

    def at(self, times: np.ndarray) -> np.ndarray:
        """Resample to other frame times (nearest frame: no gliding into/out of 0 Hz).

        Returns ``[voices, len(times)]`` Hz.
        """
        if len(self.times) == 0:
            return np.zeros((self.voices, len(times)))
        idx = np.searchsorted(self.times, times).clip(1, len(self.times) - 1)
        left = self.times[idx - 1]
        right = self.times[idx]
        idx = np.where(np.abs(times - left) <= np.abs(times - right), idx - 1, idx)
        out = self.f0[:, idx].copy()
        out[:, (times < self.times[0] - 0.1) | (times > self.times[-1] + 0.1)] = 0.0
        return out
