"""On-the-fly "record" augmentation of training examples: per-stem effect chains, optional
tempo and pitch changes, and a mix bus (glue compression, loudness, limiter) that keeps the
stems summing to the mixture.

Synthetic stems (``separate synth``) are clean and dry; records are compressed, equalised,
saturated, reverberant and mastered loud. Rendering a corpus per effect setting costs
~6.3 GB per hour of music per ablation row; this module instead applies the effects inside
the training data loader (:class:`separate.training.data.StemsDataset`), so every epoch sees
new settings and the corpus on disk stays dry. Validation examples are never augmented.

Per-stem effects (:meth:`RecordAugment.stems`) come from ``pedalboard`` (Spotify's wrapper of
JUCE's DSP): compressor, shelf/peak/pass filters, ``Distortion`` (tanh saturation; for
``other``, between a high-pass and a low-pass as a guitar amp and cabinet would be), chorus,
phaser, delay and ``Reverb`` (Freeverb). Each source has its own chain (``vocals``, ``drums``,
``bass``, ``other``; any other name, e.g. ``accompaniment``, gets EQ, compression and
reverb), and each effect of a chain is used with its own probability and random parameters
(ranges in :data:`CHAINS` and ``docs/training-augmentation.md``). After its chain, a stem is
scaled back to the RMS it had before (which includes the dataset's random gain), so the
effects change its sound and not the balance of the sources. A chain that produces a
non-finite sample is dropped (the stem stays dry).

Tempo and pitch (:meth:`RecordAugment.tempo`, optional, ``stretch_prob``): one tempo factor
for all stems of the example (the dataset reads ``ceil(segment * factor)`` samples and the
stretch brings them back to ``segment``), and one pitch shift for every source except
``drums``, through ``pedalboard.time_stretch`` (Rubber Band, its faster mode). It is costly
(~0.3 s of CPU per stereo 3 s stem at 44.1 kHz), hence off by default.

The mix bus (:meth:`RecordAugment.bus`) is applied as ONE gain curve ``g(t)`` (shared by the
channels, too) that multiplies every stem, because the mixture must stay the sum of the
stems (the training target): ``sum_s g(t)·x_s(t) = g(t)·sum_s x_s(t)``, so a gain curve
computed from the mixture and applied to every stem is exactly the bus's processing of the
mixture, and the stems remain a decomposition of it. What this cannot model: anything a real
bus does that is not a gain, i.e. nonlinear bus saturation or clipping, whose harmonics and
intermodulation between sources belong to no stem; nor per-band (multiband) compression.
The curve is the product of:

1. glue compression: ``pedalboard.Compressor`` (threshold relative to the mixture's RMS,
   ratio 1.5-4, attack 5-30 ms, release 50-300 ms) run on the mixture, and its gain read back
   as ``sqrt(E[wet²] / E[dry²])`` over 5 ms windows (clipped to −30..0 dB; in near-silent
   windows, where the ratio is undefined, the gain is 1);
2. a constant make-up gain to a random target RMS of −14 to −8 dBFS (plain RMS over both
   channels; no K-weighting, so "LUFS-ish": roughly −15 to −9 LUFS on full mixes);
3. a look-ahead peak limiter of our own (its gain computer: the gain each sample needs to be
   at the ceiling, its minimum over a look-ahead and release-hold window, then a moving
   average over the look-ahead), which guarantees the mixture's peak is at most the ceiling
   (−1 to −0.3 dBFS) on every channel.

Randomness: every draw comes from the ``random.Random`` given by the caller (the dataset
seeds it from ``(seed, epoch, index)``), so an example is reproducible; the ``pedalboard``
plugins are created fresh per call and hold no state between examples.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d

MODES = ("none", "record")

#: The per-source chains: ``(effect name, probability)`` in processing order; see ``_effect``
#: for each effect's parameter ranges.
CHAINS: dict[str, list[tuple[str, float]]] = {
    "vocals": [("highpass", 0.5), ("compressor", 0.7), ("low_shelf", 0.4), ("peak", 0.5),
               ("de_ess", 0.5), ("chorus", 0.1), ("delay", 0.15), ("reverb", 0.3)],
    "drums": [("compressor", 0.7), ("low_shelf", 0.4), ("peak", 0.5), ("high_shelf", 0.4),
              ("saturation", 0.25), ("room", 0.3)],
    "bass": [("highpass_sub", 0.3), ("compressor", 0.7), ("low_shelf", 0.4), ("peak", 0.5),
             ("saturation", 0.3), ("lowpass", 0.3)],
    "other": [("low_shelf", 0.4), ("peak", 0.5), ("high_shelf", 0.4), ("compressor", 0.5),
              ("amp", 0.3), ("chorus", 0.15), ("phaser", 0.1), ("delay", 0.15),
              ("reverb", 0.3)],
    "": [("low_shelf", 0.4), ("peak", 0.5), ("high_shelf", 0.4), ("compressor", 0.5),
         ("reverb", 0.2)],  # any other source (accompaniment, piano, ...)
}


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _effect(name: str, rng: random.Random, sample_rate: int) -> list:
    """The ``pedalboard`` plugin(s) of one effect, with random parameters (filter frequencies
    kept under 0.45 × ``sample_rate``)."""
    import pedalboard as pb

    u = rng.uniform

    def hz(lo: float, hi: float) -> float:
        return min(_log_uniform(rng, lo, hi), 0.45 * sample_rate)

    if name == "highpass":
        return [pb.HighpassFilter(hz(60, 120))]
    if name == "highpass_sub":
        return [pb.HighpassFilter(hz(25, 45))]
    if name == "lowpass":
        return [pb.LowpassFilter(hz(3000, 10000))]
    if name == "compressor":
        return [pb.Compressor(threshold_db=u(-30, -10), ratio=u(2, 6), attack_ms=u(1, 30),
                              release_ms=u(50, 300))]
    if name == "low_shelf":
        return [pb.LowShelfFilter(hz(80, 300), u(-5, 5), 0.707)]
    if name == "high_shelf":
        return [pb.HighShelfFilter(hz(3000, 10000), u(-5, 5), 0.707)]
    if name == "de_ess":  # sibilance cut, or "air" boost
        return [pb.HighShelfFilter(hz(5000, 9000), u(-6, 3), 0.707)]
    if name == "peak":
        return [pb.PeakFilter(hz(200, 5000), u(-6, 6), u(0.5, 2.0))]
    if name == "saturation":
        return [pb.Distortion(drive_db=u(2, 12))]
    if name == "amp":  # guitar amp: tight low end, drive, mid push, cabinet roll-off
        return [pb.HighpassFilter(hz(70, 150)), pb.Distortion(drive_db=u(10, 30)),
                pb.PeakFilter(hz(600, 2000), u(0, 6), 1.0),
                pb.LowpassFilter(hz(3000, 7000))]
    if name == "chorus":
        return [pb.Chorus(rate_hz=u(0.3, 2.0), depth=u(0.1, 0.35), centre_delay_ms=u(5, 10),
                          feedback=0.0, mix=u(0.15, 0.4))]
    if name == "phaser":
        return [pb.Phaser(rate_hz=u(0.2, 1.5), depth=u(0.3, 0.7), centre_frequency_hz=hz(500, 1500),
                          feedback=u(0.0, 0.5), mix=u(0.2, 0.5))]
    if name == "delay":
        return [pb.Delay(delay_seconds=u(0.08, 0.45), feedback=u(0.0, 0.4), mix=u(0.05, 0.25))]
    if name == "reverb":
        return [pb.Reverb(room_size=u(0.2, 0.8), damping=u(0.3, 0.8), wet_level=u(0.05, 0.3),
                          dry_level=1.0, width=u(0.5, 1.0))]
    if name == "room":  # small room on drums
        return [pb.Reverb(room_size=u(0.05, 0.35), damping=u(0.3, 0.8), wet_level=u(0.03, 0.15),
                          dry_level=1.0, width=u(0.5, 1.0))]
    raise ValueError(f"unknown effect {name!r}")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@dataclass(frozen=True)
class RecordAugment:
    """The "record" augmentation (see the module doc).

    Args:
        sample_rate: of the stems (Hz).
        stem_prob: probability per stem of running its effect chain (each effect of the chain
            then has its own probability, :data:`CHAINS`).
        bus_prob: probability per example of the mix bus.
        stretch_prob: probability per example of a tempo change (factor 0.9-1.1, the same for
            all stems) and pitch shift (−2..+2 semitones, the same for all stems but drums).
    """

    sample_rate: int
    stem_prob: float = 0.8
    bus_prob: float = 0.8
    stretch_prob: float = 0.0

    def tempo(self, rng: random.Random) -> tuple[float, float]:
        """``(tempo factor, semitones)`` for an example; ``(1.0, 0.0)`` means no stretch.
        Draw it first: the caller reads ``ceil(segment * factor)`` samples per stem."""
        if self.stretch_prob <= 0 or rng.random() >= self.stretch_prob:
            return 1.0, 0.0
        return rng.uniform(0.9, 1.1), rng.uniform(-2.0, 2.0)

    def __call__(self, stems: np.ndarray, sources: list[str], rng: random.Random,
                 segment: int, stretch: tuple[float, float] = (1.0, 0.0)) -> np.ndarray:
        """Augment one example.

        Args:
            stems: ``float32 [S, C, L]`` (``L = ceil(segment * factor)`` with a stretch, else
                ``segment``).
            sources: the ``S`` source names.
            rng: the example's random stream.
            segment: output length in samples.
            stretch: from :meth:`tempo`.

        Returns:
            ``float32 [S, C, segment]``; its sum over ``S`` is the augmented mixture.
        """
        if stretch != (1.0, 0.0):
            stems = self.stretch(stems, sources, segment, *stretch)
        stems = self.stems(stems, sources, rng)
        if self.bus_prob > 0 and rng.random() < self.bus_prob:
            stems = self.bus(stems, rng)
        return stems

    def stretch(self, stems: np.ndarray, sources: list[str], segment: int, factor: float,
                semitones: float) -> np.ndarray:
        """Every stem time-stretched by ``factor`` (faster above 1) and, but ``drums``,
        pitch-shifted by ``semitones``; cut or zero-padded to ``segment`` samples."""
        import pedalboard as pb

        out = np.zeros(stems.shape[:2] + (segment,), np.float32)
        for i, (x, s) in enumerate(zip(stems, sources, strict=True)):
            y = pb.time_stretch(np.ascontiguousarray(x), float(self.sample_rate), factor,
                                0.0 if s == "drums" else semitones, high_quality=False)
            y = y[:, :segment]
            out[i, :, : y.shape[1]] = y if np.isfinite(y).all() else x[:, : y.shape[1]]
        return out

    def stems(self, stems: np.ndarray, sources: list[str], rng: random.Random) -> np.ndarray:
        """Each stem ``[C, T]`` through its source's random chain, at its RMS before."""
        import pedalboard as pb

        out = []
        for x, s in zip(stems, sources, strict=True):
            if self.stem_prob > 0 and rng.random() < self.stem_prob:
                plugins = [p for name, prob in CHAINS.get(s, CHAINS[""])
                           if rng.random() < prob for p in _effect(name, rng, self.sample_rate)]
                before = _rms(x)
                if plugins and before > 1e-7:
                    y = pb.Pedalboard(plugins)(np.ascontiguousarray(x), float(self.sample_rate))
                    after = _rms(y) if np.isfinite(y).all() else 0.0
                    if after > 1e-9:
                        x = (y * np.float32(before / after)).astype(np.float32)
            out.append(x)
        return np.stack(out)

    def bus(self, stems: np.ndarray, rng: random.Random) -> np.ndarray:
        """All stems ``[S, C, T]`` times the mix bus's gain curve of their sum (see the module
        doc): the sum of the result is the bus's output, with a peak at most the ceiling."""
        g = bus_gain(stems.sum(0), self.sample_rate, rng)
        return (stems * g).astype(np.float32)


def bus_gain(mix: np.ndarray, sample_rate: int, rng: random.Random) -> np.ndarray:
    """The mix bus as a gain curve: ``float32 [T]`` such that ``mix * g`` is ``mix`` glued,
    brought to a random loudness and peak-limited (see the module doc).

    Args:
        mix: ``float32 [C, T]``.
        sample_rate: Hz.
        rng: the example's random stream.

    Returns:
        ``g`` (all ones for a silent mixture), finite and positive.
    """
    import pedalboard as pb

    mix = np.ascontiguousarray(mix, dtype=np.float32)
    T = mix.shape[-1]
    level = _rms(mix)
    if level < 1e-6:
        return np.ones(T, np.float32)
    # 1. glue compression, gain read back from 5 ms energy envelopes
    comp = pb.Compressor(threshold_db=20 * math.log10(level) + rng.uniform(-8, 0),
                         ratio=rng.uniform(1.5, 4), attack_ms=rng.uniform(5, 30),
                         release_ms=rng.uniform(50, 300))
    wet = comp(mix, float(sample_rate))
    win = max(1, int(0.005 * sample_rate))
    e_dry = uniform_filter1d(np.mean(np.square(mix, dtype=np.float64), 0), win, mode="constant")
    e_wet = uniform_filter1d(np.mean(np.square(wet, dtype=np.float64), 0), win, mode="constant")
    floor = 1e-4 * float(np.mean(e_dry))  # −40 dB under the mean energy: ratio undefined
    ratio = np.maximum(e_wet, 0.0) / np.maximum(e_dry, floor)
    glue = np.where(e_dry > floor, np.sqrt(ratio), 1.0)
    glue = np.clip(np.nan_to_num(glue, nan=1.0), 10 ** (-30 / 20), 1.0)
    # 2. make-up gain to the target RMS
    target = 10 ** (rng.uniform(-14, -8) / 20)
    g = glue * (target / max(_rms(mix * glue), 1e-9))
    # 3. look-ahead limiter: need(t) = the gain that puts sample t at the ceiling
    ceiling = 10 ** (rng.uniform(-1.0, -0.3) / 20)
    ahead = max(1, int(rng.uniform(1.5, 5) * 1e-3 * sample_rate))
    hold = int(rng.uniform(10, 80) * 1e-3 * sample_rate)
    peak = np.max(np.abs(mix), 0).astype(np.float64) * g
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    need = np.pad(need, (hold + ahead, 2 * ahead), constant_values=1.0)  # silence: no limit
    # h(s) = min need[s - hold .. s + ahead - 1]; limit(t) = mean h[t - ahead + 1 .. t]: every
    # h averaged into limit(t) is a minimum over a window that holds t, so limit(t) <= need(t)
    # (scipy's window for output i starts at i - size // 2 - origin)
    n = hold + ahead
    h = minimum_filter1d(need, n, origin=hold - n // 2, mode="nearest")
    limit = uniform_filter1d(h, ahead, origin=(ahead - 1) // 2, mode="nearest")
    limit = limit[hold + ahead: hold + ahead + T]
    g = g * limit
    # float rounding of the average can overshoot need(t) by ~1e-16 relative: keep the ceiling
    g = np.minimum(g, ceiling / np.maximum(np.max(np.abs(mix), 0), 1e-12))
    return g.astype(np.float32)
