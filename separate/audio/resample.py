"""The one resampler: soxr, at one quality setting, for whole signals and for streams.

Every change of sample rate in the project goes through :func:`resample` (a signal in memory)
or :func:`stream_resampler` (the engine's block-by-block path), so that all of them use the same
filter (:data:`QUALITY`). A rate change is never silent: callers document it in their
docstrings; this module only does it.
"""

from __future__ import annotations

import numpy as np
import soxr

#: soxr quality recipe used everywhere ("HQ": 20-bit precision, passband to 91 % of Nyquist).
QUALITY = "HQ"


def _check_rates(sr_in: int, sr_out: int) -> None:
    if int(sr_in) <= 0 or int(sr_out) <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} Hz -> {sr_out} Hz")


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample ``audio`` from ``sr_in`` to ``sr_out`` Hz with soxr at :data:`QUALITY`.

    Args:
        audio: ``float [time]`` or ``float [..., time]`` (e.g. ``[channels, time]``); every
            leading row is resampled independently (as channels of one soxr call).
        sr_in, sr_out: rates (Hz).

    Returns:
        ``float32 [..., time']`` with ``time' ≈ time · sr_out / sr_in`` (soxr's rounding); the
        input as ``float32`` when the rates are equal; an empty signal stays empty.

    Raises:
        ValueError: a rate that is not positive.
    """
    _check_rates(sr_in, sr_out)
    x = np.asarray(audio, dtype=np.float32)
    if int(sr_in) == int(sr_out):
        return x
    if x.shape[-1] == 0:
        return np.zeros((*x.shape[:-1], 0), dtype=np.float32)
    if x.ndim == 1:
        return soxr.resample(x, int(sr_in), int(sr_out), quality=QUALITY).astype(np.float32)
    lead = x.shape[:-1]
    frames = np.ascontiguousarray(x.reshape(-1, x.shape[-1]).T)  # soxr: [time, channels]
    y = soxr.resample(frames, int(sr_in), int(sr_out), quality=QUALITY)
    return np.ascontiguousarray(y.T, dtype=np.float32).reshape(*lead, -1)


def stream_resampler(sr_in: int, sr_out: int, channels: int) -> soxr.ResampleStream:
    """A streaming soxr resampler (``float32``, :data:`QUALITY`) for ``channels`` channels.

    Feed it ``float32 [n, channels]`` blocks with ``resample_chunk(block)`` and finish with
    ``resample_chunk(empty [0, channels], last=True)`` to flush its tail. The output is
    delay-compensated (no leading silence) but its total length may differ from
    ``n · sr_out / sr_in`` by soxr's rounding; :class:`separate.engine.StreamSeparator` pads or
    trims to the input length.

    Raises:
        ValueError: a rate that is not positive.
    """
    _check_rates(sr_in, sr_out)
    return soxr.ResampleStream(int(sr_in), int(sr_out), int(channels), dtype="float32",
                               quality=QUALITY)


__all__ = ["QUALITY", "resample", "stream_resampler"]
