"""Audio in/out for `separate f0`: the project's ``separate.audio.io`` when present, else soundfile.

Everything in ``separate.f0`` is mono: multichannel input is averaged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from separate.errors import InputError


def read_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """Read ``path`` as mono ``float32 [time]`` and its sample rate (Hz).

    Raises:
        InputError: missing, unreadable, empty or non-finite audio.
    """
    try:
        from separate.audio.io import read_audio
    except ImportError:  # the shared reader has not landed yet
        read_audio = _read_soundfile
    audio, sr = read_audio(path)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    if audio.size == 0:
        raise InputError(path, "no audio samples")
    if not np.isfinite(audio).all():
        raise InputError(path, "audio contains NaN or infinite samples")
    return audio, int(sr)


def _read_soundfile(path: str | Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - libsndfile raises various types
        raise InputError(p, f"not readable audio ({exc})") from None
    return data.T, sr


def write_mono(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono ``float [time]`` to ``path`` (temp file, then rename), as float WAV/FLAC."""
    audio = np.asarray(audio, dtype=np.float32)[None, :]
    try:
        from separate.audio.io import write_audio
    except ImportError:
        write_audio = None
    if write_audio is not None:
        write_audio(path, audio, sample_rate)
        return
    import soundfile as sf

    p = Path(path)
    tmp = p.with_name(p.name + ".part")
    sf.write(str(tmp), audio.T, sample_rate, format=p.suffix.lstrip(".").upper() or "WAV")
    tmp.replace(p)


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """soxr resampling of ``float [time]`` (no-op when the rates match)."""
    if sr_in == sr_out:
        return np.asarray(audio, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(audio, dtype=np.float32), sr_in, sr_out).astype(np.float32)
