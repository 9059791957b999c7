"""`separate synth`: tiny band corpora (seconds of audio), the acceptance checks of issue 3."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fluidsynth")

from separate.synth import soundfonts  # noqa: E402

try:
    soundfonts.available()
except Exception as exc:  # noqa: BLE001
    pytest.skip(f"no SoundFont installed: {exc}", allow_module_level=True)

from separate.synth.classes import CLASSES, TEST_ONLY_PROGRAMS, gm_class  # noqa: E402
from separate.synth.corpus import generate_corpus, plan_tracks  # noqa: E402

STEMS = ("vocals", "drums", "bass", "other")


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a"
    generate_corpus(out, 0, seed=1, tracks=3, track_seconds=6, jobs=1)
    return out


def _tracks(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/*/stems.json"))


def _read_f0(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time", "f0"]
    arr = np.array(rows[1:], dtype=float)
    return arr[:, 0], arr[:, 1]


def test_layout_and_splits(corpus):
    tracks = _tracks(corpus)
    assert len(tracks) == 3
    assert {t.parent.name for t in tracks} == {"train", "valid", "test"}
    for t in tracks:
        for s in ("mixture", *STEMS):
            info = sf.info(t / f"{s}.wav")
            assert info.samplerate == 44100 and info.channels == 2 and info.subtype == "FLOAT"
        assert (t / "song.mid").exists() and (t / "activations.csv").exists()
        assert (t / "f0" / "vocals.csv").exists() and (t / "f0" / "bass.csv").exists()
    card = (corpus / "README.md").read_text()
    assert "FluidR3_GM" in card and "CC-BY-SA-3.0" in card and "| all | 3 |" in card


def test_byte_identical_and_jobs_independent(corpus, tmp_path):
    generate_corpus(tmp_path / "b", 0, seed=1, tracks=3, track_seconds=6, jobs=2)
    assert _hashes(corpus) == _hashes(tmp_path / "b")


def test_mixture_is_sum_of_stems_and_no_stem_silent(corpus):
    for t in _tracks(corpus):
        mix, _ = sf.read(t / "mixture.wav", dtype="float32")
        stems = [sf.read(t / f"{s}.wav", dtype="float32")[0] for s in STEMS]
        assert np.abs(mix - sum(stems)).max() < 1e-5
        for s, x in zip(STEMS, stems, strict=True):
            assert np.sqrt((x.astype(np.float64) ** 2).mean()) > 1e-4, f"{t.name}/{s} silent"
        assert 0.1 < np.abs(mix).max() <= 1.0


def test_activations_not_all_ones(corpus):
    any_inactive = False
    for t in _tracks(corpus):
        with open(t / "activations.csv") as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["time", *STEMS]
        conf = np.array(rows[1:], dtype=float)[:, 1:]
        assert ((conf >= 0) & (conf <= 1)).all()
        assert (conf >= 0.5).any(axis=0).all(), "every stem is active somewhere"
        any_inactive |= bool((conf < 0.5).any())
    assert any_inactive


def test_f0_agrees_with_midi(corpus):
    import pretty_midi

    for t in _tracks(corpus):
        pm = pretty_midi.PrettyMIDI(str(t / "song.mid"))
        parts = {i.name: i for i in pm.instruments}
        # bass: exactly the MIDI pitch while a note is on, 0 elsewhere
        times, f0 = _read_f0(t / "f0" / "bass.csv")
        expected = np.zeros_like(times)
        near_edge = np.zeros(len(times), dtype=bool)
        for n in parts["bass"].notes:
            expected[(times >= n.start) & (times < n.end)] = 440 * 2 ** ((n.pitch - 69) / 12)
            near_edge |= (np.abs(times - n.start) < 2e-3) | (np.abs(times - n.end) < 2e-3)
        assert (f0 > 0).any()
        assert np.allclose(f0[~near_edge], expected[~near_edge], rtol=1e-4)
        # vocals: the singer's F0 (vibrato, drift, jitter) stays near each note's pitch
        times, f0 = _read_f0(t / "f0" / "vocals.csv")
        assert (f0 > 0).any() and (f0 == 0).any()
        for n in parts["vocals"].notes:
            sel = (times >= n.start + 0.6 * (n.end - n.start)) & (times < n.end - 0.03)
            sel &= f0 > 0
            if sel.sum() < 2:
                continue
            cents = 1200 * np.log2(f0[sel] / (440 * 2 ** ((n.pitch - 69) / 12)))
            assert abs(np.median(cents)) < 35, (t.name, n, np.median(cents))
            assert np.abs(cents).max() < 110


def test_stems_json_classes(corpus):
    for t in _tracks(corpus):
        meta = json.loads((t / "stems.json").read_text())
        assert set(meta["stems"]) == set(STEMS)
        for stem, info in meta["stems"].items():
            assert info["parts"], stem
            for p in info["parts"]:
                assert p["class"] in CLASSES
                if p["renderer"] == "fluidsynth":
                    assert p["soundfont"] in {sf_.key for sf_ in soundfonts.SOUNDFONTS}
        assert meta["stems"]["vocals"]["parts"][0]["renderer"] == "singer"
        assert meta["stems"]["drums"]["parts"][0]["class"] == "drums"


def test_test_only_programs_and_fonts_stay_in_test():
    """Compose many songs (no rendering) and check the held-out material never leaks."""
    from separate.synth.compose import compose_band_song
    from separate.synth.corpus import _choose_presets
    from separate.synth.tracks import track_rng as _rng

    seen: dict[str, set] = {"train": set(), "test": set()}
    fonts: dict[str, set] = {"train": set(), "test": set()}
    for spec in plan_tracks(0, 7, tracks=60, track_seconds=8):
        split = "test" if spec.split == "test" else "train"
        song = compose_band_song(_rng(spec, 1), spec.seconds, test_split=split == "test")
        _choose_presets(song, spec.split, _rng(spec, 2))
        for p in song.parts:
            seen[split].add(p.program)
            fonts[split].add(p.font)
    assert not (seen["train"] & TEST_ONLY_PROGRAMS)
    test_only_fonts = {s.key for s in soundfonts.SOUNDFONTS if s.test_only}
    assert not (fonts["train"] & test_only_fonts)


def test_plan_hours_and_split_by_song():
    specs = plan_tracks(0.2, seed=1)
    total = sum(s.seconds for s in specs)
    assert 0.2 * 3600 <= total < 0.2 * 3600 + 40
    assert all(20 <= s.seconds <= 40 for s in specs)
    assert len({s.name for s in specs}) == len(specs)
    counts = {k: sum(s.split == k for s in specs) for k in ("train", "valid", "test")}
    assert counts["valid"] >= 1 and counts["test"] >= 1 and counts["train"] > counts["test"]
    assert plan_tracks(0.2, seed=1) == specs


def test_gm_class_map_covers_vocabulary():
    classes = {gm_class(p) for p in range(120)} | {gm_class(0, is_drum=True)}
    assert classes == set(CLASSES)
    assert len(CLASSES) == 18


def test_cli(tmp_path, capsys):
    from conftest import run_cli
    from typer.testing import CliRunner

    from separate.cli import app

    res = CliRunner().invoke(
        app, ["synth", str(tmp_path / "c"), "--tracks", "1", "--track-seconds", "2", "--seed", "5"]
    )
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "c").glob("*/*/mixture.wav"))) == 1
    res = CliRunner().invoke(app, ["synth", str(tmp_path / "d"), "--kind", "nope"])
    assert res.exit_code != 0
    code, _, err = run_cli(["synth", str(tmp_path / "c"), "--repair-silence"], capsys)
    assert code == 0 and "0 of 1 tracks rewritten" in err, err
    code, _, err = run_cli(["synth", str(tmp_path / "e"), "--repair-silence"], capsys)
    assert code == 2 and "no rendered tracks" in err and "Traceback" not in err


def test_singer_sounds_at_its_f0():
    """The singer's audio has its strongest low partial at the F0 it reports (no reverb)."""
    from separate.synth.render import NoteEvent
    from separate.synth.singer import SingerVoice, sing

    rng = np.random.default_rng(0)
    notes = [NoteEvent(57, 0.1, 1.1, 100), NoteEvent(64, 1.2, 2.2, 100)]
    x, t, f0 = sing(notes, 44100 * 3, 44100, rng, SingerVoice.random(rng, "tenor"))
    assert x.dtype == np.float32 and np.isfinite(x).all() and 0.5 < np.abs(x).max() <= 1.0
    assert (f0[(t > 0.3) & (t < 1.0)] > 0).all() and (f0[t > 2.4] == 0).all()
    for note, (a, b) in zip(notes, [(0.5, 1.0), (1.6, 2.1)], strict=True):
        seg = x[int(a * 44100): int(b * 44100)] * np.hanning(int((b - a) * 44100))
        spec = np.abs(np.fft.rfft(seg, 1 << 17))
        freqs = np.fft.rfftfreq(1 << 17, 1 / 44100)
        expected = float(np.median(f0[(t >= a) & (t < b)]))
        nominal = 440 * 2 ** ((note.pitch - 69) / 12)
        assert abs(1200 * np.log2(expected / nominal)) < 35
        band = (freqs > 0.8 * expected) & (freqs < 1.2 * expected)
        peak = freqs[band][np.argmax(spec[band])]
        assert abs(peak - expected) / expected < 0.02
        # the fundamental is a real partial: well above the spectrum between partials
        assert spec[band].max() > 10 * np.median(spec[(freqs > 50) & (freqs < 4000)])


def test_track_does_not_depend_on_what_the_process_rendered_before(tmp_path):
    """FluidSynth keeps state between parts; the renderer must wipe it (see render.py)."""
    from separate.synth.corpus import render_track

    specs = plan_tracks(0, 11, tracks=4, track_seconds=5)
    for d in ("a", "b", "history"):
        for split in ("train", "valid", "test"):
            (tmp_path / d / split).mkdir(parents=True)
    render_track(specs[3], tmp_path / "a")
    for s in specs[:3]:
        render_track(s, tmp_path / "history")
    render_track(specs[3], tmp_path / "b")
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")


def test_silent_blocks_are_digital_silence(corpus):
    """Where a stem does not sound it is exact zeros (museval skips such windows), not the
    -140 dBFS residue of the FFT reverb."""
    from separate.synth.effects import SILENCE_BLOCK, SILENCE_FLOOR

    zero_blocks = 0
    for t in _tracks(corpus):
        for s in STEMS:
            x, _ = sf.read(t / f"{s}.wav", dtype="float32")
            n = len(x) - len(x) % SILENCE_BLOCK
            peak = np.abs(x[:n].reshape(-1, SILENCE_BLOCK, 2)).max(axis=(1, 2))
            assert ((peak == 0) | (peak >= SILENCE_FLOOR)).all(), f"{t.name}/{s}"
            zero_blocks += int((peak == 0).sum())
    assert zero_blocks > 0


def test_repair_silence_of_an_old_render(corpus, tmp_path):
    import shutil

    from separate.synth.corpus import repair_silence
    from separate.synth.effects import SILENCE_BLOCK

    fresh = _tracks(corpus)[0]
    old = tmp_path / fresh.name
    shutil.copytree(fresh, old)
    rng = np.random.default_rng(0)
    stems = []
    for s in STEMS:  # what the renderer wrote before: a -140 dBFS residue everywhere
        x, sr = sf.read(old / f"{s}.wav", dtype="float32")
        x = x + (1e-9 * rng.standard_normal(x.shape)).astype(np.float32)
        sf.write(old / f"{s}.wav", x, sr, subtype="FLOAT")
        stems.append(x)
    sf.write(old / "mixture.wav", np.sum(stems, axis=0, dtype=np.float32), sr, subtype="FLOAT")
    assert repair_silence(old) is True
    mix, _ = sf.read(old / "mixture.wav", dtype="float32")
    repaired = [sf.read(old / f"{s}.wav", dtype="float32")[0] for s in STEMS]
    np.testing.assert_array_equal(mix, np.sum(repaired, axis=0, dtype=np.float32))
    for s, x in zip(STEMS, repaired, strict=True):
        ref, _ = sf.read(fresh / f"{s}.wav", dtype="float32")
        n = len(x) - len(x) % SILENCE_BLOCK
        silent = [np.abs(y[:n].reshape(-1, SILENCE_BLOCK, 2)).max(axis=(1, 2)) == 0
                  for y in (x, ref)]
        np.testing.assert_array_equal(*silent)  # the same blocks silenced as a fresh render
        assert np.abs(x - ref).max() < 1e-7
    assert (old / "activations.csv").read_text() == (fresh / "activations.csv").read_text()
    assert json.loads((old / "stems.json").read_text()) == json.loads(
        (fresh / "stems.json").read_text())
    assert repair_silence(old) is False
    assert not list(old.glob(".*.part"))
