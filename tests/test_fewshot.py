"""Few-shot model (separate.nets.fewshot), episodes (separate.fewshot.data), loss and training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from separate.fewshot.data import (
    EpisodeSampler,
    Track,
    Voice,
    activity,
    load_split,
    read_stems_json,
)
from separate.fewshot.loss import fewshot_loss, sdr_loss
from separate.fewshot.toy import make_toy_corpus
from separate.fewshot.train import TrainConfig, build_model, step_loss, train
from separate.nets import check_contract
from separate.nets.fewshot import (
    ClassConditionedSeparator,
    ConditioningEncoder,
    FewShotSeparator,
)
from separate.synth.classes import CLASSES

SR = 22050
SMALL = dict(channels=[4, 8, 8, 8, 8, 8], filters=8, n_mels=32)


# one intra-op thread (conftest): small tensors, shared 2-core machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_model(**kw) -> FewShotSeparator:
    torch.manual_seed(0)
    return FewShotSeparator(**{**SMALL, **kw}).eval()


def calibrate(m: FewShotSeparator) -> None:
    """Set batch-norm statistics from random data, as training would (else a random network's
    activations shrink layer after layer and conditioning has no visible effect)."""
    for mod in m.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.momentum = None  # cumulative average
    m.train()
    with torch.no_grad():
        g = torch.Generator().manual_seed(0)
        z = m.conditioning(torch.randn(4, 2, SR, generator=g))
        m.unet(torch.randn(4, 2 * SR, generator=g), z)
    m.eval()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_toy_corpus(tmp_path_factory.mktemp("toy"), tracks=(5, 2, 2), seconds=8.0)


# -- the network --------------------------------------------------------------------------------


def test_paper_sizes():
    """Sec. 2: 6 encoder layers 16..512, 512-d embedding, 18 one-hot classes."""
    m = FewShotSeparator()
    assert [layer[0].out_channels for layer in m.unet.encoder] == [16, 32, 64, 128, 256, 512]
    assert [layer[0].kernel_size for layer in m.unet.encoder] == [(5, 5)] * 6
    assert m.cond_dim == 512
    assert m.unet.gamma.in_features == 512 and m.unet.gamma.out_features == 512
    enc = ConditioningEncoder()
    assert enc(torch.randn(3, 1, 128, 40)).shape == (3, 512)
    b = ClassConditionedSeparator(classes=CLASSES)
    assert len(CLASSES) == 18 and b.unet.gamma.in_features == 18


def test_contract_shapes_and_residual():
    m = small_model(sources=["sax", "residual"])
    check_contract(m)
    assert m.sample_rate == 22050 and m.audio_channels == 1 and m.sources == ["sax", "residual"]
    with pytest.raises(RuntimeError, match="condition"):
        m(torch.randn(1, 1, SR))
    m.condition([torch.randn(SR * 3), torch.randn(SR)])
    x = torch.randn(2, 1, 3 * SR + 17)
    y = m(x)
    assert y.shape == (2, 2, 1, x.shape[-1])
    torch.testing.assert_close(y.sum(1), x, atol=1e-5, rtol=0)
    names = [n for n, _ in m.stages()]
    assert names == ["C", *[f"L{i}" for i in range(1, 7)], "M", *[f"D{i}" for i in range(1, 7)]]
    staged = {id(p) for _, ps in m.stages() for p in ps}
    assert staged == {id(p) for p in m.parameters()}


def test_conditioning_changes_output_and_is_order_invariant():
    m = small_model()
    calibrate(m)
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(SR, generator=g), torch.sin(torch.arange(SR) * 0.3)
    x = torch.randn(1, 1, 2 * SR, generator=g)
    m.condition([a, b])
    y1 = m(x)
    m.condition([b, a])  # the mean over examples does not depend on their order
    torch.testing.assert_close(m(x), y1)
    m.condition([b])
    assert not torch.allclose(m(x), y1, atol=1e-4)


def test_mask_bounded_estimate_never_louder_per_bin():
    """|M| < 1: the estimate's compressed magnitude never exceeds the mixture's in any bin."""
    m = small_model()
    m.condition([torch.randn(SR)])
    x = torch.randn(1, 3 * SR)
    with torch.no_grad():
        _, Y = m.unet.separate_spec(x, m._z)
        X = m.unet.spec.stft(x)
    assert (Y.abs() <= X.abs() + 1e-4).all()


def test_negatives_and_batched_conditioning_match_cached():
    m = small_model(negatives=True)
    pos, neg = torch.randn(1, 2, SR), torch.randn(1, 3, SR)
    z_batch = m.conditioning(pos, None, neg, None)
    z_cached = m.condition(list(pos[0]), list(neg[0]))
    torch.testing.assert_close(z_batch, z_cached)
    # padding masks: a padded third positive must not change z
    padded = torch.cat([pos, torch.randn(1, 1, SR)], 1)
    mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(m.conditioning(padded, mask, neg, None), z_batch)
    assert z_batch.min() >= 0  # FC + ReLU (Sec. 3.5)


def test_class_baseline():
    torch.manual_seed(0)
    b = ClassConditionedSeparator(classes=CLASSES, channels=SMALL["channels"]).eval()
    check_contract(b)
    with pytest.raises(ValueError, match="unknown class"):
        b.condition("kazoo")
    b.condition("piano")
    assert b._z.argmax().item() == CLASSES.index("piano")
    assert b(torch.randn(1, 1, SR)).shape == (1, 2, 1, SR)


def test_example_too_short():
    m = small_model()
    with pytest.raises(ValueError, match="at least"):
        m.condition([torch.randn(1000)])


# -- loss ---------------------------------------------------------------------------------------


def test_sdr_loss_values():
    s = torch.randn(2, 1000)
    assert sdr_loss(s + 0.1 * s, s).item() == pytest.approx(-20.0, abs=1e-3)
    assert sdr_loss(s, s).item() < -60
    loss, parts = fewshot_loss(s, s, small_model().unet.spec)
    assert parts["mag_l1"] == pytest.approx(0.0, abs=1e-5)


# -- data ---------------------------------------------------------------------------------------


def test_read_stems_json_shapes(tmp_path):
    p = tmp_path / "stems.json"
    for data in (
        {"voices": [{"file": "voice1.wav", "class": "piano"}, {"name": "voice2", "instrument":
                                                              "bass"}]},
        [{"file": "voice1.wav", "class": "piano"}, {"file": "voice2.wav", "class": "bass"}],
        {"voices": [{"voice": "voice1", "class": "piano"}, {"voice": "voice2", "class": "bass"},
                    {"voice": "voice3", "class": None}], "track": "x"},  # the ensemble corpus
        {"voice1": "piano", "voice2": {"class": "bass"}, "tempo": 120},
        {"stems": {"voice1": {"parts": [{"class": "piano"}, {"class": "piano"}]},
                   "voice2": {"parts": [{"class": "bass"}]},
                   "other": {"parts": [{"class": "guitar"}, {"class": "brass"}]}}},
    ):
        p.write_text(json.dumps(data))
        assert read_stems_json(p) == {"voice1": "piano", "voice2": "bass"}
    p.write_text(json.dumps({"tempo": 120}))
    with pytest.raises(ValueError, match="no voice classes"):
        read_stems_json(p)


def test_activity_threshold():
    a = np.zeros(SR * 4, dtype=np.float32)
    a[SR * 2 :] = 0.5
    act = activity(a, hop=SR // 2, segment=SR // 2)
    assert not act[:4].any() and act[4:].all()


def _toy_tracks(n=3, seconds=10.0):
    rng = np.random.default_rng(0)
    tracks = []
    hop, seg = int(0.25 * SR), 3 * SR
    for i in range(n):
        voices = []
        for j, cls in enumerate(["piano", "bass", "drums"]):
            # voice value = a unique code, so the test can see which voice and time a chunk is
            audio = (rng.uniform(0.5, 1.0) * (j + 1) + np.arange(int(seconds * SR)) / 1e7)
            audio = audio.astype(np.float32)
            voices.append(Voice(f"t{i}", f"voice{j}", cls, audio, activity(audio, hop, seg)))
        tracks.append(Track(f"t{i}", voices))
    return tracks


def test_episode_examples_do_not_overlap_target_and_held_out_is_absent():
    tracks = _toy_tracks()
    s = EpisodeSampler(tracks, held_out=["drums"], negatives=2, seed=3)
    for _ in range(30):
        e = s.sample()
        assert e.cls in ("piano", "bass") and 1 <= len(e.pos) <= 5
        tv = next(v for t in tracks if t.name == e.track for v in t.voices if v.cls == e.cls)
        for ex in e.pos:  # recover each example's start from the time ramp it carries
            i = int(np.argmin(np.abs(tv.audio - ex[0])))
            assert abs(i - e.start) >= 3 * SR
        # the mixture holds exactly target + the other non-held-out voice
        others = [v for t in tracks if t.name == e.track for v in t.voices
                  if v.cls not in (e.cls, "drums")]
        want = e.target + sum(o.audio[e.start : e.start + 3 * SR] for o in others)
        np.testing.assert_allclose(e.mix, want, rtol=1e-6)
        # negatives are chunks of a non-target, non-held-out instrument of the mixture
        assert len(e.neg) == 2
        for n in e.neg:
            assert any(np.isclose(n[0], o.audio).any() for o in others)
    b = s.batch(4)
    assert b["pos"].shape == (4, 5, 3 * SR) and b["pos_mask"].any(1).all()


def test_episode_examples_from_other_tracks():
    tracks = _toy_tracks()
    s = EpisodeSampler(tracks, examples_from="other", min_shots=3, max_shots=3, seed=1)
    for _ in range(10):
        e = s.sample()
        own = next(v for t in tracks if t.name == e.track for v in t.voices if v.cls == e.cls)
        for ex in e.pos:
            assert not np.isclose(ex[0], own.audio).any()  # not from the target's track


def test_load_split_reads_toy_corpus(corpus):
    tracks = load_split(corpus, "train")
    assert len(tracks) == 5
    assert all(v.audio.dtype == np.float32 and len(v.audio) == 8 * SR
               for t in tracks for v in t.voices)
    with pytest.raises(FileNotFoundError):
        load_split(corpus, "nope")


# -- training -----------------------------------------------------------------------------------


def test_toy_overfit_loss_decreases(corpus):
    """A few Adam steps on one fixed batch of toy episodes lower the loss (Sec. 3.2 setup)."""
    torch.manual_seed(0)
    cfg = TrainConfig(corpus=str(corpus), out="-", **SMALL, negatives=0)
    model = build_model(cfg)
    for m in model.modules():  # no dropout for a deterministic overfit
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    sampler = EpisodeSampler(load_split(corpus, "train"), max_shots=2, segment_s=1.5, seed=0)
    batch = sampler.batch(2)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    model.train()
    for _ in range(20):
        loss, _ = step_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 1.0, losses


def test_train_exports_loadable_card(corpus, tmp_path):
    import separate.nets.fewshot  # noqa: F401
    from separate.registry import load_model

    out = tmp_path / "fs.safetensors"
    cfg = TrainConfig(corpus=str(corpus), out=str(out), steps=2, batch_size=2, valid_every=1,
                      valid_batches=1, negatives=2, held_out=["drums"], **SMALL)
    r = train(cfg)
    assert r["steps"] == 2 and np.isfinite(r["best_valid"])
    assert out.is_file() and out.with_suffix(".toml").is_file()
    m = load_model(out.with_suffix(".toml"))
    assert isinstance(m, FewShotSeparator) and m.use_negatives
    assert 'subcommand = "fewshot"' in out.with_suffix(".toml").read_text()
    assert m.card.training["held_out"] == ["drums"]
    cfg_b = TrainConfig(corpus=str(corpus), out=str(tmp_path / "b.safetensors"), kind="class",
                        steps=1, batch_size=2, valid_every=1, valid_batches=1, **SMALL)
    train(cfg_b)
    assert isinstance(load_model(tmp_path / "b.toml"), ClassConditionedSeparator)


def test_same_class_voices_are_left_out_of_the_mixture():
    """One stem per class: a second voice of the target's class is not in the mixture."""
    tracks = _toy_tracks(n=1)
    t = tracks[0]
    t.voices[2].cls = "piano"  # two pianos now: voice0 and voice2
    s = EpisodeSampler(tracks, seed=0)
    for _ in range(5):
        e = s.sample(target=(0, 0))
        assert e.cls == "piano"
        bass = t.voices[1].audio[e.start : e.start + 3 * SR]
        np.testing.assert_allclose(e.mix, e.target + bass, rtol=1e-6)
