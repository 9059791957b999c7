"""The MedleyDB envelope activation method (Cantisani Sec. 4, Eq. 2)."""

from __future__ import annotations

import numpy as np
import pytest

from separate.activations.envelope import (
    GAMMA,
    HOP_SECONDS,
    THETA,
    activation_confidence,
    activations_from_stems,
    envelope,
)

SR = 22050


def _tone(seconds: float, freq: float = 220.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t))[None, :].repeat(2, axis=0)


def test_logistic_matches_eq2_without_smoothing():
    # One source alone, constant level: after normalisation a = 1 (n_sources * a / max(sum)),
    # so c = 1 - 1 / (1 + exp(gamma (1 - theta))).
    x = _tone(3.0)
    _, c = activation_confidence([x], SR, lowpass=None)
    mid = c[0, 5:-5]
    expected = 1 - 1 / (1 + np.exp(GAMMA * (1 - THETA)))
    assert np.allclose(mid, expected, atol=1e-3)


def test_threshold_at_theta_gives_half():
    # Two sources: A constant, B constant with envelope ratio r: normalised a_B = 2 r / (1 + r).
    # Choose r so that a_B = theta: c_B = 0.5 exactly (Eq. 2).
    r = THETA / (2 - THETA)
    a = _tone(3.0, amp=0.5)
    # the envelope is sqrt-compressed: amplitude ratio r**2 gives an envelope ratio r
    b = _tone(3.0, freq=330.0, amp=0.5 * r**2)
    _, c = activation_confidence([a, b], SR, lowpass=None)
    assert np.allclose(c[1, 5:-5], 0.5, atol=0.03)


def test_on_off_source_is_active_only_while_playing():
    n = 4 * SR
    drums = _tone(4.0, 110.0, 0.3)
    voice = np.zeros((2, n))
    voice[:, n // 2:] = _tone(2.0, 440.0, 0.3)
    times, h = activations_from_stems([drums, voice], SR)
    assert h.shape == (2, len(times))
    assert abs(times[1] - times[0] - HOP_SECONDS) < 1e-3
    early = times < 1.5
    late = times > 2.5
    assert h[0].all()
    assert not h[1, early].any()
    assert h[1, late].all()


def test_silent_mixture_is_inactive_and_shapes():
    x = np.zeros((3, 2, SR))
    times, c = activation_confidence(x, SR)
    assert c.shape == (3, len(times))
    assert (c == 0).all()
    t, e = envelope(np.zeros(SR), SR)
    assert len(t) == len(e) and (e == 0).all()


def test_errors():
    with pytest.raises(ValueError):
        activation_confidence([], SR)
    with pytest.raises(ValueError):
        activation_confidence([np.zeros(100), np.zeros(200)], SR)
    with pytest.raises(ValueError):
        envelope(np.zeros((2, 2, 2)), SR)
