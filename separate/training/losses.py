"""Training losses of Jansson Ch. 6.3.4: time-domain SDR loss and L1 magnitude loss."""

from __future__ import annotations

import torch


def sdr_loss(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Negative cosine similarity in the time domain, Eq. 6.11:
    ``L_SDR = −(y·ŷ) / (‖y‖‖ŷ‖)``, averaged over every leading dimension.

    Args:
        estimate, reference: ``[..., time]``.
    Returns:
        scalar in ``[-1, 1]``.
    """
    dot = (estimate * reference).sum(-1)
    norm = estimate.norm(dim=-1) * reference.norm(dim=-1) + eps
    return -(dot / norm).mean()


def magnitude_l1(est_spec: torch.Tensor, ref_spec: torch.Tensor,
                 scale: torch.Tensor | None = None) -> torch.Tensor:
    """L1 distance of STFT magnitudes, Eq. 6.10, ``mean |  |Y| − |Ŷ|  |``, optionally divided by
    ``scale`` (e.g. the mixture's mean magnitude, so the loss does not depend on loudness)."""
    diff = (ref_spec.abs() - est_spec.abs()).abs()
    if scale is not None:
        diff = diff / scale
    return diff.mean()


def sdr_db(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Plain (not BSS-Eval) SDR in dB per leading index: ``10 log10(‖y‖² / ‖y − ŷ‖²)`` over
    ``[..., time]``; a quick validation metric (BSS-Eval lives in ``separate.evaluation``)."""
    num = (reference**2).sum(-1) + eps
    den = ((reference - estimate) ** 2).sum(-1) + eps
    return 10 * torch.log10(num / den)
