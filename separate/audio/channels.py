"""The one channel policy: how a signal's channels meet a model's (numpy, ``[channels, time]``).

- A mono signal through a stereo model is duplicated; the two output channels are averaged back.
- A multichannel signal through a mono model runs each channel as its own signal (the engine
  batches them) and keeps its channel count.
- More than two channels through a stereo model are downmixed to stereo first
  (:func:`downmix_to_stereo`, only when the user asks: ``split --downmix``).
- Where one signal of a fixed channel count is needed (adapting a model on a mixture, a mono
  analysis), :func:`match_channels` duplicates mono, averages to mono, or downmixes to stereo;
  :func:`to_mono` is the mean of the channels.
"""

from __future__ import annotations

import numpy as np


def to_mono(audio: np.ndarray) -> np.ndarray:
    """``float [channels, time]`` → ``float32 [time]``, the mean of the channels (a ``[time]``
    input is returned as ``float32``)."""
    x = np.asarray(audio)
    if x.ndim == 2:
        x = x.mean(axis=0)
    return np.asarray(x, dtype=np.float32)


def downmix_to_stereo(block: np.ndarray) -> np.ndarray:
    """``[C, n]`` with ``C > 2`` → ``float32 [2, n]``. 5.1 (L R C LFE Ls Rs) uses the ITU-R
    BS.775 coefficients (centre and surrounds at −3 dB, LFE dropped); other layouts average the
    even and the odd channels. Peaks are scaled so the downmix cannot clip more than the input."""
    c = block.shape[0]
    if c == 6:
        g = np.float32(np.sqrt(0.5))
        left = block[0] + g * block[2] + g * block[4]
        right = block[1] + g * block[2] + g * block[5]
        out = np.stack([left, right]) / np.float32(1 + 2 * g)
    else:
        out = np.stack([block[0::2].mean(axis=0), block[1::2].mean(axis=0)])
    return out.astype(np.float32)


def match_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """``float [C, time]`` → ``float32 [channels, time]``: unchanged when ``C == channels``;
    mono duplicated; averaged to mono when ``channels == 1``; downmixed
    (:func:`downmix_to_stereo`) when ``C > 2`` and ``channels == 2``.

    Raises:
        ValueError: any other combination (e.g. stereo to 6 channels).
    """
    x = np.asarray(audio, dtype=np.float32)
    c = x.shape[0]
    if c == channels:
        return x
    if c == 1:
        return np.ascontiguousarray(np.repeat(x, channels, axis=0))
    if channels == 1:
        return x.mean(axis=0, keepdims=True)
    if channels == 2:
        return downmix_to_stereo(x)
    raise ValueError(f"cannot map {c}-channel audio to {channels} channels")


def check_model_channels(channels: int, model_channels: int) -> None:
    """Whether ``channels``-channel audio can go through a ``model_channels``-channel model
    (the same count, a mono signal, or a mono model).

    Raises:
        ValueError: e.g. 6 channels through a stereo model (downmix first).
    """
    if channels != model_channels and model_channels != 1 and channels != 1:
        raise ValueError(
            f"{channels}-channel audio cannot go through a {model_channels}-channel model"
        )


def to_model_channels(x: np.ndarray, model_channels: int) -> np.ndarray:
    """``[C, n]`` → ``[G, model_channels, n]``, the ``G`` signals the model sees: ``G = 1`` for
    the same count or a duplicated mono signal, ``G = C`` (one per channel) for a mono model."""
    c = x.shape[0]
    if c == model_channels:
        return x[None]
    if model_channels == 1:
        return x[:, None, :]
    return np.repeat(x, model_channels, axis=0)[None]


def from_model_channels(y: np.ndarray, channels: int, model_channels: int) -> np.ndarray:
    """``[G, S, model_channels, n]`` (the model's outputs for :func:`to_model_channels`) →
    ``[S, channels, n]``: a mono model's signals become channels again; a duplicated mono
    signal's output channels are averaged."""
    if channels == model_channels:
        return y[0]
    if model_channels == 1:
        return y[:, :, 0, :].transpose(1, 0, 2)
    return y[0].mean(axis=1, keepdims=True)


__all__ = [
    "check_model_channels",
    "downmix_to_stereo",
    "from_model_channels",
    "match_channels",
    "to_mono",
    "to_model_channels",
]
