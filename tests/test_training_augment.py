"""The "record" augmentation: stems still sum to the mixture, shapes/dtypes, finiteness,
determinism, the mix bus's effect on loudness and crest factor, and ``augment = "none"``
leaving the examples as they were."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from separate.errors import UsageError
from separate.training import TrainConfig
from separate.training.augment import RecordAugment, bus_gain
from separate.training.data import StemsDataset, find_tracks
from separate.training.loop import _record

SOURCES = ["vocals", "drums", "bass", "other"]
SR = 16000
SEGMENT = 8000  # 0.5 s


def make_corpus(root: Path, tracks: int = 2, seconds: float = 1.0) -> Path:
    """Tracks of decaying tones, clicks and noise (deterministic)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    for k in range(tracks):
        d = root / "train" / f"track{k}"
        d.mkdir(parents=True)
        for i, s in enumerate(SOURCES):
            f0 = 110 * (i + 1) * (1 + 0.1 * k)
            env = np.exp(-8 * (t % 0.25))  # four notes a second
            x = 0.2 * env * np.sin(2 * np.pi * f0 * t) + 0.02 * rng.standard_normal(t.shape)
            sf.write(str(d / f"{s}.wav"), np.stack([x, 0.8 * x], 1).astype(np.float32), SR,
                     subtype="FLOAT")
    return root


@pytest.fixture(scope="module")
def tracks(tmp_path_factory):
    return find_tracks(make_corpus(tmp_path_factory.mktemp("aug")), SOURCES, "train")


def dataset(tracks, record=None, augment=True, **kw) -> StemsDataset:
    return StemsDataset(tracks, SOURCES, SEGMENT, 2, examples=8, augment=augment, seed=3,
                        record=record, **kw)


RECORD = RecordAugment(SR, stem_prob=1.0, bus_prob=1.0)


def test_augmented_stems_sum_to_the_mixture_with_shapes_dtypes_and_no_nan(tracks):
    plain, aug = dataset(tracks), dataset(tracks, RECORD)
    for i in range(4):
        mix, src = aug[i]
        mix0, src0 = plain[i]
        assert src.shape == src0.shape == (4, 2, SEGMENT) and mix.shape == mix0.shape
        assert src.dtype == mix.dtype == torch.float32
        assert torch.isfinite(src).all()
        torch.testing.assert_close(src.sum(0), mix, rtol=0, atol=0)  # the mixture IS the sum
        assert not torch.equal(src, src0)  # and the effects did something
        assert float(mix.abs().max()) <= 10 ** (-0.3 / 20) + 1e-6  # the limiter's ceiling


def test_the_augmentation_is_deterministic_for_a_seed_and_epoch(tracks):
    a, b = dataset(tracks, RECORD), dataset(tracks, RECORD)
    for i in (0, 5):
        assert torch.equal(a[i][1], b[i][1])
    assert not torch.equal(a[0][1], a[1][1])
    a.set_epoch(1)
    assert not torch.equal(a[0][1], b[0][1])  # new draws every epoch


# sha1 of the float32 bytes of dataset(tracks)[0..2]'s sources, computed with the data.py of
# commit 880fd65 (before the augmentation existed)
BEFORE = "efc74639f6706abf7584c1f99ade0bf755149f87"


def _digest(ds: StemsDataset) -> str:
    h = hashlib.sha1()
    for i in range(3):
        h.update(ds[i][1].numpy().tobytes())
    return h.hexdigest()


def test_augment_none_leaves_the_examples_as_before(tracks):
    assert _record(TrainConfig()) is None  # the default is "none"
    assert _digest(dataset(tracks)) == BEFORE
    # its draws are a stream of their own: a record augmentation that never fires changes
    # nothing, and validation (augment off) is never augmented
    idle = RecordAugment(SR, stem_prob=0.0, bus_prob=0.0)
    assert _digest(dataset(tracks, idle)) == BEFORE
    for i in range(2):
        assert torch.equal(dataset(tracks, RECORD, augment=False)[i][1],
                           dataset(tracks, augment=False)[i][1])


def test_the_bus_raises_loudness_lowers_the_crest_factor_and_keeps_the_ceiling():
    rng = np.random.default_rng(1)
    t = np.arange(SR) / SR
    quiet = 0.02 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    clicks = np.zeros_like(t)
    clicks[rng.integers(0, len(t), 12)] = 0.5  # peaks far above the body: a high crest factor
    mix = np.stack([quiet + clicks, quiet - clicks]).astype(np.float32)

    def crest(x):
        return np.abs(x).max() / np.sqrt(np.mean(x ** 2))

    for seed in range(5):
        g = bus_gain(mix, SR, random.Random(seed))
        assert g.shape == (SR,) and g.dtype == np.float32 and np.isfinite(g).all()
        out = mix * g
        assert np.sqrt(np.mean(out ** 2)) > 4 * np.sqrt(np.mean(mix ** 2))
        assert crest(out) < 0.5 * crest(mix)
        assert np.abs(out).max() <= 10 ** (-0.3 / 20) * (1 + 1e-6)
    assert np.array_equal(bus_gain(np.zeros((2, 100), np.float32), SR, random.Random(0)),
                          np.ones(100, np.float32))


def test_the_bus_on_the_stems_is_the_bus_on_their_sum(tracks):
    stems = dataset(tracks)[0][1].numpy()
    out = RECORD.bus(stems, random.Random(7))
    g = bus_gain(stems.sum(0), SR, random.Random(7))
    assert not np.allclose(g, g[0])  # a gain curve, not a constant
    np.testing.assert_allclose(out.sum(0), stems.sum(0) * g, rtol=0, atol=1e-6)


def test_stems_keep_their_rms_through_the_effects(tracks):
    aug = RecordAugment(SR, stem_prob=1.0, bus_prob=0.0)
    plain = dataset(tracks)
    for i in range(3):
        x = plain[i][1].numpy()
        y = aug.stems(x, SOURCES, random.Random(i))
        rms = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=(1, 2)))
        np.testing.assert_allclose(np.sqrt(np.mean(y.astype(np.float64) ** 2, axis=(1, 2))),
                                   rms, rtol=1e-4)


def test_a_tempo_change_keeps_the_length_and_the_sum(tracks):
    ds = dataset(tracks, RecordAugment(SR, stem_prob=0.0, bus_prob=1.0, stretch_prob=1.0))
    mix, src = ds[0]
    assert src.shape == (4, 2, SEGMENT) and torch.isfinite(src).all()
    assert torch.equal(src.sum(0), mix)


def test_bad_augment_options_are_refused():
    with pytest.raises(UsageError, match="augment = 'records'"):
        _record(TrainConfig(augment="records"))
    with pytest.raises(UsageError, match="bus_prob"):
        _record(TrainConfig(augment="record", bus_prob=1.5))
    assert isinstance(_record(TrainConfig(augment="record")), RecordAugment)


def test_training_augments_training_examples_only(tmp_path, one_torch_thread, monkeypatch):
    import json

    from separate.training import train

    calls = []
    real_call = RecordAugment.__call__

    def spy(self, stems, *args, **kw):
        calls.append(stems.shape)
        return real_call(self, stems, *args, **kw)

    monkeypatch.setattr(RecordAugment, "__call__", spy)
    data = make_corpus(tmp_path / "data")
    (data / "valid").symlink_to(data / "train")
    cfg = TrainConfig(data=[str(data)], out=str(tmp_path / "run"), sample_rate=SR,
                      args={"n_fft": 256, "hop": 64, "bins": 64, "channels": [4, 4, 8, 8, 8, 8]},
                      epochs=1, examples=2, valid_examples=2, batch_size=2, segment=0.25,
                      workers=0, threads=1, augment="record", augment_prob=1.0, bus_prob=1.0)
    result = train(cfg)
    assert np.isfinite(result["history"][0]["train_loss"])
    assert len(calls) == 2  # the 2 training examples; the 2 validation ones are not augmented
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["augment"], saved["augment_prob"], saved["bus_prob"]) == ("record", 1.0, 1.0)
