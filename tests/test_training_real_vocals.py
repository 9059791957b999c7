"""Real solo singing as the vocal stem of training excerpts (`separate train --real-vocals`):
the pool (files, folders, refusals), chunks (rate, level, pan, silences), the dataset swap, and
the CLI option end to end on tiny fake folders."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from separate.errors import UsageError
from separate.training.data import StemsDataset, find_tracks
from separate.training.real_solos import RealSolos, active_rms_db, find_voice_files
from tests.conftest import ROCK, require_shared
from tests.conftest import run_cli as run

SOURCES = ["vocals", "drums", "bass", "other"]
SR = 8000


def write_voice(path: Path, seconds: float, sr: int, freq: float = 300.0, amp: float = 0.1,
                silent_from: float | None = None) -> np.ndarray:
    """A mono 'voice' (a sine) at ``sr``, silent after ``silent_from`` seconds."""
    t = np.arange(int(seconds * sr)) / sr
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if silent_from is not None:
        x[int(silent_from * sr):] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr, subtype="PCM_16" if path.suffix == ".flac" else "FLOAT")
    return x


def make_corpus(root: Path, tracks: int = 2, seconds: float = 1.0) -> Path:
    """Synthetic-corpus stand-in: each stem a different sine (vocals at 2 kHz, never a voice)."""
    t = np.arange(int(seconds * SR)) / SR
    for split in ("train", "valid"):
        for k in range(tracks):
            d = root / split / f"track{k}"
            d.mkdir(parents=True)
            for i, s in enumerate(SOURCES):
                x = 0.2 * np.sin(2 * np.pi * (2000 if s == "vocals" else 100 * (i + 1)) * t)
                sf.write(str(d / f"{s}.wav"), np.stack([x, x], 1).astype(np.float32), SR,
                         subtype="FLOAT")
    return root


def peak_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * sr / len(x))


def test_pool_takes_files_and_folders_and_refuses_multitracks(tmp_path):
    write_voice(tmp_path / "csd" / "a.flac", 1.0, 16000)
    write_voice(tmp_path / "csd" / "sub" / "b.wav", 1.0, 22050)
    write_voice(tmp_path / "single.wav", 1.0, SR)
    (tmp_path / "csd" / "notes.csv").write_text("not audio")
    found = find_voice_files([tmp_path / "csd", tmp_path / "single.wav"])
    assert [p.name for p in found] == ["a.flac", "b.wav", "single.wav"]
    # a vocals stem beside a mixture is a multitrack: evaluation material, refused
    track = tmp_path / "musdb" / "Some Song"
    write_voice(track / "vocals.wav", 1.0, SR)
    write_voice(track / "mixture.wav", 1.0, SR)
    for bad in (track / "vocals.wav", tmp_path / "musdb"):
        with pytest.raises(UsageError, match="multitrack"):
            find_voice_files([bad])
    with pytest.raises(UsageError, match="not found"):
        find_voice_files([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no WAV/FLAC"):
        find_voice_files([tmp_path / "empty"])
    write_voice(tmp_path / "quiet" / "zero.wav", 0.5, SR, amp=0.0)
    with pytest.raises(UsageError, match="silent"):
        RealSolos([tmp_path / "quiet"])


def test_the_real_evaluation_clip_is_refused():
    rock = require_shared(ROCK)
    with pytest.raises(UsageError, match="multitrack"):
        RealSolos([rock])
    with pytest.raises(UsageError, match="multitrack"):
        RealSolos([rock.parent])


def test_chunks_are_resampled_levelled_panned_and_keep_silences(tmp_path):
    write_voice(tmp_path / "v16k.wav", 2.0, 16000, freq=300.0, amp=0.05)
    pool = RealSolos([tmp_path / "v16k.wav"], sample_rate=44100, level_db=-20.0, pan=0.3,
                      gain_db=3.0)
    assert pool.seconds == pytest.approx(2.0)
    rng = random.Random(0)
    for _ in range(5):
        x = pool.chunk(rng, 22050)
        assert x.shape == (2, 22050) and x.dtype == np.float32
        assert peak_hz(x[0], 44100) == pytest.approx(300.0, abs=3.0)  # pitch kept by soxr
        level = active_rms_db(x.mean(0), 44100)
        assert -20 - 3 - 1 <= level <= -20 + 3 + 1  # levelled, then ±3 dB gain, pan ≤ 0.3
        ratio_db = 20 * np.log10(np.sqrt(np.mean(x[0] ** 2) / np.mean(x[1] ** 2)))
        assert abs(ratio_db) < 20 * np.log10(np.tan((1 + 0.3) * np.pi / 4)) + 0.01
    # silences of the recording come through (and chunks longer than the file are padded)
    write_voice(tmp_path / "gap" / "half.wav", 1.0, SR, silent_from=0.5)
    pool = RealSolos([tmp_path / "gap"], sample_rate=SR)
    x = pool.chunk(random.Random(1), 2 * SR)
    assert np.abs(x[:, int(0.55 * SR):]).max() == 0 and np.abs(x[:, : int(0.45 * SR)]).max() > 0


def test_dataset_swaps_only_the_vocal_stem_and_mixture_is_the_sum(tmp_path):
    tracks = find_tracks(make_corpus(tmp_path / "data"), SOURCES, "train")
    write_voice(tmp_path / "voices" / "v.wav", 3.0, 16000, freq=300.0)
    pool = RealSolos([tmp_path / "voices"], sample_rate=SR)
    kw = dict(segment=SR // 2, channels=2, examples=40, augment=True, seed=3)
    plain = StemsDataset(tracks, SOURCES, **kw)
    half = StemsDataset(tracks, SOURCES, real_vocals=pool, real_vocals_prob=0.5, **kw)
    never = StemsDataset(tracks, SOURCES, real_vocals=pool, real_vocals_prob=0.0, **kw)
    swapped = 0
    for ds in (plain, half, never):
        ds.set_epoch(2)
    for i in range(len(plain)):
        mix_p, src_p = plain[i]
        mix_h, src_h = half[i]
        mix_n, src_n = never[i]
        assert np.array_equal(src_n.numpy(), src_p.numpy())
        np.testing.assert_allclose(mix_h.numpy(), src_h.sum(0).numpy(), atol=1e-6)
        # drums, bass, other: the very same excerpts as without real vocals
        assert np.array_equal(src_h[1:].numpy(), src_p[1:].numpy())
        if not np.array_equal(src_h[0].numpy(), src_p[0].numpy()):
            swapped += 1
            assert peak_hz(src_h[0, 0].numpy(), SR) == pytest.approx(300.0, abs=20)
        else:
            assert peak_hz(src_h[0, 0].numpy(), SR) == pytest.approx(2000.0, abs=20)
    assert 8 <= swapped <= 32  # ~Binomial(40, 0.5)
    # a real-singer validation set (no augmentation, probability 1): every excerpt's vocal
    # stem is real singing, the other stems are the plain validation excerpts, and the
    # excerpts are the same every epoch
    plain_valid = StemsDataset(tracks, SOURCES, SR // 2, 2, 6, augment=False)
    valid = StemsDataset(tracks, SOURCES, SR // 2, 2, 6, augment=False, real_vocals=pool,
                         real_vocals_prob=1.0)
    first = [valid[i][1].numpy() for i in range(len(valid))]
    valid.set_epoch(5)
    for i in range(len(valid)):
        src = valid[i][1].numpy()
        assert peak_hz(src[0, 0], SR) == pytest.approx(300.0, abs=20)
        assert np.array_equal(src[1:], plain_valid[i][1][1:].numpy())
        assert np.array_equal(src, first[i])
    with pytest.raises(UsageError, match="vocals"):
        StemsDataset(tracks, ["drums", "bass"], SR // 2, real_vocals=pool, real_vocals_prob=0.5)


def test_cli_trains_with_real_vocals_and_refuses_evaluation_tracks(tmp_path, capsys,
                                                                   one_torch_thread):
    data = make_corpus(tmp_path / "data")
    write_voice(tmp_path / "voices" / "a.wav", 2.0, 16000)
    write_voice(tmp_path / "more.flac", 2.0, 22050)
    cfg = tmp_path / "train.toml"
    cfg.write_text('args = { n_fft = 256, hop = 64, bins = 64, channels = [4, 4, 8, 8, 8, 8] }\n'
                   "sample_rate = 8000\nexamples = 4\nvalid_examples = 2\nbatch_size = 2\n"
                   "segment = 0.5\nworkers = 0\nthreads = 1\nmax_steps = 2\n"
                   f'real_vocals = ["{tmp_path / "voices"}"]\n')
    code, out, err = run(["train", "--data", str(data), "--out", str(tmp_path / "run"),
                          "--config", str(cfg), "--epochs", "1",
                          "--real-vocals", str(tmp_path / "voices"),
                          "--real-vocals", str(tmp_path / "more.flac"),
                          "--real-vocals-prob", "0.75"], capsys)
    assert code == 0, err
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["real_vocals"] == [str(tmp_path / "voices"), str(tmp_path / "more.flac")]
    assert saved["real_vocals_prob"] == 0.75
    assert json.loads(out)["best_epoch"] == 1
    # the TOML key alone works too, with the default probability
    code, _, err = run(["train", "--data", str(data), "--out", str(tmp_path / "run2"),
                        "--config", str(cfg), "--epochs", "1"], capsys)
    assert code == 0, err
    saved = json.loads((tmp_path / "run2" / "config.json").read_text())
    assert saved["real_vocals"] == [str(tmp_path / "voices")]
    assert saved["real_vocals_prob"] == 0.5
    # a multitrack folder (stems of a track, like an evaluation clip) is a usage error, exit 2
    code, _, err = run(["train", "--data", str(data), "--out", str(tmp_path / "run3"),
                        "--config", str(cfg), "--real-vocals", str(data / "valid" / "track0")],
                       capsys)
    assert code == 2 and "multitrack" in err


def test_real_singer_validation_is_held_out_and_can_select_the_best_epoch(tmp_path,
                                                                          one_torch_thread):
    from separate.training import TrainConfig, train

    data = make_corpus(tmp_path / "data")
    write_voice(tmp_path / "train_voices" / "a.wav", 2.0, 16000, freq=300.0)
    write_voice(tmp_path / "held_out" / "b.wav", 2.0, 16000, freq=450.0)
    base = dict(data=[str(data)], args={"n_fft": 256, "hop": 64, "bins": 64,
                                        "channels": [4, 4, 8, 8, 8, 8]},
                sample_rate=SR, epochs=2, examples=4, valid_examples=2, batch_size=2,
                segment=0.5, workers=0, threads=1, real_vocals=[str(tmp_path / "train_voices")])
    result = train(TrainConfig(out=str(tmp_path / "run"), select="both",
                               valid_real_vocals=[str(tmp_path / "held_out")], **base))
    for h in result["history"]:
        assert set(h["valid_real"]) == {*SOURCES, "mean"}
        assert h["score"] == pytest.approx((h["valid"]["mean"] + h["valid_real"]["mean"]) / 2)
        assert h["valid_real"]["vocals"] != h["valid"]["vocals"]  # other vocal stems
    best = max(result["history"], key=lambda h: h["score"])
    assert result["best_epoch"] == best["epoch"]
    with pytest.raises(UsageError, match="held out of training"):
        train(TrainConfig(out=str(tmp_path / "r2"), valid_real_vocals=base["real_vocals"],
                          **base))
    with pytest.raises(UsageError, match="needs valid_real_vocals"):
        train(TrainConfig(out=str(tmp_path / "r3"), select="valid_real", **base))
    with pytest.raises(UsageError, match="one of valid, valid_real, both"):
        train(TrainConfig(out=str(tmp_path / "r4"), select="best", **base))


def test_real_instruments_are_added_to_the_other_stem_only(tmp_path):
    """Issue 14, lever 3: a real instrument chunk is added on top of the synthetic `other`
    stem; the other stems, and the synthetic `other` itself, are the excerpts of a run
    without it, and the mixture is still the sum."""
    tracks = find_tracks(make_corpus(tmp_path / "data"), SOURCES, "train")
    write_voice(tmp_path / "instruments" / "cello.wav", 3.0, 44100, freq=900.0)
    pool = RealSolos([tmp_path / "instruments"], sample_rate=SR, option="--real-other")
    kw = dict(segment=SR // 2, channels=2, examples=30, augment=True, seed=5)
    plain = StemsDataset(tracks, SOURCES, **kw)
    added = StemsDataset(tracks, SOURCES, real_other=pool, real_other_prob=0.5, **kw)
    changed = 0
    for i in range(len(plain)):
        _, src_p = plain[i]
        mix_a, src_a = added[i]
        np.testing.assert_allclose(mix_a.numpy(), src_a.sum(0).numpy(), atol=1e-6)
        assert np.array_equal(src_a[:3].numpy(), src_p[:3].numpy())
        extra = (src_a[3] - src_p[3]).numpy()
        if np.abs(extra).max() > 0:
            changed += 1
            assert peak_hz(extra[0], SR) == pytest.approx(900.0, abs=20)
    assert 5 <= changed <= 25  # ~Binomial(30, 0.5)
    with pytest.raises(UsageError, match="--real-other needs a `other` source"):
        StemsDataset(tracks, ["vocals", "drums"], SR // 2, real_other=pool, real_other_prob=0.5)
    with pytest.raises(UsageError, match="--real-other path not found"):
        RealSolos([tmp_path / "nope"], option="--real-other")


def test_held_out_instruments_validate_and_the_cli_takes_real_other(tmp_path, capsys,
                                                                     one_torch_thread):
    from separate.training import TrainConfig, train

    data = make_corpus(tmp_path / "data")
    write_voice(tmp_path / "train_inst" / "a.wav", 2.0, 16000, freq=700.0)
    write_voice(tmp_path / "held_inst" / "b.wav", 2.0, 16000, freq=900.0)
    base = dict(data=[str(data)], args={"n_fft": 256, "hop": 64, "bins": 64,
                                        "channels": [4, 4, 8, 8, 8, 8]},
                sample_rate=SR, epochs=1, examples=4, valid_examples=2, batch_size=2,
                segment=0.5, workers=0, threads=1, real_other=[str(tmp_path / "train_inst")])
    result = train(TrainConfig(out=str(tmp_path / "run"), select="valid_real",
                               valid_real_other=[str(tmp_path / "held_inst")], **base))
    h = result["history"][0]
    assert h["valid_real"]["other"] != h["valid"]["other"]
    with pytest.raises(UsageError, match="in both real_other and valid_real_other"):
        train(TrainConfig(out=str(tmp_path / "r2"), valid_real_other=base["real_other"],
                          **base))
    cfg = tmp_path / "train.toml"
    cfg.write_text('args = { n_fft = 256, hop = 64, bins = 64, channels = [4, 4, 8, 8, 8, 8] }\n'
                   "sample_rate = 8000\nexamples = 2\nvalid_examples = 2\nbatch_size = 2\n"
                   "segment = 0.5\nworkers = 0\nthreads = 1\nmax_steps = 1\n")
    code, _, err = run(["train", "--data", str(data), "--out", str(tmp_path / "cli"),
                        "--config", str(cfg), "--epochs", "1",
                        "--real-other", str(tmp_path / "train_inst")], capsys)
    assert code == 0, err
    saved = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert saved["real_other"] == [str(tmp_path / "train_inst")]
