"""Property test of ``separate split`` (issue 20): random lengths, rates, channel counts and
levels through the CLI with the embedded ``default`` model, checked on the files it writes.

What ``split`` promises, and so what is checked (docs/ARCHITECTURE.md, "The contracts", and
``separate split --help``):

- **Shape.** Every stem has the input's sample rate, length and channel count (no resampling
  of the output is documented: the engine resamples to the model's 44.1 kHz and back). A
  6-channel input is refused (exit 1, one line naming the file, nothing written) unless
  ``--downmix`` is given; then the stems are stereo, mixed down by
  :func:`separate.audio.channels.downmix_to_stereo`.
- **No NaN or inf** in any stem.
- **The stems sum to the mixture** (``--residual``, the default). The ``default`` model is a
  complex-mask U-Net whose masks are bounded independently per source (``tanh``, Jansson
  Eq. 6.7): its raw outputs do *not* sum to the mixture (``--no-residual`` gives them, and
  they are not checked here). The sum holds because the stem plan adds
  ``mixture − Σ sources`` to ``other`` (:mod:`separate.stems`), so it holds for every model
  and is checked on the written files, read back with soundfile, within the output format's
  precision (float WAV: float32 rounding; 16/24-bit: less than one quantisation step per
  stem; see ``_tolerance``).
- **Nothing is clipped in silence.** Above full scale, a float input written as float WAV (the
  default for a float input) keeps every sample: no warning and the sum holds. With
  ``--bit-depth 16``/``24`` the writer clips to [-1, 1]: then either the files still sum to
  the mixture, or stderr carries the clipping warning naming the file and saying the stems no
  longer sum to the mixture.

40 examples (and the two fixed cases) take about 15 s of CPU on one torch thread.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from separate.audio.channels import downmix_to_stereo
from tests.conftest import run_cli

RATES = [8000, 22050, 44100, 48000, 96000]
STEMS = ["bass", "drums", "other", "vocals"]  # the default model's sources, sorted


@st.composite
def mixtures(draw):
    """``(sample rate, float32 [channels, frames], input subtype)`` with a drawn peak level."""
    sr = draw(st.sampled_from(RATES))
    frames = draw(st.one_of(st.integers(1, 600), st.integers(1, 2 * sr)))
    channels = draw(st.sampled_from([1, 2, 6]))
    peak = draw(st.one_of(st.just(0.0), st.floats(1e-3, 1.0), st.floats(1.0, 8.0)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / sr
    x = np.stack([np.sin(2 * np.pi * rng.uniform(50, 2000) * t + rng.uniform(0, 6.3))
                  + 0.5 * rng.standard_normal(frames) for _ in range(channels)])
    top = np.abs(x).max()
    x = (x * (peak / top if top > 0 else 0.0)).astype(np.float32)
    # a PCM input cannot hold more than full scale: above it the input is float, as a user's is
    subtype = "FLOAT" if peak > 1.0 else draw(st.sampled_from(["FLOAT", "PCM_16", "PCM_24"]))
    return sr, x, subtype


def _tolerance(subtype: str, peak: float, stems: list[np.ndarray]) -> float:
    """Largest |Σ stems − mixture| the output format allows for ``stems`` (as read back).

    Float: float32 rounding of each stem and of the residual. PCM of ``b`` bits, step
    ``q = 2^(1-b)``: libsndfile's float → PCM → float round trip is off by less than one step
    per sample (it does not round to the nearest step: measured, errors in ``(-q, q)``), so
    by less than ``q`` per stem, plus float32 rounding of the residual (at 24 bits, ``q`` is
    only 2^-23)."""
    eps = float(np.finfo(np.float32).eps)
    if subtype == "FLOAT":
        return 1e-6 * max(1.0, peak) * len(stems)
    q = 2.0 ** (1 - {"PCM_16": 16, "PCM_24": 24}[subtype])
    return q * len(stems) + 2 * eps * sum(float(np.abs(y).max()) for y in stems)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mix=mixtures(), bit_depth=st.sampled_from([None, "16", "24", "float"]))
def test_split_keeps_shape_and_the_written_stems_sum_to_the_mixture(mix, bit_depth, capsys,
                                                                    one_torch_thread):
    sr, x, in_subtype = mix
    with tempfile.TemporaryDirectory() as tmp:
        song = Path(tmp) / "song.wav"
        sf.write(str(song), x.T, sr, subtype=in_subtype)
        mixture, _ = sf.read(str(song), dtype="float32", always_2d=True)  # what split reads
        mixture = mixture.T
        out = Path(tmp) / "out"
        args = ["split", str(song), "-o", str(out), "-m", "default", "--device", "cpu"]
        if bit_depth is not None:
            args += ["--bit-depth", bit_depth]
        if x.shape[0] > 2:
            code, _, err = run_cli(args, capsys)
            lines = [ln for ln in err.splitlines() if ln.strip() and "error" in ln]
            assert code == 1 and len(lines) == 1 and "song.wav" in lines[0], err
            assert "6 channels" in lines[0] and "--downmix" in lines[0], err
            assert not out.exists() or not any(out.rglob("*.wav")), "half-written stems"
            args.append("--downmix")
            mixture = downmix_to_stereo(mixture)
        code, _, err = run_cli(args, capsys)
        assert code == 0, err
        text = " ".join(err.split())  # rich wraps long lines
        files = sorted((out / "song").iterdir())
        assert [p.stem for p in files] == STEMS
        stems = {}
        out_subtype = ""
        for p in files:
            info = sf.info(str(p))
            assert info.samplerate == sr, p
            y, _ = sf.read(str(p), dtype="float64", always_2d=True)
            assert y.shape == (x.shape[1], mixture.shape[0]), (p, y.shape)
            assert np.isfinite(y).all(), p
            stems[p.stem] = y.T
            out_subtype = info.subtype
        expected = bit_depth or ("float" if in_subtype == "FLOAT" else "16")
        assert out_subtype == {"float": "FLOAT", "16": "PCM_16", "24": "PCM_24"}[expected]

        peak = float(np.abs(mixture).max())
        error = float(np.abs(sum(stems.values()) - mixture).max())
        tol = _tolerance(out_subtype, peak, list(stems.values()))
        clipping_warned = "clipped" in text and "no longer sum to the mixture" in text
        if out_subtype == "FLOAT":
            assert not clipping_warned, err
            # above full scale too: float stems are stored as they are
            assert error <= tol, f"float stems miss the mixture by {error:.3g} (tol {tol:.3g})"
        elif error > tol:  # a PCM stem was clipped: never in silence
            assert clipping_warned and "song.wav" in text, (
                f"the stems miss the mixture by {error:.3g} (tol {tol:.3g}) with no warning: {err}")
        if clipping_warned:  # a warning is about clipping, which only PCM does
            assert out_subtype != "FLOAT" and peak > 0.0, err


@pytest.mark.parametrize("bit_depth", ["16", "float"])
def test_a_loud_float_input_is_kept_as_float_or_clipped_with_a_warning(tmp_path, capsys,
                                                                       one_torch_thread,
                                                                       bit_depth):
    """The fixed case the property draws only sometimes: a mixture peaking at 4.0."""
    sr = 44100
    t = np.arange(sr // 2) / sr
    x = (4.0 * np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)])
         ).astype(np.float32)
    sf.write(str(tmp_path / "loud.wav"), x.T, sr, subtype="FLOAT")
    args = ["split", str(tmp_path / "loud.wav"), "-o", str(tmp_path / "out"), "-m", "default",
            "--device", "cpu"]
    if bit_depth != "float":
        args += ["--bit-depth", bit_depth]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    text = " ".join(err.split())
    stems = [sf.read(str(p), dtype="float64", always_2d=True)[0].T
             for p in sorted((tmp_path / "out" / "loud").iterdir())]
    error = float(np.abs(sum(stems) - x).max())
    if bit_depth == "float":
        assert "clipped" not in text
        assert max(float(np.abs(s).max()) for s in stems) > 1.0
        assert error <= 1e-5
    else:
        assert "clipped" in text and "no longer sum to the mixture" in text and "loud.wav" in text
        assert max(float(np.abs(s).max()) for s in stems) <= 1.0
        assert error > 1e-2
