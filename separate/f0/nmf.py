"""F0-informed NMF baseline ("NMF1" of Schulze-Forster et al., Sec. IV-C, after Ewert & Müller).

The mixture magnitude spectrogram is approximated as ``M ~ W H`` (Eq. 15) with one harmonic
spectral template per pitch on a grid of 1/10 semitone (the F0s in MIDI numbers rounded to one
decimal). The F0 tracks constrain the factorisation through its initialisation, which
multiplicative updates preserve (a zero stays zero):

- template ``r`` (pitch ``p_r``) is non-zero only within ``harmonic_width`` semitones of the
  multiples of ``p_r`` (at least one STFT bin either side), initialised to ``1/h`` at harmonic h;
- activation ``H[r, n]`` is non-zero only where some voice's F0 at frame ``n`` (+/- one frame)
  lies within ``pitch_tolerance`` semitones of ``p_r``.

KL-divergence multiplicative updates (Lee & Seung) refine both. Source ``j`` is the part of
``W H`` whose activations lie in its own region; soft masks ``S_j / sum S_j`` filter the mixture
STFT (2048/256, the setting the paper found best).
"""

from __future__ import annotations

import numpy as np
import torch

from separate.audio.stft import istft, stft
from separate.f0.track import F0Track


def _midi(f: np.ndarray) -> np.ndarray:
    return 69.0 + 12.0 * np.log2(np.maximum(f, 1e-6) / 440.0)


def nmf_separate(
    mix: np.ndarray,
    sample_rate: int,
    f0: F0Track,
    n_fft: int = 2048,
    hop: int = 256,
    iterations: int = 50,
    pitch_tolerance: float = 0.3,
    harmonic_width: float = 0.3,
    eps: float = 1e-10,
) -> np.ndarray:
    """Separate mono ``mix: float [time]`` into ``f0.voices`` sources with F0-informed NMF.

    Args:
        f0: the voices' F0 tracks (Hz, 0 = silent) at any frame times (resampled here).
        iterations: multiplicative KL updates of ``W`` and ``H``.
        pitch_tolerance: semitones around each F0 where activations may be non-zero.
        harmonic_width: semitones around each harmonic where a template may be non-zero.

    Returns:
        ``float32 [voices, time]`` estimates that add up to the mixture (up to STFT rounding).
    """
    x = torch.as_tensor(np.asarray(mix, dtype=np.float32))
    spec = stft(x, n_fft, hop)  # [F, N]
    mag = spec.abs().double()
    n_bins, n_frames = mag.shape
    times = np.arange(n_frames) * hop / sample_rate
    f0_frames = f0.at(times)  # [J, N]
    n_voices = f0_frames.shape[0]
    midi = np.where(f0_frames > 0, _midi(f0_frames), np.nan)
    grid = np.unique(np.round(midi[np.isfinite(midi)], 1))
    if grid.size == 0:  # nobody sings: split the mixture equally
        return np.tile(np.asarray(mix, np.float32) / n_voices, (n_voices, 1))

    # templates W [F, R]: harmonic combs on the pitch grid
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    bin_hz = sample_rate / n_fft
    hz = 440.0 * 2 ** ((grid - 69) / 12)
    w0 = np.zeros((n_bins, len(grid)))
    for r, f in enumerate(hz):
        for h in range(1, int(sample_rate / 2 / f) + 1):
            half = max(h * f * (2 ** (harmonic_width / 12) - 1), bin_hz)
            w0[np.abs(freqs - h * f) <= half, r] = 1.0 / h
    # activation regions per voice [J, R, N] (+/- one frame in time)
    regions = np.zeros((n_voices, len(grid), n_frames), dtype=bool)
    for j in range(n_voices):
        voiced = np.flatnonzero(np.isfinite(midi[j]))
        near = np.abs(grid[:, None] - midi[j][None, voiced]) <= pitch_tolerance + 1e-9
        for shift in (-1, 0, 1):
            cols = np.clip(voiced + shift, 0, n_frames - 1)
            regions[j][:, cols] |= near
    union = regions.any(axis=0)

    w = torch.from_numpy(w0)
    hmat = torch.from_numpy(union.astype(np.float64)) * (mag.mean() + eps)
    ones = torch.ones_like(mag)
    for _ in range(iterations):  # KL multiplicative updates (zeros stay zero)
        ratio = mag / (w @ hmat + eps)
        hmat = hmat * (w.T @ ratio) / (w.T @ ones + eps)
        ratio = mag / (w @ hmat + eps)
        w = w * (ratio @ hmat.T) / (ones @ hmat.T + eps)
        norm = w.sum(dim=0, keepdim=True) + eps
        w, hmat = w / norm, hmat * norm.T

    # per-voice parts of W H; an activation claimed by several voices is shared equally
    reg = torch.from_numpy(regions.astype(np.float64))
    share = reg / reg.sum(dim=0, keepdim=True).clamp(min=1.0)
    parts = torch.stack([w @ (hmat * share[j]) for j in range(n_voices)])  # [J, F, N]
    masks = (parts + eps) / (parts.sum(dim=0, keepdim=True) + n_voices * eps)
    est = istft(masks.to(torch.complex64) * spec[None], n_fft, hop, x.shape[-1])
    return est.numpy().astype(np.float32)
