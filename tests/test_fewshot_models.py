"""The embedded few-shot models (models/fewshot*.toml): found by name without network, small,
and they run on a short input through the CLI's code path."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from separate.fewshot import fewshot_file, load_fewshot_model, parse_example
from separate.registry import find_card, verify_file
from tests.conftest import write_tone

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name, arch", [("fewshot", "fewshot"), ("fewshot-neg", "fewshot"),
                                        ("fewshot-class", "fewshot-class")])
def test_card_is_embedded_small_and_verified(name, arch):
    card = find_card(name)
    assert card.arch == arch and card.sample_rate == 22050 and card.audio_channels == 1
    path = card.embedded_path
    assert path is not None and path.is_file() and path.stat().st_size <= 30 * 2**20
    verify_file(card, path.name, path, card.weights.sha256)  # raises on a mismatch
    t = card.training
    assert t["steps"] > 0 and t["cpu_seconds"] > 0 and "plucked strings" in t["held_out"]
    assert t["data"]["train"]["hours"] > 0 and t["data"]["valid"]["hours"] > 0


def test_default_model_extracts_from_a_short_mixture(tmp_path):
    """`separate fewshot MIX --example @A-B` with the default model: outputs at the input's
    rate and channels that sum to the mixture; conditioning changes the estimate."""
    mix = write_tone(tmp_path / "mix.wav", seconds=2.0, sr=44100, channels=2)
    rng = np.random.default_rng(1)
    noise = 0.1 * rng.standard_normal(mix.shape).astype(np.float32)
    sf.write(tmp_path / "mix.wav", (mix + noise).T, 44100)
    sf.write(tmp_path / "noise.wav", noise[0], 44100)
    a = fewshot_file(tmp_path / "mix.wav", [parse_example("@0-1")], out_dir=tmp_path / "a",
                     bit_depth="float")
    y, sr = sf.read(a["target"], always_2d=True)
    r, _ = sf.read(a["residual"], always_2d=True)
    assert sr == 44100 and y.shape == r.shape == (2 * 44100, 2)
    np.testing.assert_allclose(y + r, (mix + noise).T, atol=1e-4)
    assert np.isfinite(y).all()
    b = fewshot_file(tmp_path / "mix.wav", [parse_example(f"{tmp_path}/noise.wav")],
                     out_dir=tmp_path / "b", bit_depth="float")
    assert np.abs(sf.read(b["target"], always_2d=True)[0] - y).max() > 1e-3


def test_neg_and_class_models_condition():
    import torch

    neg = load_fewshot_model("fewshot-neg")
    assert neg.use_negatives
    g = torch.Generator().manual_seed(0)
    neg.condition([torch.randn(22050, generator=g)], [torch.randn(22050, generator=g)])
    base = load_fewshot_model("fewshot-class")
    base.condition("woodwinds")
    with torch.no_grad():
        out = base(torch.randn(1, 1, 22050, generator=g))
    assert out.shape == (1, 2, 1, 22050) and torch.isfinite(out).all()
