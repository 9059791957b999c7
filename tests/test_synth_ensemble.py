"""`separate synth --kind ensemble|choir`: tiny corpora from the music21 corpus."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fluidsynth")
pytest.importorskip("music21")

from separate.synth import soundfonts  # noqa: E402

try:
    soundfonts.available()
except Exception as exc:  # noqa: BLE001
    pytest.skip(f"no SoundFont installed: {exc}", allow_module_level=True)

from separate.synth.chorale import piece_pool  # noqa: E402
from separate.synth.classes import CLASSES, TEST_ONLY_CLASSES  # noqa: E402
from separate.synth.corpus import generate_corpus  # noqa: E402


def _read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path) as f:
        rows = list(csv.reader(f))
    return rows[0], np.array(rows[1:], dtype=float)


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ens")
    generate_corpus(out, 0, seed=4, kind="ensemble", tracks=3, track_seconds=4)
    return out


@pytest.fixture(scope="module")
def choir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("choir")
    generate_corpus(out, 0, seed=2, kind="choir", tracks=1, track_seconds=4)
    return out


def _check_track(t: Path, kind: str) -> None:
    import pretty_midi

    meta = json.loads((t / "stems.json").read_text())
    names = [v["voice"] for v in meta["voices"]]
    assert names == [f"voice{k + 1}" for k in range(len(names))]
    assert (2 <= len(names) <= 5) if kind == "ensemble" else len(names) == 4
    mix, sr = sf.read(t / "mixture.wav", dtype="float32")
    assert sr == 44100 and mix.shape[1] == 2
    voices = [sf.read(t / f"{n}.wav", dtype="float32")[0] for n in names]
    assert np.abs(mix - sum(voices)).max() < 1e-5
    for n, x in zip(names, voices, strict=True):
        assert np.sqrt((x.astype(np.float64) ** 2).mean()) > 1e-4, f"{t.name}/{n} silent"
    header, act = _read_csv(t / "activations.csv")
    assert header == ["time", *names]
    pm = pretty_midi.PrettyMIDI(str(t / "song.mid"))
    midi = {i.name: i for i in pm.instruments}
    for v in meta["voices"]:
        assert v["class"] in CLASSES
        _, f0 = _read_csv(t / "f0" / f"{v['voice']}.csv")
        times, hz = f0[:, 0], f0[:, 1]
        assert (hz > 0).any()
        for note in midi[v["voice"]].notes:
            sel = (times >= note.start + 0.01) & (times < note.end - 0.01) & (hz > 0)
            if v["renderer"] == "singer":
                sel &= times >= note.start + 0.5 * (note.end - note.start)
            if sel.sum() < 2:
                continue
            cents = 1200 * np.log2(hz[sel] / (440 * 2 ** ((note.pitch - 69) / 12)))
            tol = 35 if v["renderer"] == "singer" else 0.01
            assert abs(np.median(cents)) < tol


def test_ensemble_tracks(ensemble):
    tracks = sorted(p.parent for p in ensemble.glob("*/*/stems.json"))
    assert len(tracks) == 3
    for t in tracks:
        _check_track(t, "ensemble")
        meta = json.loads((t / "stems.json").read_text())
        if meta["split"] != "test":
            assert not ({v["class"] for v in meta["voices"]} & TEST_ONLY_CLASSES)
    assert "Instrument classes" in (ensemble / "README.md").read_text()


def test_choir_track_is_four_singers(choir):
    (t,) = sorted(p.parent for p in choir.glob("*/*/stems.json"))
    _check_track(t, "choir")
    meta = json.loads((t / "stems.json").read_text())
    assert [v.get("singer_voice") for v in meta["voices"]] == ["soprano", "alto", "tenor", "bass"]


def test_ensemble_deterministic(tmp_path):
    for d in ("a", "b"):
        generate_corpus(tmp_path / d, 0, seed=9, kind="ensemble", tracks=1, track_seconds=2)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                   if p.is_file())
    assert files
    for f in files:
        a = hashlib.sha256((tmp_path / "a" / f).read_bytes()).hexdigest()
        b = hashlib.sha256((tmp_path / "b" / f).read_bytes()).hexdigest()
        assert a == b, f


def test_pieces_split_by_song():
    pools = {s: set(piece_pool("ensemble", s)) for s in ("train", "valid", "test")}
    assert all(pools.values())
    assert not (pools["train"] & pools["valid"]) and not (pools["train"] & pools["test"])
    assert not (pools["valid"] & pools["test"])


def test_syllables_from_lyrics():
    from separate.synth.singer import syllable_sounds

    assert syllable_sounds("Preis") == ("p", "e", "i")
    assert syllable_sounds("schö-") == ("sh", "o", None)
    assert syllable_sounds("und") == (None, "u", None)
    assert syllable_sounds("Mun") == ("m", "u", None)
    assert syllable_sounds("’") == (None, None, None)
