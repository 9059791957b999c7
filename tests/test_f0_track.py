"""`separate f0 track`: pYIN tracking, the voice-assignment heuristic (Sec. IV-B), CSV, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from separate.f0.assign import assign_voices
from separate.f0.track import F0Track, read_f0_csv, track_f0, write_f0_csv

SR = 16000


def _tone(f0: float, seconds: float, sr: int = SR, n_harm: int = 6) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, n_harm + 1)).astype(
        np.float32
    ) * 0.2


def test_assign_sorts_full_frames_high_to_low():
    out = assign_voices([[200, 400], [410, 190]], 2)
    np.testing.assert_allclose(out, [[400, 410], [200, 190]])


def test_assign_uses_pitch_continuity_and_zero_for_silent():
    # frame 1 has one value close to the lower voice -> the upper voice is silent there
    cands = [[440, 220], [225], [445, 230], [], [450]]
    out = assign_voices(cands, 2)
    np.testing.assert_allclose(out[:, 1], [0, 225])
    np.testing.assert_allclose(out[:, 3], [0, 0])
    # frame 4: 450 continues the upper voice (nearest assigned frame 2 had 445)
    np.testing.assert_allclose(out[:, 4], [450, 0])


def test_assign_drops_the_worst_value_when_too_many():
    cands = [[440, 220], [441, 330, 221], [442, 222]]
    out = assign_voices(cands, 2)
    np.testing.assert_allclose(out[:, 1], [441, 221])


def test_assign_crossing_free_reference_wins_over_order():
    # two frames with one value each, the second far below: continuity decides, not order
    out = assign_voices([[500, 250], [260], [490]], 2)
    assert out[1, 1] == 260 and out[0, 1] == 0
    assert out[0, 2] == 490 and out[1, 2] == 0


def test_pyin_tracks_a_tone_and_silence():
    audio = np.concatenate([_tone(220.0, 1.0), np.zeros(SR // 2, np.float32)])
    tr = track_f0(audio, SR)
    assert tr.f0.shape == (1, len(tr.times))
    on = tr.f0[0][(tr.times > 0.1) & (tr.times < 0.9)]
    off = tr.f0[0][tr.times > 1.15]
    assert np.median(on) == pytest.approx(220.0, rel=0.01)
    assert (on > 0).mean() > 0.9
    assert (off == 0).mean() > 0.9


@pytest.mark.parametrize("method", ["pyin", "hsum"])
def test_two_voices_are_tracked_and_assigned(method):
    # a non-harmonic interval: for consonant chords pYIN can lock onto a common sub-harmonic
    # (e.g. 330 + 131 Hz -> 66 Hz, below its range), a known limit of this monophonic stand-in.
    audio = _tone(311.0, 1.0) + _tone(131.0, 1.0)
    tr = track_f0(audio, SR, voices=2, method=method)
    mid = (tr.times > 0.15) & (tr.times < 0.85)
    hi, lo = tr.f0[0][mid], tr.f0[1][mid]
    assert np.median(hi) == pytest.approx(311.0, rel=0.02)
    assert np.median(lo) == pytest.approx(131.0, rel=0.02)


def test_csv_round_trip(tmp_path):
    tr = F0Track(times=np.array([0.0, 0.01, 0.02]), f0=np.array([[0, 220.5, 221], [110, 0, 0]]))
    p = tmp_path / "x.f0.csv"
    write_f0_csv(p, tr)
    assert p.read_text().splitlines()[0] == "time,f0_1,f0_2"
    back = read_f0_csv(p)
    np.testing.assert_allclose(back.f0, tr.f0)
    np.testing.assert_allclose(back.times, tr.times)
    # resampling to other frame times picks the nearest frame
    np.testing.assert_allclose(back.at(np.array([0.009, 0.021]))[0], [220.5, 221])


def test_cli_track_writes_csv_and_plot(tmp_path):
    import soundfile as sf
    from typer.testing import CliRunner

    from separate.cli import app

    wav = tmp_path / "tone.wav"
    sf.write(wav, _tone(196.0, 0.6), SR)
    res = CliRunner().invoke(
        app,
        ["f0", "track", str(wav), "-o", str(tmp_path / "o.csv"), "--plot", str(tmp_path / "p.png")],
    )
    assert res.exit_code == 0, res.output
    tr = read_f0_csv(tmp_path / "o.csv")
    assert np.median(tr.f0[0][tr.f0[0] > 0]) == pytest.approx(196.0, rel=0.01)
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_cli_track_missing_file_is_an_input_error(tmp_path):
    from separate.cli import main

    with pytest.raises(SystemExit) as e:
        main(["f0", "track", str(tmp_path / "nope.wav")])
    assert e.value.code != 0


def test_harmonic_sum_finds_a_consonant_triad():
    # a fifth (shared partials, a common sub-harmonic at 110 Hz) and a third below. (An octave
    # below a voice cannot be told apart from that voice's own partials by cancellation.)
    audio = _tone(220.0, 1.0) + _tone(330.0, 1.0) + _tone(175.0, 1.0)
    tr = track_f0(audio, SR, voices=3, method="hsum")
    mid = (tr.times > 0.15) & (tr.times < 0.85)
    for j, f in enumerate([330.0, 220.0, 175.0]):
        assert np.median(tr.f0[j][mid]) == pytest.approx(f, rel=0.01)
