"""STFT / inverse STFT with a periodic Hann window: the one spectral front end (torch only).

Every network and spectral method of the project (the U-Nets, the few-shot U-Net, the
source-filter model and its loss, F0-informed NMF, the quarter silencing of ``adapt marks``)
goes through these two functions, so they share one convention: a periodic Hann window of
``n_fft`` samples, centred frames (the signal is reflect-padded by ``n_fft // 2`` at both ends,
frame ``n`` is centred on sample ``n · hop``), no normalisation, one-sided spectra. They are
exactly ``torch.stft`` / ``torch.istft`` with those arguments (bit for bit), for inputs with any
number of leading dimensions.

This module imports nothing but torch, so :mod:`separate.nets` can use it without pulling in
soundfile or soxr (docs/ARCHITECTURE.md, "Rooms and what each may import").
"""

from __future__ import annotations

import torch

_WINDOWS: dict[tuple[int, torch.dtype, torch.device], torch.Tensor] = {}


def hann_window(n_fft: int, dtype: torch.dtype = torch.float32,
                device: torch.device | str | None = None) -> torch.Tensor:
    """Periodic Hann window ``[n_fft]`` (``torch.hann_window(n_fft)``), cached per size, dtype and
    device. The cached tensor is shared: do not modify it in place.

    It is always created outside inference mode, so a window first made while the engine runs
    under ``torch.inference_mode`` can still be used by a training step later.
    """
    dev = torch.device("cpu") if device is None else torch.device(device)
    key = (int(n_fft), dtype, dev)
    win = _WINDOWS.get(key)
    if win is None:
        with torch.inference_mode(False):
            win = torch.hann_window(int(n_fft), dtype=dtype, device=dev)
        _WINDOWS[key] = win
    return win


def _window_for(x: torch.Tensor, n_fft: int, window: torch.Tensor | None) -> torch.Tensor:
    if window is not None:
        return window
    real = x.real.dtype if x.is_complex() else x.dtype
    return hann_window(n_fft, real, x.device)


def stft(x: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor | None = None) -> torch.Tensor:
    """Complex spectrogram of ``x``: real ``[..., time]`` → complex ``[..., n_fft // 2 + 1,
    time // hop + 1]``.

    Args:
        x: signal(s), any leading dimensions (e.g. ``[batch, channels, time]``).
        n_fft: FFT and window size (samples).
        hop: frame step (samples).
        window: ``[n_fft]``; default the periodic Hann window in ``x``'s dtype and device.

    Equals ``torch.stft(x, n_fft, hop, window=window, center=True, pad_mode="reflect",
    normalized=False, onesided=True, return_complex=True)``; reflect padding needs
    ``time > n_fft // 2`` (torch raises a ``RuntimeError`` otherwise).
    """
    win = _window_for(x, n_fft, window)
    lead = x.shape[:-1]
    flat = x if x.dim() <= 2 else x.reshape(-1, x.shape[-1])
    spec = torch.stft(flat, n_fft, hop, window=win, center=True, pad_mode="reflect",
                      normalized=False, onesided=True, return_complex=True)
    return spec if x.dim() <= 2 else spec.reshape(*lead, *spec.shape[-2:])


def istft(spec: torch.Tensor, n_fft: int, hop: int, length: int,
          window: torch.Tensor | None = None) -> torch.Tensor:
    """Inverse of :func:`stft`: complex ``[..., n_fft // 2 + 1, frames]`` → real ``[..., length]``.

    Args:
        spec: complex spectrogram(s), any leading dimensions.
        n_fft, hop: as for :func:`stft`.
        length: output samples (the signal is trimmed or zero-extended to it).
        window: ``[n_fft]``; default the periodic Hann window in ``spec``'s real dtype and device.

    Equals ``torch.istft(spec, n_fft, hop, window=window, center=True, normalized=False,
    onesided=True, length=length)``.
    """
    win = _window_for(spec, n_fft, window)
    lead = spec.shape[:-2]
    flat = spec if spec.dim() <= 3 else spec.reshape(-1, *spec.shape[-2:])
    y = torch.istft(flat, n_fft, hop, window=win, center=True, normalized=False, onesided=True,
                    length=length)
    return y if spec.dim() <= 3 else y.reshape(*lead, length)


__all__ = ["hann_window", "istft", "stft"]
