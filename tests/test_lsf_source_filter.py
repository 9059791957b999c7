"""Source-filter model (Sec. III): Algorithm 1, the all-pole filter, the synthesiser, the model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from separate.nets.source_filter import (
    SourceFilterModel,
    allpole_frames,
    allpole_overlap_add,
    harmonic_signal,
    lsf_from_logits,
    lsf_to_lpc,
    multiscale_spectral_loss,
    soft_mask_separation,
)

# one intra-op thread (conftest): small tensors, shared 2-core machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")

def _lsf_of(a: np.ndarray) -> np.ndarray:
    """LSFs of A(z) = 1 + sum a_k z^-k from the roots of P and Q (the textbook definition)."""
    poly = np.concatenate([[1.0], a])
    p = np.concatenate([poly, [0.0]]) + np.concatenate([[0.0], poly[::-1]])
    q = np.concatenate([poly, [0.0]]) - np.concatenate([[0.0], poly[::-1]])
    angles = []
    for c in (p, q):
        w = np.angle(np.roots(c))
        angles += [x for x in w if 1e-6 < x < math.pi - 1e-6]
    return np.sort(angles)


def _stable_poly(k: int, rng: np.random.Generator) -> np.ndarray:
    radii = rng.uniform(0.3, 0.95, k // 2)
    thetas = rng.uniform(0.1, math.pi - 0.1, k // 2)
    roots = np.concatenate([radii * np.exp(1j * thetas), radii * np.exp(-1j * thetas)])
    return np.real(np.poly(roots))[1:]  # a_1..a_K of prod (1 - r z^-1)


@pytest.mark.parametrize("order", [2, 4, 10, 20])
def test_algorithm1_round_trip_with_known_polynomial(order):
    rng = np.random.default_rng(order)
    a = _stable_poly(order, rng)
    lsf = _lsf_of(a)
    assert len(lsf) == order
    back = lsf_to_lpc(torch.from_numpy(lsf)).numpy()
    np.testing.assert_allclose(back, a, atol=1e-8)


def test_algorithm1_gives_stable_filters_from_network_scale_logits():
    # Logits of the scale a network produces (std 1). With much larger logits (std >= 2) a few
    # LSF sets in a thousand cluster so tightly that the order-20 polynomial is ill-conditioned:
    # coefficient errors of ~1e-12 (float64) then move poles of radius 0.9996 outside the circle.
    torch.manual_seed(0)
    logits = torch.randn(1000, 21)
    lsf = lsf_from_logits(logits)
    assert (lsf.diff(dim=-1) > 0).all() and (lsf > 0).all() and (lsf < math.pi).all()
    a = lsf_to_lpc(lsf)
    assert a.dtype == torch.float64
    for row in a.numpy():
        roots = np.roots(np.concatenate([[1.0], row]))
        assert np.abs(roots).max() < 1.0
    assert lsf.diff(dim=-1).min() >= 1e-3 - 1e-12  # the min_gap margin


def test_algorithm1_rejects_odd_order():
    with pytest.raises(ValueError):
        lsf_to_lpc(torch.rand(3))


def test_allpole_frames_match_lfilter_per_frame():
    rng = np.random.default_rng(1)
    a = np.stack([_stable_poly(10, rng) for _ in range(5)])
    frames = rng.standard_normal((5, 512))
    y = allpole_frames(torch.from_numpy(frames), torch.from_numpy(a)).numpy()
    # including a nearly undamped resonance whose impulse response outlasts the frame
    w = 0.4
    a[4] = 0
    a[4, :2] = np.real(np.poly(0.9995 * np.exp(1j * np.array([w, -w]))))[1:]
    y = allpole_frames(torch.from_numpy(frames), torch.from_numpy(a)).numpy()
    for i in range(5):
        ref = lfilter([1.0], np.concatenate([[1.0], a[i]]), frames[i])
        np.testing.assert_allclose(y[i], ref, atol=1e-6 * np.abs(ref).max())


def test_time_varying_filter_with_constant_coefficients_matches_lfilter():
    rng = np.random.default_rng(2)
    a = np.real(np.poly(0.7 * np.exp(1j * np.array([0.3, -0.3, 1.2, -1.2]))))[1:]  # 2 pole pairs
    e = rng.standard_normal(8000)
    n = 8000 // 256 + 1
    coeffs = torch.from_numpy(np.tile(a, (1, n, 1)))
    y = allpole_overlap_add(torch.from_numpy(e)[None], coeffs, 512, 256)[0].numpy()
    ref = lfilter([1.0], np.concatenate([[1.0], a]), e)
    # zero initial state per frame is an approximation (Sec. III-D): small, not exact
    core = slice(512, -512)
    err = np.linalg.norm(y[core] - ref[core]) / np.linalg.norm(ref[core])
    assert err < 0.02


def test_harmonic_synth_has_its_peak_at_f0():
    sr = 16000
    f0 = torch.full((1, sr), 233.0)
    h = harmonic_signal(f0, sr)[0].numpy()
    spec = np.abs(np.fft.rfft(h * np.hanning(len(h))))
    freqs = np.fft.rfftfreq(len(h), 1 / sr)
    assert freqs[spec.argmax()] == pytest.approx(233.0, abs=1.5)
    # every harmonic below Nyquist is present, none of the in-between frequencies
    for i in (2, 3, 10):
        on = spec[np.argmin(np.abs(freqs - i * 233))]
        assert on > 100 * spec[np.argmin(np.abs(freqs - (i + 0.5) * 233))]
    top = 233.0 * int((sr / 2) // 233.0)  # the highest harmonic below Nyquist (7922 Hz)
    assert spec[freqs > top + 30].max() < 1e-3 * spec.max()


def test_equally_spaced_lsfs_give_a_flat_filter():
    k = 20
    lsf = torch.arange(1, k + 1, dtype=torch.float64) * math.pi / (k + 1)
    torch.testing.assert_close(lsf_to_lpc(lsf), torch.zeros(k, dtype=torch.float64))


def test_synthesiser_voice_has_its_harmonics_at_f0():
    sr, f0_hz = 16000, 220.0
    model = SourceFilterModel(sample_rate=sr, hidden=8, lpc_order=20)
    t = sr
    n = model.frame_count(t)
    k = 20
    flat = torch.arange(1, k + 1, dtype=torch.float64) * math.pi / (k + 1)
    params = {
        "alpha": torch.full((1, n), 0.5),
        "gain": torch.full((1, n), 1e-7),
        "lpc": lsf_to_lpc(flat).expand(1, n, k),
        "noise_mag": torch.ones(1, 65),
    }
    y = model.synthesise(params, torch.full((1, n), f0_hz), t)[0].numpy()
    spec = np.abs(np.fft.rfft(y * np.hanning(t)))
    freqs = np.fft.rfftfreq(t, 1 / sr)
    assert freqs[spec.argmax()] == pytest.approx(f0_hz, abs=1.5)
    peaks = freqs[np.argsort(spec)[-10:]]
    assert np.all(np.abs(peaks / f0_hz - np.round(peaks / f0_hz)) * f0_hz < 2.0)
    # a formant (pole pair near 1 kHz) moves the spectral peak to the harmonic nearest to it
    w = 2 * math.pi * 1100 / sr
    a = np.real(np.poly(0.97 * np.exp(1j * np.array([w, -w]))))[1:]
    lpc = torch.zeros(1, n, k, dtype=torch.float64)
    lpc[..., :2] = torch.from_numpy(a)
    y2 = model.synthesise({**params, "lpc": lpc}, torch.full((1, n), f0_hz), t)[0].numpy()
    spec2 = np.abs(np.fft.rfft(y2 * np.hanning(t)))
    assert freqs[spec2.argmax()] == pytest.approx(1100.0, abs=f0_hz / 2 + 1)


def test_model_forward_shapes_and_gradients():
    torch.manual_seed(0)
    sr = 16000
    model = SourceFilterModel(sample_rate=sr, hidden=32)
    mix = torch.randn(2, sr // 2) * 0.1
    n = model.frame_count(mix.shape[-1])
    f0 = torch.tensor([220.0, 330.0])[None, :, None].expand(2, 2, n).clone()
    f0[:, 1, : n // 2] = 0  # voice 2 silent in the first half
    src = model(mix, f0)
    assert src.shape == (2, 2, sr // 2) and torch.isfinite(src).all()
    loss = multiscale_spectral_loss(src.sum(1), mix)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert len(grads) == len(list(model.parameters()))
    assert all(torch.isfinite(g).all() for g in grads)
    with pytest.raises(ValueError):
        model(mix, f0[..., :-1])


def test_soft_masks_sum_to_the_mixture():
    torch.manual_seed(0)
    mix = torch.randn(1, 8000)
    srcs = torch.rand(1, 3, 8000)
    est = soft_mask_separation(mix, srcs)
    assert est.shape == (1, 3, 8000)
    torch.testing.assert_close(est.sum(1), mix, atol=1e-4, rtol=1e-4)


def test_impulse_response_gradient_is_exact():
    from separate.nets.source_filter import allpole_impulse_response

    a = (torch.randn(3, 6, dtype=torch.float64) * 0.2).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: allpole_impulse_response(x, 64), (a,))


def test_normalized_filter_tames_clustered_poles():
    # 20 LSFs bunched in the low band: a stable filter with a transient gain of ~3e4
    lsf = torch.linspace(0.05, 1.5, 20, dtype=torch.float64)
    a = lsf_to_lpc(lsf)[None]
    roots = np.roots(np.concatenate([[1.0], a[0].numpy()]))
    assert np.abs(roots).max() < 1.0
    impulse = torch.zeros(1, 512, dtype=torch.float64)
    impulse[0, 0] = 1.0
    raw = allpole_frames(impulse, a)
    assert raw.abs().max() > 1e4  # the paper's monic filter: large transient gain
    unit = allpole_frames(impulse, a, normalize=True)
    torch.testing.assert_close((unit**2).sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(unit / unit.norm(), raw / raw.norm())  # same shape, unit energy
