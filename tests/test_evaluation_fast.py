"""The fast BSS-Eval path gives museval's numbers (same definition, other algorithms)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from separate.evaluation import fast_bsseval as fb


def _museval(ref, est, **kw):
    import museval.metrics

    return museval.metrics.bss_eval(ref, est, **kw)


def test_framing_matches_museval():
    import museval.metrics

    for window, hop, length in [(10, 10, 95), (10, 4, 95), (100, 10, 95), (np.inf, np.inf, 7),
                                (44100, 44100, 300032)]:
        ours = fb.framing(window, hop, length)
        theirs = list(museval.metrics.Framing(window, hop, length))
        assert ours == theirs


def test_cross_correlations_direct():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 700)), rng.standard_normal((3, 700))
    r = fb.cross_correlations(a, b, 6, fft_size=64)  # many blocks
    for p in range(2):
        for q in range(3):
            for k in range(-6, 7):
                lo, hi = max(0, -k), min(700, 700 - k)
                direct = np.dot(a[p, lo:hi], b[q, lo + k : hi + k])
                assert abs(r[p, q, 6 + k] - direct) < 1e-10


def test_block_levinson_matches_dense():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4000))
    r = fb.cross_correlations(x, x, 9)
    R = np.ascontiguousarray(r[:, :, 9:].transpose(2, 0, 1))[None]  # [1, 10, 3, 3]
    T = fb.BlockToeplitz(R)
    dense = T.dense()[0]
    y = rng.standard_normal((1, 10, 3, 2))
    x_sol = T.solve(y)
    assert np.allclose(dense @ x_sol.reshape(30, 2), y.reshape(30, 2), atol=1e-10)
    assert np.allclose(T.matvec(x_sol), y, atol=1e-10)


CONFIGS = [
    {},
    {"compute_permutation": True},
    {"framewise_filters": True},
    {"framewise_filters": True, "bsseval_sources_version": True, "compute_permutation": True},
]


@pytest.mark.parametrize("kw", CONFIGS, ids=["v4", "v4-perm", "v3", "v3-sources-perm"])
def test_random_signals_match_museval(kw):
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((3, 3000, 2))
    est = ref[[1, 0, 2]] + 0.7 * rng.standard_normal(ref.shape)  # shuffled: perms matter
    kw = {**kw, "filters_len": 48}  # small Gram matrices keep museval quick
    ours = fb.bss_eval(ref, est, 1000, 750, **kw)
    theirs = _museval(ref, est, window=1000, hop=750, **kw)
    for a, b in zip(ours[:4], theirs[:4], strict=True):
        assert np.allclose(a, b, atol=1e-8, equal_nan=True)
    assert np.array_equal(ours[4], theirs[4])


def test_real_clip_matches_museval(rock_dir):
    """Real stereo stems of the 80s Rock clip (2 s, 512 taps), estimates = references + noise
    (4 stems x 7 s: benchmarks/bench_eval.py)."""
    names = ["vocals", "bass"]
    ref = np.stack([sf.read(rock_dir / f"{s}.flac", frames=88200)[0] for s in names])
    rng = np.random.default_rng(0)
    est = ref + 0.2 * ref.std() * rng.standard_normal(ref.shape)
    ours = fb.bss_eval(ref, est, 44100, 44100)
    theirs = _museval(ref, est, window=44100, hop=44100)
    worst = max(np.nanmax(np.abs(a - b)) for a, b in zip(ours[:4], theirs[:4], strict=True))
    assert worst < 1e-3, worst


def test_silent_window_is_nan_everywhere_and_whole_silence_raises():
    rng = np.random.default_rng(4)
    ref = rng.standard_normal((2, 3000, 1))
    est = ref + 0.1 * rng.standard_normal(ref.shape)
    ref[0, 1000:2000] = 0.0  # window 1 of source 0 silent: museval NaNs every source there
    ours = fb.bss_eval(ref, est, 1000, 1000)
    theirs = _museval(ref, est, window=1000, hop=1000)
    for a, b in zip(ours[:4], theirs[:4], strict=True):
        assert np.isnan(a[:, 1]).all()
        assert np.allclose(a, b, equal_nan=True)
    ref[1] = 0.0
    with pytest.raises(ValueError, match="all zeros"):
        fb.bss_eval(ref, est, 1000, 1000)


def test_dual_mono_equals_mono():
    """Duplicated channels add nothing to the span of the references: the images numbers of
    [x, x] equal those of x (a singular Gram matrix that the fast path avoids)."""
    rng = np.random.default_rng(5)
    ref = rng.standard_normal((2, 4000, 1))
    est = ref + 0.3 * rng.standard_normal(ref.shape)
    mono = fb.bss_eval(ref, est, 2000, 2000)
    stereo = fb.bss_eval(np.repeat(ref, 2, axis=2), np.repeat(est, 2, axis=2), 2000, 2000)
    for a, b in zip(mono[:4], stereo[:4], strict=True):
        assert np.allclose(a, b, atol=1e-8)


def test_levinson_path_matches_museval(monkeypatch):
    """Force the block-Levinson solver (used above DENSE_MAX unknowns, e.g. 4 stereo stems)."""
    monkeypatch.setattr(fb, "DENSE_MAX", 0)
    rng = np.random.default_rng(6)
    ref = rng.standard_normal((3, 3000, 2))
    est = ref + 0.5 * rng.standard_normal(ref.shape)
    ours = fb.bss_eval(ref, est, 1000, 1000, filters_len=64)
    theirs = _museval(ref, est, window=1000, hop=1000, filters_len=64)
    for a, b in zip(ours[:4], theirs[:4], strict=True):
        assert np.allclose(a, b, atol=1e-8)
