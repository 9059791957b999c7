"""Vocal melody of a song: separate the vocals, then track their pitch.

Jansson (2019), Ch. 5, the "Separately Trained" pipeline (Fig. 5.5): a source-separation model
trained on its own isolates the vocals, and a pitch tracker that assumes a clean monophonic input
runs on them. Here the separator is any registry model with a ``vocals`` source (default: the
embedded ``default`` U-Net, through :class:`separate.separation.Separator`) and the tracker is pYIN
(:func:`separate.f0.track.pyin_track`) or the salience network
(:func:`separate.f0.salience.salience_track`, one voice). Jansson's Sec. 5.1 shows why the order
matters: pitch trackers lose accuracy on mixtures and on separation artefacts alike; the
experiment in ``docs/f0-pitch.md`` measures both on this project's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from separate.f0.track import FMAX_HZ, FMIN_HZ, F0Track

MELODY_METHODS = ("pyin", "salience")


@dataclass
class MelodyResult:
    """What :func:`track_melody` found.

    Attributes:
        track: one-voice :class:`F0Track` (Hz, 0 = unvoiced).
        vocals: the separated vocals, mono ``float32 [time]`` at ``sample_rate``.
        sample_rate: Hz (the input's).
    """

    track: F0Track
    vocals: np.ndarray
    sample_rate: int


def track_melody(
    mix: np.ndarray,
    sample_rate: int,
    model: str | Path = "default",
    method: str = "pyin",
    fmin: float = FMIN_HZ,
    fmax: float = FMAX_HZ,
    separator=None,
    device: str = "auto",
) -> MelodyResult:
    """F0 of the lead vocal of ``mix: float [channels, time]`` (or ``[time]``) at
    ``sample_rate`` Hz: the model's ``vocals`` stem (no residual added), mixed to mono, then pYIN
    (``method="pyin"``) or the salience network with one voice (``"salience"``).

    Args:
        model: registry name or card path of a separation model with a ``vocals`` source.
        separator: an existing :class:`separate.separation.Separator` (overrides ``model``).
        device: where the separation model runs (``auto``: CUDA, then MPS, then CPU).

    Raises:
        ModelError: unknown model or broken weights. UsageError: the model has no ``vocals``.
        ValueError: unknown ``method``, non-finite samples.
    """
    if method not in MELODY_METHODS:
        raise ValueError(f"unknown melody method {method!r} (available: pyin, salience)")
    from separate.separation import Separator

    sep = separator if separator is not None else Separator(model, device=device)
    x = np.asarray(mix, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    vocals = sep.separate_tensor(x, sample_rate, stems="vocals", residual=False)["vocals"]
    mono = vocals.numpy().mean(axis=0).astype(np.float32)
    if method == "pyin":
        from separate.f0.track import pyin_track

        track = pyin_track(mono, sample_rate, fmin, fmax)
    else:
        from separate.f0.salience import salience_track

        track = salience_track(mono, sample_rate, voices=1, fmin=fmin, fmax=fmax)
    return MelodyResult(track=track, vocals=mono, sample_rate=sample_rate)


def track_melody_file(path: str | Path, **kwargs) -> MelodyResult:
    """:func:`track_melody` of an audio file (any format ``separate.audio.io`` reads).

    Raises:
        InputError: missing, unreadable, empty or non-finite audio (names the file).
    """
    from separate.audio.io import read_audio

    audio, sr = read_audio(path)
    return track_melody(audio, int(sr), **kwargs)
