"""Instrument activations from isolated stems: the MedleyDB envelope method.

Cantisani et al., *User-guided one-shot deep model adaptation for music source separation*
(WASPAA 2021), Sec. 4, obtain the time annotations of their test songs "using the same procedure
and hyper-parameters used to annotate the MedleyDB dataset" (Bittner et al., ISMIR 2014):

1. an amplitude envelope per source by *envelope following*: half-wave rectification,
   compression, smoothing and down-sampling;
2. the envelopes normalised to account for the overall signal energy and the number of sources;
3. a confidence per source and frame from a logistic function (Eq. 2)::

       c[i, n] = 1 - 1 / (1 + exp(gamma * (a[i, n] - theta))),   gamma = 20, theta = 0.15

4. source ``i`` is active in frame ``n`` (``h[i, n] = 1``) when ``c[i, n] >= 0.5``.

This module is the one implementation of that method in the project: ``separate synth`` writes
``activations.csv`` with it and ``separate adapt`` derives activations from reference stems with it.

Defaults follow MedleyDB: a 4096-sample Hann window with 50 % overlap at 22.05 kHz (0.186 s window,
0.093 s hop), expressed here in seconds so any sample rate gives the same frame times; frames where
the normalised sum of all envelopes stays under ``silence_threshold`` are set to confidence 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.signal import butter, filtfilt

__all__ = [
    "GAMMA",
    "THETA",
    "ACTIVE_AT",
    "WINDOW_SECONDS",
    "HOP_SECONDS",
    "envelope",
    "activation_confidence",
    "activations_from_stems",
]

GAMMA = 20.0
"""Slope of the logistic function, Cantisani Sec. 4, Eq. 2."""
THETA = 0.15
"""Activation threshold of the logistic function, Cantisani Sec. 4, Eq. 2."""
ACTIVE_AT = 0.5
"""A source is active in a frame when its confidence is at least this (Cantisani Sec. 4)."""
WINDOW_SECONDS = 4096 / 22050
"""Envelope window: MedleyDB's 4096 samples at 22.05 kHz (s)."""
HOP_SECONDS = WINDOW_SECONDS / 2
"""Envelope hop: half the window, as in MedleyDB (s)."""


def _as_mono(stem: np.ndarray) -> np.ndarray:
    x = np.asarray(stem, dtype=np.float64)
    if x.ndim == 2:
        return x.mean(axis=0)
    if x.ndim == 1:
        return x
    raise ValueError(f"a stem must be [time] or [channels, time], got shape {x.shape}")


def envelope(
    stem: np.ndarray,
    sample_rate: int,
    hop_seconds: float = HOP_SECONDS,
    window_seconds: float = WINDOW_SECONDS,
) -> tuple[np.ndarray, np.ndarray]:
    """Un-normalised amplitude envelope of one stem (step 1 of Cantisani Sec. 4).

    Half-wave rectification, square-root compression, smoothing by a Hann-weighted mean over
    ``window_seconds``, down-sampling to one value every ``hop_seconds``.

    Args:
        stem: audio, ``[channels, time]`` or ``[time]`` (channels are averaged).
        sample_rate: in Hz.
        hop_seconds: frame hop (s).
        window_seconds: smoothing window (s).

    Returns:
        ``(times, env)``: frame centres in s ``[frames]`` and the envelope ``[frames]``.

    Raises:
        ValueError: on a bad shape or non-positive rate/hop/window.
    """
    if sample_rate <= 0 or hop_seconds <= 0 or window_seconds <= 0:
        raise ValueError("sample_rate, hop_seconds and window_seconds must be positive")
    x = _as_mono(stem)
    hop = max(1, int(round(hop_seconds * sample_rate)))
    win_len = max(2, int(round(window_seconds * sample_rate)))
    n_frames = int(np.ceil(len(x) / hop)) if len(x) else 0
    times = np.arange(n_frames) * hop / sample_rate
    if n_frames == 0:
        return times, np.zeros(0)
    rect = np.sqrt(np.maximum(x, 0.0))  # half-wave rectification + compression
    win = np.hanning(win_len + 2)[1:-1]
    win /= win.sum()
    # Frame n is centred on sample n * hop: a Hann-weighted mean around it (smoothing), taken
    # only at the frame centres (down-sampling).
    pad = win_len // 2
    padded = np.pad(rect, (pad, pad + win_len + hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win_len)[::hop][:n_frames]
    env = frames @ win
    return times, np.maximum(env, 0.0)


def activation_confidence(
    stems: Sequence[np.ndarray] | np.ndarray,
    sample_rate: int,
    hop_seconds: float = HOP_SECONDS,
    window_seconds: float = WINDOW_SECONDS,
    gamma: float = GAMMA,
    theta: float = THETA,
    silence_threshold: float = 0.01,
    lowpass: float | None = 0.075,
) -> tuple[np.ndarray, np.ndarray]:
    """Activation confidence of every source in every frame (Cantisani Sec. 4, Eq. 2).

    The envelopes of all sources are normalised together (step 2): multiplied by the number of
    sources and divided by the maximum over frames of their sum, so a source carrying all of
    the loudest frame's energy reaches ``n_sources``. They are optionally smoothed by a
    zero-phase 2nd-order Butterworth low-pass (``lowpass``: cut-off as a fraction of the frame
    rate's Nyquist; MedleyDB's 0.075), then passed through the logistic of Eq. 2.

    Args:
        stems: ``[sources, channels, time]`` array or a sequence of ``[channels, time]`` /
            ``[time]`` arrays of equal length (the sources of one mixture).
        sample_rate: in Hz.
        hop_seconds: frame hop (s), default 0.093 s (MedleyDB).
        window_seconds: envelope window (s), default 0.186 s (MedleyDB).
        gamma: logistic slope (Eq. 2), 20.
        theta: logistic threshold (Eq. 2), 0.15.
        silence_threshold: frames whose normalised total envelope is below this get
            confidence 0 for every source.
        lowpass: normalised cut-off of the envelope smoothing filter, or None for none.

    Returns:
        ``(times, confidence)``: frame times in s ``[frames]`` and ``[sources, frames]`` in
        [0, 1].

    Raises:
        ValueError: no stems, stems of different lengths, or a bad shape.
    """
    stems = list(stems)
    if not stems:
        raise ValueError("no stems given")
    lengths = {np.asarray(s).shape[-1] for s in stems}
    if len(lengths) != 1:
        raise ValueError(f"stems have different lengths: {sorted(lengths)}")
    envs = []
    times = np.zeros(0)
    for s in stems:
        times, e = envelope(s, sample_rate, hop_seconds, window_seconds)
        envs.append(e)
    a = np.stack(envs)  # [sources, frames]
    if a.shape[1] == 0:
        return times, a
    if lowpass is not None and a.shape[1] > 9:
        b, aa = butter(2, lowpass, "low")
        a = np.maximum(filtfilt(b, aa, a, axis=1), 0.0)
    total = a.sum(axis=0)
    peak = total.max()
    if peak <= 0:
        return times, np.zeros_like(a)
    a = len(stems) * a / peak  # normalisation to overall energy and number of sources
    audible = a.sum(axis=0) > silence_threshold
    # Eq. 2 of Cantisani et al. (the logistic confidence), written with expit-like stability.
    z = np.clip(gamma * (a - theta), -60.0, 60.0)
    conf = 1.0 - 1.0 / (1.0 + np.exp(z))
    return times, conf * audible[None, :]


def activations_from_stems(
    stems: Sequence[np.ndarray] | np.ndarray,
    sample_rate: int,
    hop_seconds: float = HOP_SECONDS,
    **kwargs: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Binary activations ``h[source, frame]`` from isolated stems (Cantisani Sec. 4).

    ``h = confidence >= 0.5`` with the confidence of :func:`activation_confidence` (same
    arguments).

    Returns:
        ``(times, h)``: frame times in s ``[frames]`` and a bool array ``[sources, frames]``.
    """
    times, conf = activation_confidence(stems, sample_rate, hop_seconds=hop_seconds, **kwargs)
    return times, conf >= ACTIVE_AT
