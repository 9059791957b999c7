"""Pitch salience (Jansson Ch. 5 / Bittner et al.): targets, HCQT, peaks -> voices, the model
card, and `separate f0 track --method salience`."""

from __future__ import annotations

import numpy as np
import pytest
import tomllib
import torch

from separate.errors import ModelError
from separate.f0.assign import assign_voices
from separate.f0.salience import (
    HARMONICS,
    N_BINS,
    bin_frequencies,
    bin_to_hz,
    frame_times,
    hcqt,
    hz_to_bin,
    load_salience_model,
    pick_peaks,
    salience_map,
    salience_targets,
    salience_track,
)

SR = 22050


def _tone(f0: float, seconds: float, sr: int = SR, n_harm: int = 6) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.2 * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, n_harm + 1))).astype(
        np.float32
    )


def _cents(a: float, b: float) -> float:
    return abs(1200 * np.log2(a / b))


def test_bins_are_20_cents_from_c1():
    f = bin_frequencies()
    assert len(f) == N_BINS == 360
    assert f[0] == pytest.approx(32.703, abs=1e-3)
    assert 1200 * np.log2(f[1] / f[0]) == pytest.approx(20.0)
    np.testing.assert_allclose(hz_to_bin(bin_to_hz(np.array([0.0, 12.3, 359.0]))),
                               [0.0, 12.3, 359.0], atol=1e-9)
    assert np.isnan(hz_to_bin(np.array([0.0, -1.0]))).all()


def test_targets_are_gaussians_at_the_exact_f0():
    f = bin_frequencies()
    f0 = np.array([[f[100], f[100], 0.0, f[200] * 2 ** (10 / 1200), 10.0],
                   [f[150], 0.0, 0.0, 0.0, 0.0]])
    y = salience_targets(f0, sigma_bins=1.0)
    assert y.shape == (N_BINS, 5) and y.dtype == np.float32
    # frame 0: two voices, each a peak of 1 at its bin, exp(-1/2) one bin away
    assert y[100, 0] == pytest.approx(1.0) and y[150, 0] == pytest.approx(1.0)
    assert y[101, 0] == pytest.approx(np.exp(-0.5), rel=1e-5)
    assert y[99, 0] == pytest.approx(np.exp(-0.5), rel=1e-5)
    assert y[125, 0] < 1e-6
    # frame 1: one voice only; frame 2: silence -> all zero
    assert y[150, 1] < 1e-6 and y[100, 1] == pytest.approx(1.0)
    assert y[:, 2].max() == 0.0
    # frame 3: half a bin above bin 200 -> equal values at 200 and 201, below 1
    assert y[200, 3] == pytest.approx(y[201, 3], rel=1e-5) and y[200, 3] < 0.9
    # frame 4: 10 Hz is below C1: ignored
    assert y[:, 4].max() == 0.0


def test_hcqt_stacks_harmonics_on_the_fundamental_bin():
    x = hcqt(_tone(220.0, 1.0), SR)
    assert x.shape[:2] == (len(HARMONICS), N_BINS)
    assert x.shape[2] == pytest.approx(SR / 256, abs=2)
    assert 0.0 <= x.min() and x.max() <= 1.0
    mid = x[:, :, 20:-20].mean(axis=2)  # [harmonics, bins]
    k = int(round(float(hz_to_bin(220.0))))
    # channel h shows the tone's h-th partial at the F0 bin: strong for h = 1..5 (the tone has
    # partials 1..6), and channel 0.5 shows the fundamental at the bin of 440 Hz
    for ch, h in enumerate(HARMONICS):
        peak = np.argmax(mid[ch, k - 8 : k + 9]) + k - 8
        if h >= 1:
            assert abs(peak - k) <= 1, (h, peak, k)
    assert abs(np.argmax(mid[0]) - float(hz_to_bin(440.0))) <= 1


def test_peaks_refine_to_a_few_cents_and_respect_threshold_and_count():
    f0 = np.array([[261.63] * 4, [196.0] * 4, [98.0, 98.0, 0, 0]])
    sal = salience_targets(f0)
    sal[:, 3] *= 0.2  # a quiet frame: below the threshold
    cands = pick_peaks(sal, threshold=0.3)
    assert len(cands) == 4
    assert sorted(cands[0]) == pytest.approx([98.0, 196.0, 261.63], rel=0.003)
    assert sorted(cands[2]) == pytest.approx([196.0, 261.63], rel=0.003)
    assert cands[3] == []
    assert len(pick_peaks(sal, threshold=0.3, max_peaks=2)[0]) == 2
    assert sorted(pick_peaks(sal, threshold=0.3, fmin=150.0)[0]) == pytest.approx(
        [196.0, 261.63], rel=0.003)
    for vals in cands[:3]:
        for v in vals:
            assert min(_cents(v, f) for f in (98.0, 196.0, 261.63)) < 5


def test_peaks_to_voices_with_a_silent_gap():
    # voice 1 falls from 440 to 415 Hz, voice 2 (220 Hz) rests in frames 3-5
    f0 = np.array([[440, 440, 440, 430, 420, 415, 415], [220, 220, 220, 0, 0, 0, 220.0]])
    cands = pick_peaks(salience_targets(f0), threshold=0.5)
    out = assign_voices(cands, 2)
    assert out.shape == (2, 7)
    for t in range(7):
        for j in range(2):
            if f0[j, t] == 0:
                assert out[j, t] == 0
            else:
                assert _cents(out[j, t], f0[j, t]) < 5


class _Oracle(torch.nn.Module):
    """A stand-in network whose logits mark 330 Hz in the first half, 330 + 165 Hz after."""

    def forward(self, x):
        t = x.shape[-1]
        f0 = np.zeros((2, t))
        f0[0] = 330.0
        f0[1, t // 2 :] = 165.0
        y = torch.from_numpy(salience_targets(f0))
        return torch.logit(y.clamp(1e-4, 1 - 1e-4))[None]


def test_salience_track_chunks_and_assigns(monkeypatch):
    audio = np.zeros(SR, np.float32)
    times, sal = salience_map(audio, SR, _Oracle(), chunk_frames=16)
    assert sal.shape == (N_BINS, len(times))
    np.testing.assert_allclose(times, frame_times(len(times)))
    tr = salience_track(audio, SR, voices=2, model=_Oracle())
    assert tr.f0.shape == (2, len(tr.times)) and tr.salience is not None
    assert np.median(tr.f0[0]) == pytest.approx(330.0, rel=0.003)
    one = salience_track(audio, SR, voices=1, model=_Oracle())
    assert one.f0.shape[0] == 1 and (one.f0[0] > 0).all()


def test_shipped_model_loads_and_bad_cards_fail(tmp_path):
    net = load_salience_model()
    assert net.card.arch == "salience_unet"
    assert not net.training
    with pytest.raises(ModelError, match="not for `separate f0 track --method salience`"):
        load_salience_model("identity")
    bad = tmp_path / "bad.toml"
    bad.write_text('arch = "salience_unet"\nsources = ["salience"]\nsample_rate = 22050\n'
                   '[weights]\nembedded = "missing.safetensors"\n')
    with pytest.raises(ModelError, match="weights"):
        load_salience_model(bad)


def test_cli_salience_tracks_a_two_tone_mixture(tmp_path):
    import soundfile as sf
    from typer.testing import CliRunner

    from separate.cli import app
    from separate.f0.track import read_f0_csv

    wav = tmp_path / "duet.wav"
    sf.write(wav, _tone(311.0, 1.5) + _tone(131.0, 1.5), SR)
    res = CliRunner().invoke(
        app,
        ["f0", "track", str(wav), "--method", "salience", "-n", "2", "-o",
         str(tmp_path / "o.csv"), "--plot", str(tmp_path / "p.png")],
    )
    assert res.exit_code == 0, res.output
    tr = read_f0_csv(tmp_path / "o.csv")
    assert tr.voices == 2
    mid = (tr.times > 0.2) & (tr.times < 1.3)
    hi, lo = tr.f0[0][mid], tr.f0[1][mid]
    assert (hi > 0).mean() > 0.8 and (lo > 0).mean() > 0.8
    assert _cents(np.median(hi[hi > 0]), 311.0) < 50
    assert _cents(np.median(lo[lo > 0]), 131.0) < 50
    assert (tmp_path / "p.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "args",
    [["--method", "salience", "--model", "identity"], ["--method", "pyin", "--threshold", "0.5"]],
)
def test_cli_salience_usage_errors(tmp_path, args, capsys):
    import soundfile as sf

    from separate.cli import main

    wav = tmp_path / "a.wav"
    sf.write(wav, _tone(220.0, 0.3), SR)
    with pytest.raises(SystemExit) as e:
        main(["f0", "track", str(wav), *args])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1


def test_cli_salience_missing_file_is_one_line_naming_it(tmp_path, capsys):
    from separate.cli import main

    path = tmp_path / "nope.wav"
    with pytest.raises(SystemExit) as e:
        main(["f0", "track", str(path), "--method", "salience", "-n", "2"])
    assert e.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err


def test_prepare_train_export_round_trip(tmp_path, one_torch_thread):
    """The training script end to end on one fake 2-voice track (1 s): features, F0 targets at
    the frame times, two steps, a card that loads."""
    import json

    import soundfile as sf

    from separate.f0 import salience_train as st

    track = tmp_path / "data" / "train" / "t1"
    (track / "f0").mkdir(parents=True)
    (tmp_path / "data" / "valid").mkdir()
    v1, v2 = _tone(440.0, 1.0, 44100), _tone(220.0, 1.0, 44100)
    sf.write(track / "voice1.wav", v1, 44100)
    sf.write(track / "voice2.wav", v2, 44100)
    sf.write(track / "mixture.wav", v1 + v2, 44100)
    t = np.arange(0, 1.0, 0.01)
    for name, f in (("voice1", 440.0), ("voice2", 220.0)):
        rows = "\n".join(f"{x:.2f},{f if x < 0.5 or name == 'voice1' else 0.0}" for x in t)
        (track / "f0" / f"{name}.csv").write_text("time,f0\n" + rows + "\n")
    (track / "stems.json").write_text(json.dumps({"f0": ["voice1", "voice2"]}))
    feats = tmp_path / "feats"
    quiet = {"splits": ("train",), "log": lambda m: None}
    assert st.prepare(tmp_path / "data", feats, subsets=1, **quiet) == 2
    assert st.prepare(tmp_path / "data", feats, subsets=1, **quiet) == 0  # already there
    f0 = np.load(feats / "train" / "t1__mix.f0.npy")
    times = frame_times(f0.shape[1])
    np.testing.assert_allclose(f0[0][times < 0.95], 440.0)
    assert (f0[1][(times > 0.1) & (times < 0.45)] == 220.0).all()
    assert (f0[1][(times > 0.55) & (times < 0.95)] == 0.0).all()
    (feats / "valid").symlink_to(feats / "train")  # valid = train here: only the loop is tested
    state = st.train(feats, tmp_path / "run", steps=2, batch=2, patch=16, width=4, ckpt_every=1,
                     valid_patches=2, log=lambda m: None)
    assert state["step"] == 2 and len(state["history"]) == 2
    card = st.export(tmp_path / "run", tmp_path / "tiny-salience")
    net = load_salience_model(card)
    assert net.card.args == {"width": 4}
    assert tomllib.loads(card.read_text())["subcommand"] == "f0 track --method salience"
