"""The embedded source-filter model (models/f0-choir): loads offline and separates a duet."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from separate.f0.split import DEFAULT_MODEL, load_source_filter, split_voices
from separate.f0.track import F0Track, write_f0_csv

# one intra-op thread (conftest): small tensors, shared 2-core machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _voice(f0: float, seconds: float, sr: int, tilt: float, vib: float) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.01 * np.sin(2 * np.pi * vib * t))) / sr
    return 0.1 * sum(np.sin(h * phase) / h**tilt for h in range(1, 16)).astype(np.float32)


def _si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    a = np.dot(est, ref) / np.dot(ref, ref)
    return float(10 * np.log10(np.sum((a * ref) ** 2) / np.sum((est - a * ref) ** 2)))


def _duet(sr: int = 16000, seconds: float = 2.0):
    s1, s2 = _voice(392.0, seconds, sr, 1.0, 5.0), _voice(147.0, seconds, sr, 1.5, 4.0)
    times = np.arange(0, seconds, 0.01)
    track = F0Track(times, np.stack([np.full_like(times, 392.0), np.full_like(times, 147.0)]))
    return s1, s2, track


def test_embedded_model_loads_and_separates_a_duet():
    model = load_source_filter(DEFAULT_MODEL)  # sha256-checked, from the package, no network
    assert not model.training
    s1, s2, track = _duet()
    mix = s1 + s2
    est = split_voices(mix, 16000, track)  # model=None: the embedded default
    assert est.shape == (2, len(mix)) and np.isfinite(est).all()
    np.testing.assert_allclose(est.sum(0), mix, atol=1e-3)  # Wiener masks sum to one
    dummy = _si_sdr(mix / 2, s1)
    assert _si_sdr(est[0], s1) > dummy + SDR_MARGIN_DB
    assert _si_sdr(est[1], s2) > _si_sdr(mix / 2, s2) + SDR_MARGIN_DB
    # swapping the F0 columns swaps the outputs: the model follows the F0
    swapped = split_voices(mix, 16000, F0Track(track.times, track.f0[::-1]))
    assert _si_sdr(swapped[1], s1) > dummy + SDR_MARGIN_DB


def test_cli_split_uses_the_embedded_model_by_default(tmp_path):
    from typer.testing import CliRunner

    from separate.cli import app

    s1, s2, track = _duet(seconds=1.0)
    wav = tmp_path / "duet.wav"
    sf.write(wav, s1 + s2, 16000)
    write_f0_csv(tmp_path / "duet.f0.csv", track)
    res = CliRunner().invoke(
        app, ["f0", "split", str(wav), "-n", "2", "--f0", str(tmp_path / "duet.f0.csv"),
              "-o", str(tmp_path / "out")]
    )
    assert res.exit_code == 0, res.output
    assert "untrained" not in res.output
    v1, _ = sf.read(tmp_path / "out" / "voice1.wav")
    assert _si_sdr(v1, s1) > _si_sdr((s1 + s2) / 2, s1) + SDR_MARGIN_DB


SDR_MARGIN_DB = 10.0
