"""Training loss of Sec. 2.1: SDR loss in the time domain + mean absolute error on magnitudes."""

from __future__ import annotations

import torch

from separate.nets.fewshot import Spectrogram


def sdr_loss(est: torch.Tensor, ref: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Negative SDR in dB, averaged over the batch: ``-10 log10(|s|² / |s − ŝ|²)``.

    Args:
        est, ref: ``[B, T]`` waveforms.

    Returns:
        scalar tensor (dB; lower is better). ``eps`` keeps silent references finite.
    """
    num = ref.pow(2).sum(-1) + eps
    den = (ref - est).pow(2).sum(-1) + eps
    return -(10 * torch.log10(num / den)).mean()


def magnitude_l1(est: torch.Tensor, ref: torch.Tensor, spec: Spectrogram) -> torch.Tensor:
    """Mean absolute error between STFT magnitudes of ``est`` and ``ref`` (``[B, T]``)."""
    return (spec.stft(est).abs() - spec.stft(ref).abs()).abs().mean()


def fewshot_loss(
    est: torch.Tensor, ref: torch.Tensor, spec: Spectrogram, l1_weight: float = 1.0
) -> tuple[torch.Tensor, dict[str, float]]:
    """Sec. 2.1: ``sdr_loss + l1_weight · magnitude_l1``. Returns the loss and its parts."""
    a = sdr_loss(est, ref)
    b = magnitude_l1(est, ref, spec)
    return a + l1_weight * b, {"sdr_loss": float(a.detach()), "mag_l1": float(b.detach())}
