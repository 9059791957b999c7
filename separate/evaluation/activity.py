"""Which evaluation windows count: where each reference source is active.

Two ways, both giving ``active[source, window]`` booleans on the evaluation grid:

* **energy** (``--skip-silent``; Schulze-Forster et al. 2023, Sec. V-A): a window is silent when
  the sum of squares of the reference's samples in it (all channels) is below a threshold
  (10 in the paper, for 1 s windows);
* **activations** (``--activations FILE``; Cantisani et al. 2021, Sec. 5: "the evaluation is done
  only where the sources are non-silent"): the user's marks ``h[source, frame]``, read by
  :func:`separate.activations.formats.load_activations` (intervals CSV, Audacity labels, or a
  MedleyDB frame-wise CSV), are pooled per window: a window is active when the source is marked
  active on at least ``min_fraction`` (default half) of the activation frames inside it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

ACTIVATION_RATE = 100.0  # Hz: grid the activation files are read on before pooling
SILENCE_THRESHOLD = 10.0  # sum of squares per window (Schulze-Forster et al., Sec. V-A)


def energy_activity(
    references: np.ndarray, windows: Sequence[slice], threshold: float = SILENCE_THRESHOLD
) -> np.ndarray:
    """``active[s, t]``: the reference's sum of squares in window ``t`` is >= ``threshold``.

    Args:
        references: ``[nsrc, channels, time]``.
        windows: evaluation windows (sample slices).
        threshold: sum of squares (all channels) below which a window is silent.
    """
    ref = np.asarray(references, dtype=np.float64)
    energy = np.array([np.sum(ref[..., w] ** 2, axis=(1, 2)) for w in windows]).T
    return energy.reshape(ref.shape[0], len(windows)) >= threshold


def pool_activity(
    h: np.ndarray,
    frame_rate: float,
    windows: Sequence[slice],
    sample_rate: int,
    min_fraction: float = 0.5,
) -> np.ndarray:
    """Pool a frame-level activity ``h[source, frame]`` onto evaluation windows.

    Args:
        h: ``[nsrc, frames]`` booleans; frame ``k`` at ``k / frame_rate`` s.
        frame_rate: activation frames per second.
        windows: evaluation windows (sample slices at ``sample_rate``).
        sample_rate: Hz.
        min_fraction: share of a window's frames that must be active.

    Returns:
        ``active[nsrc, nwin]``. A window with no activation frame inside it takes the nearest
        frame's value.
    """
    h = np.asarray(h, dtype=bool)
    out = np.zeros((h.shape[0], len(windows)), dtype=bool)
    nframes = h.shape[1]
    for t, w in enumerate(windows):
        lo = int(np.ceil(w.start / sample_rate * frame_rate))
        hi = int(np.ceil(w.stop / sample_rate * frame_rate))
        lo, hi = min(lo, nframes - 1), min(max(hi, lo + 1), nframes)
        out[:, t] = h[:, lo:hi].mean(axis=1) >= min_fraction
    return out


def activations_from_file(
    path: str | os.PathLike[str],
    sources: Sequence[str],
    num_samples: int,
    sample_rate: int,
    windows: Sequence[slice],
    min_fraction: float = 0.5,
) -> np.ndarray:
    """Read an activations file and pool it onto the evaluation windows.

    Args:
        path: activations file (formats of :mod:`separate.activations.formats`).
        sources: the evaluated source names (rows of the result); names the file does not
            mention are active everywhere.
        num_samples, sample_rate: the track's length and rate.
        windows: evaluation windows.

    Returns:
        ``active[len(sources), nwin]``.

    Raises:
        InputError: unreadable file, unknown source, bad values (from the parser).
    """
    from separate.activations.formats import load_activations, num_frames_for

    frames = num_frames_for(num_samples, sample_rate, ACTIVATION_RATE)
    h = load_activations(
        path, list(sources), frames, ACTIVATION_RATE, duration=num_samples / sample_rate
    )
    return pool_activity(h.numpy(), ACTIVATION_RATE, windows, sample_rate, min_fraction)
