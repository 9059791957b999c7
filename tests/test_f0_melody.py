"""`separate f0 melody`: separate the vocals with a registry model, then pYIN (Jansson Ch. 5)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from separate.f0.melody import track_melody
from separate.f0.track import read_f0_csv

SR = 44100


def _tone(f0: float, seconds: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.2 * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 6))).astype(np.float32)


def test_api_tracks_the_vocals_stem_of_the_identity_model():
    # the `identity` test model's vocals are the mixture / 4: pYIN must find the tone
    mix = np.stack([_tone(247.0, 1.0), _tone(247.0, 1.0)])
    res = track_melody(mix, SR, model="identity")
    assert res.track.voices == 1
    assert res.vocals.shape == (mix.shape[1],)
    np.testing.assert_allclose(res.vocals, mix.mean(axis=0) / 4, atol=1e-5)
    on = res.track.f0[0][(res.track.times > 0.1) & (res.track.times < 0.9)]
    assert (on > 0).mean() > 0.9
    assert np.median(on) == pytest.approx(247.0, rel=0.01)


def test_api_with_the_default_model_runs_on_a_short_clip(one_torch_thread):
    mix = np.stack([_tone(330.0, 1.0)] * 2)
    res = track_melody(mix, SR)  # the embedded `default` U-Net
    assert res.vocals.shape == (SR,) and np.isfinite(res.vocals).all()
    assert res.track.f0.shape == (1, len(res.track.times))
    assert res.track.times[-1] == pytest.approx(1.0, abs=0.1)


def test_unknown_method_and_model_without_vocals():
    from separate.errors import UsageError

    with pytest.raises(ValueError, match="melody method"):
        track_melody(np.zeros((2, 100), np.float32), SR, model="identity", method="crepe")
    from separate.api import Separator
    from separate.nets.simple import IdentityModel

    sep = Separator(IdentityModel(sources=["drums", "bass"]), device="cpu")
    with pytest.raises(UsageError, match="vocals"):
        track_melody(np.zeros((2, SR), np.float32), SR, separator=sep)


def test_cli_melody_writes_csv_vocals_and_plot(tmp_path):
    from typer.testing import CliRunner

    from separate.cli import app

    wav = tmp_path / "song.wav"
    sf.write(wav, np.stack([_tone(196.0, 0.8)] * 2).T, SR)
    res = CliRunner().invoke(
        app,
        ["f0", "melody", str(wav), "-m", "identity", "--plot", str(tmp_path / "m.png"),
         "--vocals", str(tmp_path / "v.wav")],
    )
    assert res.exit_code == 0, res.output
    tr = read_f0_csv(tmp_path / "song.melody.csv")
    assert tr.voices == 1
    assert np.median(tr.f0[0][tr.f0[0] > 0]) == pytest.approx(196.0, rel=0.01)
    assert (tmp_path / "m.png").stat().st_size > 1000
    v, sr = sf.read(tmp_path / "v.wav")
    assert sr == SR and v.ndim == 1 and len(v) == int(0.8 * SR)


@pytest.mark.parametrize("kind", ["missing", "not audio"])
def test_cli_melody_bad_input_is_one_line_naming_the_file(tmp_path, kind, capsys):
    from separate.cli import main

    path = tmp_path / "song.wav"
    if kind == "not audio":
        path.write_text("hello, not a wav")
    with pytest.raises(SystemExit) as e:
        main(["f0", "melody", str(path), "-m", "identity"])
    assert e.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and err.startswith("error:")
