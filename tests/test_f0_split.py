"""`separate f0 split`: F0-informed NMF baseline and the source-filter model on tiny mixtures."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from separate.f0.split import fit_model, split_voices
from separate.f0.track import F0Track, write_f0_csv
from separate.nets.source_filter import SourceFilterModel

# one intra-op thread (conftest): small tensors, shared 2-core machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")

def _voice(f0: float, seconds: float, sr: int, tilt: float, vib: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    inst = f0 * (1 + 0.01 * np.sin(2 * np.pi * vib * t))
    phase = 2 * np.pi * np.cumsum(inst) / sr
    return 0.1 * sum(np.sin(h * phase) / h**tilt for h in range(1, 16)).astype(np.float32)


def _si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    a = np.dot(est, ref) / np.dot(ref, ref)
    return float(10 * np.log10(np.sum((a * ref) ** 2) / np.sum((est - a * ref) ** 2)))


def _duet(sr: int, seconds: float = 1.5):
    s1, s2 = _voice(392.0, seconds, sr, 1.0, 5.0), _voice(147.0, seconds, sr, 1.5, 4.0)
    times = np.arange(0, seconds, 0.01)
    f0 = np.stack([np.full_like(times, 392.0), np.full_like(times, 147.0)])
    track = F0Track(times=times, f0=f0)
    return s1, s2, track


def test_nmf_baseline_separates_two_voices():
    sr = 16000
    s1, s2, track = _duet(sr)
    est = split_voices(s1 + s2, sr, track, method="nmf")
    assert est.shape == (2, len(s1))
    dummy = _si_sdr((s1 + s2) / 2, s1)
    assert _si_sdr(est[0], s1) > dummy + 10 and _si_sdr(est[1], s2) > 10
    np.testing.assert_allclose(est.sum(0), s1 + s2, atol=1e-3)


def test_model_split_untrained_follows_the_f0_and_keeps_the_rate():
    sr = 22050  # not the model's rate: resampled in and out
    s1, s2, track = _duet(sr, 1.0)
    torch.manual_seed(0)
    model = SourceFilterModel(hidden=16)
    est = split_voices(s1 + s2, sr, track, model=model)
    assert est.shape == (2, len(s1))
    # even untrained, the synthesised harmonics put the masks on the right partials
    assert _si_sdr(est[0], s1) > 3 and _si_sdr(est[1], s2) > 3


def test_fit_steps_lower_the_unsupervised_loss():
    sr = 16000
    s1, s2, track = _duet(sr, 1.0)
    torch.manual_seed(0)
    model = SourceFilterModel(hidden=16)
    mix = torch.from_numpy(s1 + s2)[None]
    n = model.frame_count(mix.shape[-1])
    f0 = torch.from_numpy(track.at(np.arange(n) * model.hop / sr)).float()[None]
    losses = fit_model(model, mix, f0, steps=12, lr=3e-3, batch=1)
    assert len(losses) == 12 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < losses[0]


def test_cli_split_nmf_and_model(tmp_path):
    from typer.testing import CliRunner

    from separate.cli import app

    sr = 16000
    s1, s2, track = _duet(sr, 1.0)
    wav = tmp_path / "duet.wav"
    sf.write(wav, s1 + s2, sr)
    write_f0_csv(tmp_path / "duet.f0.csv", track)
    run = CliRunner().invoke
    res = run(app, ["f0", "split", str(wav), "-n", "2", "--f0", str(tmp_path / "duet.f0.csv"),
                    "--method", "nmf", "-o", str(tmp_path / "nmf")])
    assert res.exit_code == 0, res.output
    v1, rate = sf.read(tmp_path / "nmf" / "voice1.wav")
    assert rate == sr and len(v1) == len(s1) and _si_sdr(v1, s1) > 10
    res = run(app, ["f0", "split", str(wav), "-n", "2", "--f0", str(tmp_path / "duet.f0.csv"),
                    "--fit-steps", "1", "-o", str(tmp_path / "sf")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "sf" / "voice2.wav").is_file()
    # a CSV with the wrong number of voices is a usage error
    res = run(app, ["f0", "split", str(wav), "-n", "3", "--f0", str(tmp_path / "duet.f0.csv")])
    assert res.exit_code != 0


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError):
        split_voices(np.zeros(1000, np.float32), 16000, F0Track(np.zeros(1), np.zeros((1, 1))),
                     method="magic")


def test_cli_split_estimates_f0_when_asked(tmp_path):
    from typer.testing import CliRunner

    from separate.cli import app

    sr = 16000
    s1, s2, _ = _duet(sr, 1.0)
    wav = tmp_path / "duet.wav"
    sf.write(wav, s1 + s2, sr)
    res = CliRunner().invoke(
        app, ["f0", "split", str(wav), "-n", "2", "--method", "nmf", "-o", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output
    from separate.f0.track import read_f0_csv

    est = read_f0_csv(tmp_path / "o" / "f0.csv")
    mid = (est.times > 0.2) & (est.times < 0.8)
    assert np.median(est.f0[0][mid]) == pytest.approx(392.0, rel=0.03)
    v1, _ = sf.read(tmp_path / "o" / "voice1.wav")
    assert _si_sdr(v1, s1) > 10
