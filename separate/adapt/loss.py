"""The adaptation losses: Eq. 1 of Cantisani et al. (2021) and its reconstruction-only baseline.

Both take the model's estimates ``est: Tensor[batch, sources, channels, time]`` and the mixture
``mix: Tensor[batch, channels, time]``; Eq. 1 also takes the sample-level activations
``h: Tensor[batch, sources, time]`` (0/1 or bool; see
:func:`separate.activations.formats.frames_to_samples`), shared by all channels.
"""

from __future__ import annotations

import torch


def activation_loss(
    est: torch.Tensor, mix: torch.Tensor, h: torch.Tensor, lam: float = 1.0
) -> torch.Tensor:
    """Eq. 1: ``L = 1/N Σ_n [ |Σ_i h_in ŝ_in − y_n| + λ Σ_i |(1 − h_in) ŝ_in| ]``.

    The first term asks the *active* sources to rebuild the mixture, the second pushes the
    *silent* ones to zero. ``N`` counts every (batch, channel, sample) position, so the value is a
    per-sample mean (the ``Σ_i`` sums over sources, it is not averaged).

    Args:
        est: ``[B, S, C, T]`` estimated sources ``ŝ``.
        mix: ``[B, C, T]`` mixture ``y``.
        h: ``[B, S, T]`` activations (1 active, 0 silent), or ``[S, T]`` for the whole batch.
        lam: ``λ`` ≥ 0, the weight of the silent-source term (paper: 1).

    Returns:
        A scalar tensor (differentiable in ``est``).
    """
    if est.dim() != 4 or mix.dim() != 3:
        raise ValueError(f"est must be [B,S,C,T] and mix [B,C,T], got {est.shape}, {mix.shape}")
    if h.dim() == 2:
        h = h.unsqueeze(0).expand(est.shape[0], -1, -1)
    h = h.to(est.dtype).unsqueeze(2)  # [B, S, 1, T], shared by the channels
    if h.shape[0] != est.shape[0] or h.shape[1] != est.shape[1] or h.shape[-1] != est.shape[-1]:
        raise ValueError(f"h {tuple(h.shape)} does not match est {tuple(est.shape)}")
    reconstruction = ((h * est).sum(dim=1) - mix).abs()  # [B, C, T]      (Eq. 1, first term)
    silence = ((1.0 - h) * est).abs().sum(dim=1)  # [B, C, T]        (Eq. 1, second term)
    return (reconstruction + lam * silence).mean()  # 1/N Σ_n


def reconstruction_loss(est: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """The B-Lx baseline (Sec. 5.1): ``1/N Σ_n |Σ_i ŝ_in − y_n|``, mixture reconstruction only,
    ignoring the activations (Eq. 1 with every ``h_in = 1``).

    Args:
        est: ``[B, S, C, T]``; mix: ``[B, C, T]``. Returns a scalar tensor.
    """
    if est.dim() != 4 or mix.dim() != 3:
        raise ValueError(f"est must be [B,S,C,T] and mix [B,C,T], got {est.shape}, {mix.shape}")
    return (est.sum(dim=1) - mix).abs().mean()
