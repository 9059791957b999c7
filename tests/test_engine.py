"""The overlap-add engine: perfect reconstruction, chunk counts, seams, resampling, channels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from separate.engine import OverlapAdd, StreamSeparator, chunk_window, total_chunks
from separate.nets.simple import IdentityModel, TinyConvModel


def identity_model(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(1)


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(1, 3000),
    segment=st.integers(8, 700),
    overlap=st.floats(0.0, 0.9),
    batch=st.integers(1, 5),
    block=st.integers(1, 1000),
    window=st.sampled_from(["taper", "triangle", "rect"]),
    margin=st.integers(0, 300),
    align=st.sampled_from([1, 1, 32]),
)
def test_identity_reconstructs_exactly(length, segment, overlap, batch, block, window, margin,
                                       align):
    rng = np.random.default_rng(length)
    x = rng.standard_normal((1, 2, length)).astype(np.float32)
    calls = []
    ola = OverlapAdd(identity_model, 1, segment, overlap, batch, window=window,
                     on_chunks=calls.append, margin=margin, align=align)
    blocks = [x[..., i:i + block] for i in range(0, length, block)]
    y = np.concatenate(list(ola.run(blocks)), axis=-1)
    assert y.shape == (1, 1, 2, length)
    np.testing.assert_allclose(y[:, 0], x, atol=1e-5)
    assert sum(calls) == total_chunks(length, segment, overlap, align=align)


def test_window_is_positive_and_sums_to_one_in_the_interior():
    w = chunk_window(100, 75)
    assert (w > 0).all()
    acc = np.zeros(100 + 75 * 5)
    for k in range(6):
        acc[75 * k: 75 * k + 100] += w
    np.testing.assert_allclose(acc[100:75 * 5], 1.0, atol=1e-6)


def test_stream_memory_does_not_hold_the_whole_input():
    """Outputs must come out before the input ends (streaming), not all at the end."""
    seen_inputs = []
    x = np.zeros((1, 1, 10_000), np.float32)

    def blocks():
        for i in range(0, 10_000, 500):
            seen_inputs.append(i)
            yield x[..., i:i + 500]

    ola = OverlapAdd(identity_model, 1, 1000, 0.25, 1)
    first_output_after = None
    for _ in ola.run(blocks()):
        first_output_after = len(seen_inputs)
        break
    assert first_output_after is not None and first_output_after < 10


@pytest.mark.parametrize("in_ch,model_ch,sr,model_sr", [
    (2, 2, 44100, 44100), (1, 2, 44100, 44100), (2, 1, 44100, 44100), (2, 2, 48000, 44100),
    (1, 1, 16000, 22050)])
def test_stream_separator_lengths_channels_and_resampling(in_ch, model_ch, sr, model_sr):
    model = IdentityModel(["a", "b"], sample_rate=model_sr, audio_channels=model_ch)
    t = np.arange(sr) / sr  # one second of a 440 Hz tone: inside every band
    x = np.stack([np.sin(2 * np.pi * 440 * t + c) for c in range(in_ch)]).astype(np.float32)
    sep = StreamSeparator(model, segment=0.3, overlap=0.25, batch_size=2)
    pairs = list(sep.run([x[:, i:i + 7000] for i in range(0, sr, 7000)], sr, in_ch))
    mix = np.concatenate([p[0] for p in pairs], axis=-1)
    stems = np.concatenate([p[1] for p in pairs], axis=-1)
    assert stems.shape == (2, in_ch, sr)
    np.testing.assert_array_equal(mix, x)
    # identity halves: each stem is half the input (resampling round trip of a 440 Hz tone)
    err = np.abs(stems.sum(0) - x)[:, 200:-200].max()
    assert err < (1e-5 if sr == model_sr else 2e-3)


def test_seams_chunked_equals_single_pass_for_a_network():
    """Chunked output of a (random) network against one pass over the whole clip."""
    torch.manual_seed(0)
    model = TinyConvModel(sample_rate=8000).eval()
    x = np.random.default_rng(1).standard_normal((1, 2, 8000 * 3)).astype(np.float32)
    with torch.inference_mode():
        ref = model(torch.from_numpy(x[0])[None]).numpy()[0]
    ola = OverlapAdd(model, 4, 4000, 0.25, 2)
    y = np.concatenate(list(ola.run([x])), axis=-1)[0]
    sdr = 10 * np.log10((ref**2).sum() / ((ref - y) ** 2).sum())
    assert sdr > 30, sdr


@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 5000), segment=st.integers(64, 900), overlap=st.floats(0.0, 0.8),
       align=st.sampled_from([1, 16, 64]))
def test_aligned_plan_reconstructs_and_starts_on_the_grid(length, segment, overlap, align):
    starts: list[int] = []

    def model(x):  # the signal is the sample index, so a chunk's first value is its start
        starts.extend(int(v) for v in x[:, 0, 0])
        return x.unsqueeze(1)

    x = np.arange(length, dtype=np.float32).reshape(1, 1, length)
    ola = OverlapAdd(model, 1, segment, overlap, 2, align=align)
    y = np.concatenate(list(ola.run([x])), axis=-1)
    np.testing.assert_allclose(y[:, 0], x, rtol=1e-6)
    assert ola.hop % align == 0
    assert all(s % align == 0 for s in starts), starts
    assert len(starts) == total_chunks(length, segment, overlap, align=align)
