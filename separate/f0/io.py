"""Audio in/out for `separate f0`, through the project's one audio path (:mod:`separate.audio`).

Everything in ``separate.f0`` is mono: multichannel input is averaged
(:func:`separate.audio.channels.to_mono`). :func:`resample` is the project's one resampler
(:func:`separate.audio.resample.resample`), re-exported here for the modules of ``separate.f0``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from separate.audio.channels import to_mono
from separate.audio.resample import resample
from separate.errors import InputError


def read_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """Read ``path`` as mono ``float32 [time]`` and its sample rate (Hz).

    Raises:
        InputError: missing, unreadable, empty or non-finite audio.
    """
    from separate.audio.io import read_audio

    audio, sr = read_audio(path)
    audio = to_mono(audio)
    if audio.size == 0:
        raise InputError(path, "no audio samples")
    if not np.isfinite(audio).all():
        raise InputError(path, "audio contains NaN or infinite samples")
    return audio, int(sr)


def write_mono(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono ``float [time]`` to ``path`` (temp file, then rename), as float WAV/FLAC."""
    from separate.audio.io import write_audio

    write_audio(path, np.asarray(audio, dtype=np.float32)[None, :], sample_rate)


__all__ = ["read_mono", "resample", "write_mono"]
