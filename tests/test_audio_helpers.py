"""The one audio path's helpers: STFT (torch only, exactly torch.stft as the sites called it),
the one resampler and the one channel policy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soxr
import torch

from separate.audio.channels import (
    downmix_to_stereo,
    from_model_channels,
    match_channels,
    to_model_channels,
    to_mono,
)
from separate.audio.resample import QUALITY, resample
from separate.audio.stft import hann_window, istft, stft

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("shape,n_fft,hop,dtype", [
    ((3000,), 2048, 256, torch.float32),         # f0 nmf, soft masks
    ((2, 5000), 1024, 256, torch.float32),       # few-shot Spectrogram, marks
    ((2, 2, 4000), 2048, 512, torch.float32),    # the U-Net, [B, C, T]
    ((3, 1000), 64, 16, torch.float64),          # multi-scale loss in float64
])
def test_stft_is_exactly_torch_stft_with_the_sites_arguments(shape, n_fft, hop, dtype):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0), dtype=dtype)
    win = torch.hann_window(n_fft, dtype=dtype)
    flat = x.reshape(-1, shape[-1]) if x.dim() > 2 else x
    ref = torch.stft(flat, n_fft, hop, window=win, center=True, return_complex=True)
    ref = ref.reshape(*shape[:-1], *ref.shape[-2:])
    spec = stft(x, n_fft, hop)
    assert spec.shape == (*shape[:-1], n_fft // 2 + 1, shape[-1] // hop + 1)
    assert torch.equal(spec, ref)
    flat_spec = ref.reshape(-1, *ref.shape[-2:]) if ref.dim() > 3 else ref
    back = torch.istft(flat_spec, n_fft, hop, window=win, length=shape[-1]).reshape(shape)
    assert torch.equal(istft(spec, n_fft, hop, shape[-1]), back)
    torch.testing.assert_close(back, x, rtol=1e-4, atol=1e-4)


def test_the_default_models_output_is_unchanged_by_the_helper(monkeypatch):
    """The embedded ``default`` U-Net through the helper against its previous STFT code."""
    from separate.nets.unet import ComplexUNet
    from separate.registry import load_model

    model = load_model("default").eval()
    x = torch.randn(1, 2, 22050, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.inference_mode():
        new = model(x)

    def old_stft(self, x):
        b, c, t = x.shape
        spec = torch.stft(x.reshape(b * c, t), self.n_fft, self.hop,
                          window=torch.hann_window(self.n_fft), center=True, return_complex=True)
        return spec.view(b, c, *spec.shape[-2:])

    def old_istft(self, spec, length):
        lead = spec.shape[:-2]
        y = torch.istft(spec.reshape(-1, *spec.shape[-2:]), self.n_fft, self.hop,
                        window=torch.hann_window(self.n_fft), center=True, length=length)
        return y.view(*lead, length)

    monkeypatch.setattr(ComplexUNet, "stft", old_stft)
    monkeypatch.setattr(ComplexUNet, "istft", old_istft)
    with torch.inference_mode():
        old = model(x)
    assert torch.equal(new, old)


def test_a_window_made_in_inference_mode_still_trains():
    with torch.inference_mode():
        stft(torch.randn(2000), 96, 24)  # first use of this size: cached here
    assert not hann_window(96).is_inference()
    x = torch.randn(2000, requires_grad=True)
    stft(x, 96, 24).abs().sum().backward()
    assert x.grad is not None


def test_importing_the_stft_helpers_and_nets_pulls_in_no_audio_io():
    code = ("import sys, separate.audio.stft, separate.nets.unet, separate.nets.source_filter; "
            "print(sorted(m for m in ('soundfile', 'soxr', 'separate.audio.io') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_resample_is_soxr_at_the_one_quality_rowwise():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4410)).astype(np.float32)
    y = resample(x, 44100, 16000)
    assert y.dtype == np.float32 and y.shape == (2, 1600)
    np.testing.assert_array_equal(y[0], soxr.resample(x[0], 44100, 16000, quality=QUALITY))
    np.testing.assert_allclose(y[1], resample(x[1], 44100, 16000), atol=1e-6)
    np.testing.assert_array_equal(resample(x, 16000, 16000), x)
    assert resample(np.zeros((2, 0), np.float32), 44100, 16000).shape == (2, 0)
    with pytest.raises(ValueError, match="positive"):
        resample(x, 0, 16000)


def test_channel_policy():
    st = np.stack([np.ones(4), -np.ones(4)]).astype(np.float32)
    mono = np.arange(4, dtype=np.float32)[None]
    np.testing.assert_array_equal(to_mono(st), np.zeros(4))
    np.testing.assert_array_equal(match_channels(mono, 2), np.repeat(mono, 2, 0))
    np.testing.assert_array_equal(match_channels(st, 1), np.zeros((1, 4)))
    assert match_channels(np.ones((6, 4)), 2).shape == (2, 4)
    with pytest.raises(ValueError):
        match_channels(st, 6)
    surround = np.eye(6, dtype=np.float32)  # 5.1, one impulse per channel
    d = downmix_to_stereo(surround)
    assert d[0, 3] == 0 and d[1, 3] == 0  # LFE dropped
    assert d[0, 2] == pytest.approx(d[1, 2]) and abs(d).sum(axis=0).max() <= 1 + 1e-6
    # a stereo file through a mono model: each channel its own signal, and back
    g = to_model_channels(st, 1)
    assert g.shape == (2, 1, 4)
    y = np.stack([g, 2 * g], axis=1)  # [G, S=2, 1, n]
    np.testing.assert_array_equal(from_model_channels(y, 2, 1), np.stack([st, 2 * st]))
    # a mono file through a stereo model: duplicated in, averaged out
    g = to_model_channels(mono, 2)
    assert g.shape == (1, 2, 4)
    np.testing.assert_array_equal(from_model_channels(g[:, None], 1, 2), mono[None])
