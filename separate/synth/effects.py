"""Per-part and per-stem mixing effects: gain, constant-power pan, random EQ, synthetic reverb.

All effects are linear and time-invariant, so the mixture stays exactly the sum of the stems.
Audio arrays are float ``[channels, time]``.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft
from scipy.signal import lfilter, sosfilt

__all__ = ["pan", "random_eq", "random_reverb", "db_to_gain", "digital_silence", "Room"]


def db_to_gain(db: float) -> float:
    """Decibels to a linear amplitude factor."""
    return float(10 ** (db / 20))


def pan(x: np.ndarray, position: float, gain: float = 1.0) -> np.ndarray:
    """Constant-power balance of a stereo signal ``[2, time]`` (in place when float32);
    position in [-1 (left), 1], then a linear ``gain``."""
    theta = (position + 1) * np.pi / 4
    g = np.array([np.cos(theta), np.sin(theta)]) * np.sqrt(2) * gain
    x *= g.astype(x.dtype)[:, None]
    return x


def _biquad(kind: str, f0: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """One second-order section (RBJ audio-EQ cookbook formulas), normalised ``[6]``."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * min(f0, 0.45 * sr) / sr
    alpha = np.sin(w0) / (2 * q)
    cw = np.cos(w0)
    if kind == "peak":
        b = [1 + alpha * a, -2 * cw, 1 - alpha * a]
        aa = [1 + alpha / a, -2 * cw, 1 - alpha / a]
    elif kind == "lowshelf":
        sq = 2 * np.sqrt(a) * alpha
        b = [a * ((a + 1) - (a - 1) * cw + sq), 2 * a * ((a - 1) - (a + 1) * cw),
             a * ((a + 1) - (a - 1) * cw - sq)]
        aa = [(a + 1) + (a - 1) * cw + sq, -2 * ((a - 1) + (a + 1) * cw),
              (a + 1) + (a - 1) * cw - sq]
    elif kind == "highshelf":
        sq = 2 * np.sqrt(a) * alpha
        b = [a * ((a + 1) + (a - 1) * cw + sq), -2 * a * ((a - 1) + (a + 1) * cw),
             a * ((a + 1) + (a - 1) * cw - sq)]
        aa = [(a + 1) - (a - 1) * cw + sq, 2 * ((a - 1) - (a + 1) * cw),
              (a + 1) - (a - 1) * cw - sq]
    elif kind == "highpass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        aa = [1 + alpha, -2 * cw, 1 - alpha]
    else:
        raise ValueError(kind)
    return np.array(b + aa) / aa[0]


def random_eq(x: np.ndarray, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Random EQ: optional high-pass, low shelf, one or two peaks, high shelf (±6 dB).

    Returns the filtered signal and a description of the filters (for stems.json).
    """
    sections, desc = [], []
    if rng.random() < 0.5:
        f = float(rng.uniform(30, 150))
        sections.append(_biquad("highpass", f, 0, 0.707, sr))
        desc.append(("highpass", round(f, 1), 0.0))
    f, g = float(rng.uniform(80, 300)), float(rng.uniform(-6, 6))
    sections.append(_biquad("lowshelf", f, g, 0.707, sr))
    desc.append(("lowshelf", round(f, 1), round(g, 2)))
    for _ in range(int(rng.integers(1, 3))):
        f, g = float(np.exp(rng.uniform(np.log(250), np.log(6000)))), float(rng.uniform(-6, 6))
        sections.append(_biquad("peak", f, g, float(rng.uniform(0.5, 2.0)), sr))
        desc.append(("peak", round(f, 1), round(g, 2)))
    f, g = float(rng.uniform(3000, 12000)), float(rng.uniform(-6, 5))
    sections.append(_biquad("highshelf", f, g, 0.707, sr))
    desc.append(("highshelf", round(f, 1), round(g, 2)))
    sos = np.stack(sections)
    return sosfilt(sos.astype(x.dtype), x, axis=-1), {"eq": desc}


class Room:
    """A random synthetic room: stereo, decorrelated, exponentially decaying noise.

    RT60 0.25-2.2 s, pre-delay 0-30 ms, high frequencies (above 3 kHz) decaying twice as fast.
    The impulse responses' spectra are computed once for signals of ``num_samples``, so one
    room can serve several stems (a reverb send) at the cost of one forward and two inverse
    FFTs per stem.

    Args:
        rng: random generator.
        sr: sample rate (Hz).
        num_samples: length of the signals it will be applied to.
    """

    def __init__(self, rng: np.random.Generator, sr: int, num_samples: int):
        self.rt60 = float(np.exp(rng.uniform(np.log(0.25), np.log(2.2))))
        self.predelay = float(rng.uniform(0.0, 0.03))
        m = int((self.predelay + self.rt60) * sr)
        t = np.arange(m) / sr
        ir = np.zeros((2, m))
        k = np.exp(-2 * np.pi * 3000 / sr)
        decay = np.exp(-6.9 * np.maximum(t - self.predelay, 0) / self.rt60)
        for c in range(2):
            noise = rng.standard_normal(m)
            low = lfilter([1 - k], [1, -k], noise)
            ir[c] = (low * decay + 0.5 * (noise - low) * decay**2) * (t >= self.predelay)
        ir /= np.sqrt((ir**2).sum(axis=1, keepdims=True)) + 1e-12
        self.n = num_samples
        self.nfft = next_fast_len(num_samples + m, real=True)
        self.spectrum = rfft(ir.astype(np.float32), self.nfft, axis=-1)  # [2, bins]

    def describe(self) -> dict:
        return {"rt60": round(self.rt60, 3), "predelay": round(self.predelay, 4)}

    def apply(self, x: np.ndarray, wet_db: float) -> np.ndarray:
        """``x + wet`` where wet is the room's stereo response to the mono sum of ``x[2, n]``
        at ``wet_db`` dB. The tail past the end is cut."""
        send = x.mean(axis=0, dtype=np.float32)
        wet = irfft(rfft(send, self.nfft)[None, :] * self.spectrum, self.nfft, axis=-1)
        out = wet[:, : x.shape[1]].astype(np.float32, copy=False)
        out *= np.float32(db_to_gain(wet_db))
        out += x
        return out


def random_reverb(x: np.ndarray, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Reverb ``x[2, n]`` in a new random :class:`Room` at a random wet level (-24..-8 dB)."""
    room = Room(rng, sr, x.shape[1])
    wet_db = float(rng.uniform(-24, -8))
    return room.apply(x, wet_db), {"reverb": {**room.describe(), "wet_db": round(wet_db, 2)}}


SILENCE_FLOOR = 1e-6  # -120 dBFS: far below 16-bit resolution (-96 dBFS), far above FFT round-off
SILENCE_BLOCK = 512  # samples (11.6 ms at 44.1 kHz)


def digital_silence(stems: np.ndarray, floor: float = SILENCE_FLOOR,
                    block: int = SILENCE_BLOCK) -> np.ndarray:
    """Zero the blocks of each stem whose peak stays below ``floor`` (in place; returned).

    The FFT reverb and the IIR filters leave a residue of about -140 dBFS all over a stem,
    including where its instrument never plays. A muted track exported from a DAW (or any
    16-bit stem, as in MUSDB18) is exact digital silence there, and BSS-Eval depends on it:
    museval leaves out every window in which a reference is exactly zero, but scores a
    -140 dBFS reference as a source to recover, at about -65 dB SDR for any audible leakage.

    Args:
        stems: ``float32 [S, C, T]``.
        floor: linear peak below which a block counts as silent (default -120 dBFS).
        block: block length in samples; a last partial block is tested on its own.
    """
    s, c, t = stems.shape
    full = t - t % block
    if full:
        blocks = stems[..., :full].reshape(s, c, -1, block)
        quiet = np.abs(blocks).max(axis=(1, 3)) < floor  # [S, blocks]
        blocks *= ~quiet[:, None, :, None]
    if full < t:
        tail = stems[..., full:]
        tail *= (np.abs(tail).max(axis=(1, 2)) >= floor)[:, None, None]
    return stems
