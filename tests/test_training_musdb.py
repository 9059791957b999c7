"""MUSDB18 ``.stem.mp4`` training data: musdb's splits, the decode cache, broken files, a step.

A tiny MUSDB18-like corpus is written with ``stempeg.write_stems`` (AAC through ffmpeg) and
every decoded excerpt is compared with what the ``musdb`` package itself reads from the files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from separate.errors import InputError, UsageError
from separate.training import data as data_mod
from separate.training.data import StemsDataset, decode_stems, find_tracks
from tests.conftest import SHARED_DATA, require_shared

stempeg = pytest.importorskip("stempeg", reason="stempeg (with musdb) writes the test stems")
musdb = pytest.importorskip("musdb", reason="the musdb package reads .stem.mp4")
pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                reason="the ffmpeg binary encodes/decodes .stem.mp4")

SR = 44100
SOURCES = ["vocals", "drums", "bass", "other"]
VALID = "Actions - One Minute Smile"  # one of musdb's 14 validation tracks (mus.yaml)
TRAIN = ["Artist A - Song A", "Artist B - Song B"]


def write_stem_mp4(path: Path, seed: int, seconds: float = 1.0) -> None:
    """A MUSDB18-like file: streams mixture, drums, bass, other, vocals (musdb's stem_ids)."""
    ids = musdb.DB(root=".", subsets=[]).setup["stem_ids"]
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    stems = np.zeros((5, t.size, 2), np.float32)
    for i, name in enumerate(SOURCES):
        # loud (peaks up to ~0.85) so that a wrong 16-bit scale (32767 for 32768) would show
        x = 0.2 * (i + 1) * np.sin(2 * np.pi * 110 * (i + 1 + seed) * t)
        x += 0.02 * rng.standard_normal(t.size)
        stems[ids[name]] = np.stack([x, 0.7 * x], 1)
    stems[ids["mixture"]] = stems[[ids[s] for s in SOURCES]].sum(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    stempeg.write_stems(str(path), stems, sample_rate=SR)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("musdb18")
    for k, name in enumerate([VALID, *TRAIN]):
        write_stem_mp4(root / "train" / f"{name}.stem.mp4", seed=k)
    write_stem_mp4(root / "test" / "Artist C - Song C.stem.mp4", seed=3)
    return root


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def cache(shared_cache, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_cache))
    return shared_cache


def whole(track, sources: list[str]) -> np.ndarray:
    """``[S, C, T]`` of the whole track through StemsDataset (no augmentation: start 0)."""
    ds = StemsDataset([track], sources, segment=track.frames, examples=1, augment=False)
    return ds[0][1].numpy()


def test_splits_follow_musdb_and_stems_equal_musdbs_decode(corpus, cache):
    train = find_tracks(corpus, SOURCES, "train")
    valid = find_tracks(corpus, SOURCES, "valid")
    test = find_tracks(corpus, SOURCES, "test")
    db_train = musdb.DB(root=str(corpus), subsets="train", split="train")
    db_valid = musdb.DB(root=str(corpus), subsets="train", split="valid")
    assert [t.name for t in train] == [t.name for t in db_train.tracks] == TRAIN
    assert [t.name for t in valid] == [t.name for t in db_valid.tracks] == [VALID]
    assert [t.name for t in test] == ["Artist C - Song C"]
    for ours, ref in zip(train + valid, db_train.tracks + db_valid.tracks, strict=True):
        assert ours.sample_rate == SR and ours.files["vocals"][0].is_relative_to(cache)
        got = whole(ours, SOURCES)
        for i, s in enumerate(SOURCES):  # exact: both are ffmpeg's 16-bit decode
            np.testing.assert_array_equal(got[i], ref.targets[s].audio.T.astype(np.float32))


def test_accompaniment_is_musdbs_target(corpus, cache):
    (track,) = find_tracks(corpus, ["vocals", "accompaniment"], "valid")
    assert sorted(f.stem for f in track.files["accompaniment"]) == ["bass", "drums", "other"]
    (ref,) = musdb.DB(root=str(corpus), subsets="train", split="valid").tracks
    got = whole(track, ["vocals", "accompaniment"])
    np.testing.assert_array_equal(got[0], ref.targets["vocals"].audio.T.astype(np.float32))
    np.testing.assert_allclose(got[1], ref.targets["accompaniment"].audio.T, atol=1e-6)


def test_each_track_is_decoded_once_and_again_when_it_changes(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls: list[str] = []

    def counting(path, out):
        calls.append(Path(path).name)
        return decode_stems(path, out)

    monkeypatch.setattr(data_mod, "decode_stems", counting)
    first = find_tracks(corpus, SOURCES, "train")
    assert len(calls) == 2
    mtimes = [f.stat().st_mtime_ns for t in first for fs in t.files.values() for f in fs]
    again = find_tracks(corpus, SOURCES, "train")
    assert len(calls) == 2  # served from the cache
    assert [f.stat().st_mtime_ns for t in again for fs in t.files.values() for f in fs] == mtimes
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary folder left behind
    changed = corpus / "train" / f"{TRAIN[0]}.stem.mp4"
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    find_tracks(corpus, SOURCES, "train")
    assert calls[2:] == [changed.name]


def test_a_broken_stem_file_is_skipped_with_a_warning(corpus, tmp_path, cache):
    root = tmp_path / "db"
    (root / "train").mkdir(parents=True)
    good = corpus / "train" / f"{TRAIN[0]}.stem.mp4"
    os.symlink(good, root / "train" / good.name)
    (root / "train" / "Broken - Track.stem.mp4").write_bytes(b"not an mp4" * 100)
    with pytest.warns(UserWarning, match=r"Broken - Track\.stem\.mp4: not a readable"):
        tracks = find_tracks(root, SOURCES, "train")
    assert [t.name for t in tracks] == [TRAIN[0]]
    with warnings.catch_warnings():  # warned once per process, not again every epoch
        warnings.simplefilter("error")
        assert [t.name for t in find_tracks(root, SOURCES, "train")] == [TRAIN[0]]
    # a truncated file whose header is intact (moov first) decodes short: refused by name
    fast = tmp_path / "fast.stem.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(good), "-map", "0", "-c", "copy",
                    "-movflags", "+faststart", str(fast)], check=True)
    cut = tmp_path / "Cut - Short.stem.mp4"
    cut.write_bytes(fast.read_bytes()[: fast.stat().st_size // 3])
    (tmp_path / "out").mkdir()
    with pytest.raises(InputError, match=r"Cut - Short\.stem\.mp4: .*truncated"):
        decode_stems(cut, tmp_path / "out")


def test_valid_needs_musdbs_tracks_or_a_valid_folder(corpus, tmp_path, cache):
    root = tmp_path / "db"
    (root / "train").mkdir(parents=True)
    os.symlink(corpus / "train" / f"{TRAIN[0]}.stem.mp4", root / "train" / f"{TRAIN[0]}.stem.mp4")
    assert [t.name for t in find_tracks(root, SOURCES, "train")] == [TRAIN[0]]
    with pytest.raises(UsageError, match="none of musdb's validation tracks"):
        find_tracks(root, SOURCES, "valid")
    (root / "valid").mkdir()
    os.symlink(corpus / "train" / f"{TRAIN[1]}.stem.mp4", root / "valid" / f"{TRAIN[1]}.stem.mp4")
    assert [t.name for t in find_tracks(root, SOURCES, "valid")] == [TRAIN[1]]
    # stem files directly in the folder: both splits are every track (as track folders are)
    direct = root / "train"
    assert [t.name for t in find_tracks(direct, SOURCES, "valid")] == [TRAIN[0]]


def test_missing_musdb_package_is_a_one_line_usage_error(corpus, monkeypatch, cache):
    monkeypatch.setitem(sys.modules, "musdb", None)
    with pytest.raises(UsageError, match="pip install musdb"):
        find_tracks(corpus, SOURCES, "train")


def test_real_musdb18_clip_decodes_to_the_shipped_stems(tmp_path, cache):
    clip = require_shared(SHARED_DATA / "musdb18-7" / "stem.mp4"
                          / "Music Delta - 80s Rock.stem.mp4")
    (tmp_path / "train").mkdir()
    os.symlink(clip, tmp_path / "train" / clip.name)
    (track,) = find_tracks(tmp_path, SOURCES, "train")
    for s in SOURCES:
        ours, sr = sf.read(str(track.files[s][0]), dtype="int16")
        ref, _ = sf.read(str(SHARED_DATA / "musdb18-7" / track.name / f"{s}.flac"), dtype="int16")
        assert sr == 44100
        np.testing.assert_array_equal(ours, ref)


def test_training_step_on_stem_mp4(corpus, tmp_path, cache):
    from separate.training import TrainConfig, train

    small = {"n_fft": 256, "hop": 64, "bins": 64, "channels": [4, 4, 8, 8, 8, 8]}
    cfg = TrainConfig(data=[str(corpus)], out=str(tmp_path / "run"), args=small,
                      sources=["vocals", "accompaniment"], sample_rate=SR, epochs=1,
                      examples=2, valid_examples=1, batch_size=1, segment=0.5, workers=0,
                      max_steps=1, threads=1)
    result = train(cfg)
    (epoch,) = result["history"]
    assert np.isfinite(epoch["train_loss"]) and np.isfinite(epoch["valid"]["mean"])
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
