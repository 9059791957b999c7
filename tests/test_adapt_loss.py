"""Eq. 1 of Cantisani et al. (2021) and the reconstruction-only baseline, on hand-made tensors."""

from __future__ import annotations

import pytest
import torch

from separate.adapt.loss import activation_loss, reconstruction_loss


def test_eq1_by_hand():
    # B=1, S=2, C=1, T=2
    est = torch.tensor([[[[1.0, 2.0]], [[3.0, -4.0]]]])
    mix = torch.tensor([[[2.0, 0.0]]])
    h = torch.tensor([[[1, 0], [0, 1]]])
    # n=0: |1*1 + 0*3 - 2| = 1 ; silence: |0*1| + |1*3| = 3
    # n=1: |0*2 + 1*(-4) - 0| = 4 ; silence: |1*2| + |0| = 2
    # L = ((1 + λ3) + (4 + λ2)) / 2
    assert activation_loss(est, mix, h, lam=1.0).item() == pytest.approx((1 + 3 + 4 + 2) / 2)
    assert activation_loss(est, mix, h, lam=0.5).item() == pytest.approx((1 + 1.5 + 4 + 1) / 2)
    assert activation_loss(est, mix, h, lam=0.0).item() == pytest.approx((1 + 4) / 2)


def test_eq1_averages_over_batch_and_channels_and_broadcasts_h():
    torch.manual_seed(0)
    est = torch.randn(3, 4, 2, 50)
    mix = torch.randn(3, 2, 50)
    h = (torch.rand(4, 50) > 0.5).float()
    ref = 0.0
    for b in range(3):
        for c in range(2):
            for n in range(50):
                rec = abs(sum(h[i, n] * est[b, i, c, n] for i in range(4)) - mix[b, c, n])
                sil = sum(abs((1 - h[i, n]) * est[b, i, c, n]) for i in range(4))
                ref += rec + 2.0 * sil
    ref /= 3 * 2 * 50
    assert activation_loss(est, mix, h, lam=2.0).item() == pytest.approx(float(ref), rel=1e-5)
    # a [B, S, T] h gives the same result as the broadcast [S, T] one
    hb = h.unsqueeze(0).expand(3, -1, -1).bool()
    assert activation_loss(est, mix, hb, 2.0).item() == pytest.approx(float(ref), rel=1e-5)


def test_perfect_separation_has_zero_loss_and_all_active_is_reconstruction():
    s = torch.randn(1, 3, 2, 40)
    h = torch.ones(3, 40)
    h[1, :20] = 0
    s[:, 1, :, :20] = 0  # source 1 silent where h says so
    mix = s.sum(1)
    assert activation_loss(s, mix, h).item() == pytest.approx(0.0, abs=1e-7)
    est = torch.randn(2, 3, 2, 40)
    y = torch.randn(2, 2, 40)
    ones = torch.ones(3, 40)
    assert activation_loss(est, y, ones, 7.0).item() == pytest.approx(
        reconstruction_loss(est, y).item()
    )
    assert reconstruction_loss(s, mix).item() == pytest.approx(0.0, abs=1e-7)


def test_gradient_pushes_silent_sources_down():
    est = torch.tensor([[[[0.5]], [[0.5]]]], requires_grad=True)
    mix = torch.tensor([[[1.0]]])
    h = torch.tensor([[1], [0]])
    activation_loss(est, mix, h).backward()
    # active source: |0.5 - 1| → gradient -1 (grow); silent source: |0.5| → +1 (shrink)
    assert est.grad.flatten().tolist() == [-1.0, 1.0]


def test_shape_errors():
    with pytest.raises(ValueError):
        activation_loss(torch.zeros(1, 2, 1, 5), torch.zeros(1, 1, 5), torch.ones(3, 5))
    with pytest.raises(ValueError):
        reconstruction_loss(torch.zeros(2, 1, 5), torch.zeros(1, 1, 5))
