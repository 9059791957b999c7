"""The engine's per-chunk conditioning: every chunk gets the slice of each conditioning signal that
covers its samples, whatever the chunk plan, block size and batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from separate.engine import Conditioning, OverlapAdd


@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 3000), segment=st.integers(16, 700), overlap=st.floats(0.0, 0.8),
       batch=st.integers(1, 4), block=st.integers(1, 900), align=st.sampled_from([1, 32]),
       window=st.sampled_from(["taper", "triangle"]))
def test_sample_rate_conditioning_is_sliced_with_the_chunks(length, segment, overlap, batch,
                                                            block, align, window):
    rng = np.random.default_rng(length)
    x = rng.standard_normal((2, 1, length)).astype(np.float32)  # G = 2 signals share the gain
    gain = rng.uniform(0.5, 2.0, (1, length)).astype(np.float32)

    def model(chunk, g):  # [B, 1, L] * [B, 1, L]: right only when g covers the chunk's samples
        assert g.shape == chunk.shape
        return (chunk * g).unsqueeze(1)

    ola = OverlapAdd(model, 1, segment, overlap, batch, window=window, align=align,
                     conditioning=[Conditioning(gain)])
    y = np.concatenate(list(ola.run([x[..., i:i + block] for i in range(0, length, block)])),
                       axis=-1)
    np.testing.assert_allclose(y[:, 0], x * gain[None], rtol=1e-5, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(length=st.integers(1, 4000), segment=st.integers(64, 900), overlap=st.floats(0.0, 0.8),
       align=st.sampled_from([16, 64]))
def test_frame_conditioning_gives_a_chunk_its_own_centred_frames(length, segment, overlap, align):
    hop = 16
    n_frames = length // hop + 1
    frames = (np.arange(n_frames, dtype=np.float32) * hop)[None]  # frame n holds its sample

    def model(chunk, f):  # the signal is the sample index; f must hold the chunk's own frames
        assert f.shape[-1] == chunk.shape[-1] // hop + 1
        start = chunk[:, 0, 0]
        torch.testing.assert_close(f[:, 0, 0], start)  # first frame = the chunk's start
        idx = torch.arange(chunk.shape[-1]) // hop
        return f[:, :, idx].unsqueeze(1)  # [B, 1, 1, L]: each sample's frame value

    x = np.arange(length, dtype=np.float32).reshape(1, 1, length)
    ola = OverlapAdd(model, 1, segment, overlap, 2, align=align,
                     conditioning=[Conditioning(frames, hop, centred=True)])
    y = np.concatenate(list(ola.run([x])), axis=-1)
    expected = (np.arange(length) // hop * hop).astype(np.float32)
    np.testing.assert_allclose(y[0, 0, 0], expected, rtol=1e-6)


def test_conditioning_frames_outside_the_signal_are_zeros():
    c = Conditioning(np.arange(1, 5, dtype=np.float32)[None], hop=2, centred=True)
    np.testing.assert_array_equal(c.slice(4, 6), [[3, 4, 0, 0]])
    np.testing.assert_array_equal(Conditioning(np.ones((2, 3))).slice(2, 3), [[1, 0, 0]] * 2)
    with pytest.raises(ValueError, match="grid"):
        c.slice(3, 4)


def test_frame_conditioning_needs_chunks_on_its_grid():
    f = [Conditioning(np.zeros((1, 10), np.float32), hop=16, centred=True)]
    with pytest.raises(ValueError, match="align"):
        OverlapAdd(lambda x, c: x[:, None], 1, 256, 0.25, conditioning=f)
    with pytest.raises(ValueError, match="align"):
        OverlapAdd(lambda x, c: x[:, None], 1, 256, 0.25, plan="demucs", conditioning=f)
    OverlapAdd(lambda x, c: x[:, None], 1, 256, 0.25, align=32, conditioning=f)  # on the grid
