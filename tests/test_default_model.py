"""The embedded `default` model: loads offline, honours the contract, chunking leaves no seams."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from separate.registry import builtin_models_dir, load_model
from tests.conftest import ROCK, require_shared

CARD = builtin_models_dir() / "default.toml"
pytestmark = pytest.mark.skipif(not CARD.is_file(), reason="models/default.toml not trained yet")


def test_default_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    model = load_model("default")
    assert model.sources == ["vocals", "drums", "bass", "other"]
    assert model.sample_rate == 44100 and model.audio_channels == 2


def test_chunked_and_single_pass_agree_on_a_20s_clip():
    """Acceptance 3 of the foundation issue: >= 30 dB SDR of one against the other."""
    from separate import Separator

    require_shared(ROCK)
    mix, sr = sf.read(str(ROCK / "mixture.flac"), dtype="float32", always_2d=True)
    x = np.concatenate([mix.T] * 3, axis=1)[:, : 20 * sr]  # 20 s of real music
    sep = Separator("default", device="cpu")
    chunked = sep.separate_tensor(x, sr, residual=False)
    with torch.inference_mode():
        single = sep.model(torch.from_numpy(x)[None])[0]
    for i, name in enumerate(sep.sources):
        ref = single[i].numpy()
        est = chunked[name].numpy()
        sdr = 10 * np.log10((ref**2).sum() / ((ref - est) ** 2).sum())
        assert sdr >= 30, f"{name}: chunked vs single pass {sdr:.1f} dB"
