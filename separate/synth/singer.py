"""A source-filter singing voice, vectorised in numpy/scipy.

The model follows the source-filter view of Schulze-Forster et al. (IEEE/ACM TASLP 2023),
Sec. III-A: a harmonic excitation at the fundamental frequency plus a noise excitation, shaped
by a time-varying vocal-tract filter. Here:

- **F0** (per sample): the notes' pitches, joined by smooth glides (one-pole smoothing in the
  log-frequency domain), with vibrato (4.5-6.5 Hz, 20-60 cents, fading in after the attack of
  long notes), slow drift and jitter (low-passed noise, a few cents).
- **Harmonic excitation**: a band-limited pulse train with every harmonic below 0.45 fs at equal
  amplitude, in closed form (Dirichlet kernel ``sum_k cos(k phi)``), so its cost does not grow
  with the number of harmonics; a glottal spectral tilt is applied in the filter.
- **Noise excitation**: aspiration noise modulated by the glottal cycle, and consonant noise
  bursts (fricatives *s*, *sh*, *f*, *h*; plosive bursts *t*, *k*, *p*) before syllables, and
  breaths before phrases.
- **Filter**: the vowel's formants (F1-F5 with bandwidths and levels of sung vowels
  a/e/i/o/u for soprano, alto, tenor and bass, the classic published formant tables) as a
  spectral envelope applied frame by frame in the STFT domain; the vowel changes from syllable
  to syllable with 40-80 ms transitions, some syllables are diphthongs, nasals (*m*, *n*) dim
  the onset with a low murmur formant.

The F0 returned with the audio is exactly the F0 the harmonic excitation was synthesised with,
zero where the voice is unvoiced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.fft import irfft, rfft
from scipy.signal import lfilter

from separate.synth.render import NoteEvent

__all__ = ["SingerVoice", "sing", "VOICE_RANGES", "F0_HOP_SECONDS"]

F0_HOP_SECONDS = 0.01
"""Hop of the F0 track returned by :func:`sing` (s)."""

VOICE_RANGES = {"soprano": (60, 81), "alto": (53, 74), "tenor": (48, 69), "bass": (40, 64)}
"""Comfortable MIDI pitch ranges of the four voice types."""

# Sung-vowel formants: (freqs Hz, levels dB, bandwidths Hz) for a, e, i, o, u.
_FORMANTS = {
    "soprano": {
        "a": ((800, 1150, 2900, 3900, 4950), (0, -6, -32, -20, -50), (80, 90, 120, 130, 140)),
        "e": ((350, 2000, 2800, 3600, 4950), (0, -20, -15, -40, -56), (60, 100, 120, 150, 200)),
        "i": ((270, 2140, 2950, 3900, 4950), (0, -12, -26, -26, -44), (60, 90, 100, 120, 120)),
        "o": ((450, 800, 2830, 3800, 4950), (0, -11, -22, -22, -50), (70, 80, 100, 130, 135)),
        "u": ((325, 700, 2700, 3800, 4950), (0, -16, -35, -40, -60), (50, 60, 170, 180, 200)),
    },
    "alto": {
        "a": ((800, 1150, 2800, 3500, 4950), (0, -4, -20, -36, -60), (80, 90, 120, 130, 140)),
        "e": ((400, 1600, 2700, 3300, 4950), (0, -24, -30, -35, -60), (60, 80, 120, 150, 200)),
        "i": ((350, 1700, 2700, 3700, 4950), (0, -20, -30, -36, -60), (50, 100, 120, 150, 200)),
        "o": ((450, 800, 2830, 3500, 4950), (0, -9, -16, -28, -55), (70, 80, 100, 130, 135)),
        "u": ((325, 700, 2530, 3500, 4950), (0, -12, -30, -40, -64), (50, 60, 170, 180, 200)),
    },
    "tenor": {
        "a": ((650, 1080, 2650, 2900, 3250), (0, -6, -7, -8, -22), (80, 90, 120, 130, 140)),
        "e": ((400, 1700, 2600, 3200, 3580), (0, -14, -12, -14, -20), (70, 80, 100, 120, 120)),
        "i": ((290, 1870, 2800, 3250, 3540), (0, -15, -18, -20, -30), (40, 90, 100, 120, 120)),
        "o": ((400, 800, 2600, 2800, 3000), (0, -10, -12, -12, -26), (40, 80, 100, 120, 120)),
        "u": ((350, 600, 2700, 2900, 3300), (0, -20, -17, -14, -26), (40, 60, 100, 120, 120)),
    },
    "bass": {
        "a": ((600, 1040, 2250, 2450, 2750), (0, -7, -9, -9, -20), (60, 70, 110, 120, 130)),
        "e": ((400, 1620, 2400, 2800, 3100), (0, -12, -9, -12, -18), (40, 80, 100, 120, 120)),
        "i": ((250, 1750, 2600, 3050, 3340), (0, -30, -16, -22, -28), (60, 90, 100, 120, 120)),
        "o": ((400, 750, 2400, 2600, 2900), (0, -11, -21, -20, -40), (40, 80, 100, 120, 120)),
        "u": ((350, 600, 2400, 2675, 2950), (0, -20, -32, -28, -36), (40, 80, 100, 120, 120)),
    },
}
_VOWELS = ("a", "e", "i", "o", "u")
# Consonant noise: (centre Hz, bandwidth Hz, duration s, level) ; "h" uses the vowel envelope.
_CONSONANTS = {
    "s": (6500, 3500, 0.09, 0.12),
    "sh": (3200, 2000, 0.10, 0.12),
    "f": (5000, 6000, 0.08, 0.05),
    "h": (0, 0, 0.07, 0.1),
    "t": (4500, 3000, 0.025, 0.2),
    "k": (2200, 1500, 0.03, 0.2),
    "p": (900, 1200, 0.02, 0.15),
}
_NASALS = ("m", "n")
_LIQUIDS = ("l", "r", "w", "y")


@dataclass(frozen=True)
class SingerVoice:
    """Random characteristics of one singer (drawn with :meth:`random`).

    Args:
        voice: ``soprano``, ``alto``, ``tenor`` or ``bass`` (formant table).
        formant_scale: all formant frequencies multiplied by this (vocal-tract length).
        vibrato_rate: Hz. vibrato_depth: cents (peak). vibrato_delay: s after note onset.
        jitter_cents: standard deviation of the F0 jitter. glide: F0 glide time constant (s).
        tilt: spectral tilt of the glottal source (dB per octave above 300 Hz, negative).
        breathiness: level of the aspiration noise relative to the harmonics.
        consonant_rate: probability that a syllable starts with a consonant.
    """

    voice: str
    formant_scale: float
    vibrato_rate: float
    vibrato_depth: float
    vibrato_delay: float
    jitter_cents: float
    glide: float
    tilt: float
    breathiness: float
    consonant_rate: float

    @staticmethod
    def random(rng: np.random.Generator, voice: str) -> SingerVoice:
        return SingerVoice(
            voice=voice,
            formant_scale=float(rng.uniform(0.93, 1.07)),
            vibrato_rate=float(rng.uniform(4.5, 6.5)),
            vibrato_depth=float(rng.uniform(15, 45)),
            vibrato_delay=float(rng.uniform(0.12, 0.35)),
            jitter_cents=float(rng.uniform(3, 10)),
            glide=float(rng.uniform(0.008, 0.025)),
            tilt=float(rng.uniform(-9, -4.5)),
            breathiness=float(rng.uniform(0.02, 0.12)),
            consonant_rate=float(rng.uniform(0.55, 0.9)),
        )


def _envelope_db(freqs: np.ndarray, fmt: np.ndarray, lev: np.ndarray, bw: np.ndarray):
    """Spectral envelope (linear magnitude) ``[frames, bins]`` from formants ``[frames, 5]``.

    A sum of resonance magnitude responses (parallel formant synthesis), levels in dB, over a
    -45 dB floor. float32 to keep it fast.
    """
    f = freqs.astype(np.float32)[None, :]
    out = np.full((fmt.shape[0], len(freqs)), 10 ** (-45 / 20), dtype=np.float32)
    for j in range(fmt.shape[1]):
        x = (f - fmt[:, j:j + 1].astype(np.float32)) * (2 / bw[:, j:j + 1].astype(np.float32))
        out += (10 ** (lev[:, j:j + 1] / 20.0)).astype(np.float32) / np.sqrt(1.0 + x * x)
    return out


def sing(
    notes: Sequence[NoteEvent],
    num_samples: int,
    sample_rate: int,
    rng: np.random.Generator,
    voice: SingerVoice,
    lyrics: Sequence[str | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sing monophonic ``notes`` (one syllable per note, with melismas).

    Without ``lyrics`` the vowels and consonants are random; with ``lyrics`` (one entry per
    note, None or "" continuing the previous syllable) each syllable's leading consonant and
    vowel (or diphthong) are taken from its spelling, roughly (:func:`syllable_sounds`).

    Args:
        notes: non-overlapping notes, times in s.
        num_samples: length of the output (samples).
        sample_rate: Hz.
        rng: random generator (vowels, consonants, jitter, noise).
        voice: the singer's characteristics.
        lyrics: optional syllable text per note.

    Returns:
        ``(audio, f0_times, f0)``: mono float32 ``[num_samples]`` (peak about 1), and the F0
        track: times (s) every :data:`F0_HOP_SECONDS` and F0 in Hz (0 where unvoiced).
    """
    sr = sample_rate
    n = num_samples
    notes = sorted(notes, key=lambda x: x.start)
    # ---- control signals at a control rate of 1 kHz, then interpolated to samples -------------
    cr = 1000
    nc = int(np.ceil(n / sr * cr)) + 2
    tc = np.arange(nc) / cr
    target = np.full(nc, np.nan)
    amp = np.zeros(nc)
    vib_env = np.zeros(nc)
    prev_end = -1.0
    for note in notes:
        i0, i1 = int(note.start * cr), int(note.end * cr)
        if i1 <= i0 or i0 >= nc:
            continue
        i1 = min(i1, nc)
        target[i0:i1] = note.pitch
        dur = note.end - note.start
        a = np.ones(i1 - i0)
        att = int(cr * (0.02 if note.start - prev_end < 0.05 else 0.05))
        rel = int(cr * min(0.06, dur / 3))
        a[: min(att, len(a))] *= np.linspace(0.0, 1.0, min(att, len(a)))
        if rel > 0:
            a[-rel:] *= np.linspace(1.0, 0.0, rel) ** 1.5
        amp[i0:i1] = np.maximum(amp[i0:i1], a * (0.55 + 0.45 * note.velocity / 127))
        if dur > 0.25:
            ramp = np.clip((tc[i0:i1] - note.start - voice.vibrato_delay) / 0.25, 0, 1)
            vib_env[i0:i1] = ramp
        prev_end = note.end
    voiced_c = amp > 0.05 * (amp.max() if amp.max() > 0 else 1)
    # Pitch between notes: across short (legato) gaps hold the previous note, so the voice
    # glides into the next one; across rests (> 80 ms) jump to the next note's pitch, so a
    # phrase starts on pitch (with an occasional small scoop from below).
    known = ~np.isnan(target)
    ar = np.arange(nc)
    prev_i = np.maximum.accumulate(np.where(known, ar, -1))
    next_i = np.minimum.accumulate(np.where(known, ar, nc)[::-1])[::-1]
    first = notes[0].pitch if notes else 60
    prev_p = np.where(prev_i >= 0, target[np.maximum(prev_i, 0)], np.nan)
    next_p = np.where(next_i < nc, target[np.minimum(next_i, nc - 1)], np.nan)
    gap = (next_i - prev_i) / cr
    held = np.where(known, target, np.where((gap <= 0.08) & ~np.isnan(prev_p), prev_p, next_p))
    held = np.where(np.isnan(held), np.where(np.isnan(prev_p), first, prev_p), held)
    for note in notes:
        i0 = int(note.start * cr)
        if 0 < i0 < nc and not known[i0 - 1] and rng.random() < 0.3:
            m = min(nc - i0, int(cr * rng.uniform(0.04, 0.09)))
            held[i0:i0 + m] -= rng.uniform(0.3, 1.0) * np.linspace(1, 0, m)  # scoop
    # Glides: one-pole smoothing of the pitch (in semitones), time constant voice.glide.
    alpha = np.exp(-1.0 / (voice.glide * cr))
    pitch, _ = lfilter([1 - alpha], [1, -alpha], held - held[0], zi=[0.0])
    pitch = pitch + held[0]
    # Vibrato with a slowly wandering rate, drift and jitter (cents).
    rate = voice.vibrato_rate * (1 + 0.05 * _lowpass_noise(rng, nc, 0.5, cr))
    vib = voice.vibrato_depth * vib_env * np.sin(2 * np.pi * np.cumsum(rate) / cr
                                                 + rng.uniform(0, 2 * np.pi))
    drift = 8.0 * _lowpass_noise(rng, nc, 0.3, cr)
    jitter = voice.jitter_cents * _lowpass_noise(rng, nc, 30.0, cr)
    midi = pitch + (vib + drift + jitter) / 100.0
    f0_c = 440.0 * 2 ** ((midi - 69) / 12)
    # ---- per-sample excitation --------------------------------------------------------------
    ts = np.arange(n) / sr
    f0 = np.interp(ts, tc, f0_c)
    a_s = np.interp(ts, tc, amp)
    shimmer = 1 + 0.04 * np.interp(ts, tc, _lowpass_noise(rng, nc, 40.0, cr))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    k = np.floor(0.45 * sr / f0)  # harmonics below 0.45 fs
    half = 0.5 * phase
    s = np.sin(half)
    with np.errstate(divide="ignore", invalid="ignore"):
        pulse = np.where(np.abs(s) > 1e-6, np.sin((k + 0.5) * phase) / (2 * s) - 0.5, k)
    pulse = pulse / np.sqrt(np.maximum(k, 1.0) / 2)  # unit RMS whatever the number of harmonics
    glottal = 0.5 - 0.5 * np.cos(phase)  # aspiration is pulsed with the glottal cycle
    noise = rng.standard_normal(n)
    excitation = a_s * shimmer * (pulse + voice.breathiness * 2 * glottal * noise)
    # ---- consonants and breaths (noise bursts) ----------------------------------------------
    cons = np.zeros(n)
    events: list[tuple[float, float, str, str]] = []  # start, end, kind, vowel-after
    vowels: list[tuple[float, str, str | None]] = []  # onset, vowel, diphthong target
    prev_end = -1.0
    vowel = str(rng.choice(_VOWELS))
    if lyrics is not None and len(lyrics) != len(notes):
        raise ValueError(f"{len(lyrics)} lyrics for {len(notes)} notes")
    for i, note in enumerate(notes):
        melisma = note.start - prev_end < 0.03 and rng.random() < 0.25
        vowel_draw = str(rng.choice(_VOWELS, p=[0.3, 0.2, 0.2, 0.2, 0.1]))
        diph_draw = str(rng.choice(_VOWELS)) if rng.random() < 0.25 else None
        cons_on = rng.random() < voice.consonant_rate
        cons_draw = str(rng.choice(list(_CONSONANTS) + list(_NASALS) + list(_LIQUIDS)))
        if lyrics is not None:
            text = lyrics[i]
            melisma = not text and i > 0
            if text:
                c, v, d = syllable_sounds(text)
                vowel_draw, diph_draw = v or vowel_draw, d
                cons_on, cons_draw = c is not None, c or cons_draw
        if not melisma:
            vowel = vowel_draw
            diph = diph_draw
            vowels.append((note.start, vowel, diph))
            if note.start - prev_end > 0.6 and rng.random() < 0.5:
                events.append((note.start - 0.35, note.start - 0.1, "breath", vowel))
            if cons_on:
                kind = cons_draw
                if kind in _CONSONANTS:
                    dur = _CONSONANTS[kind][2] * rng.uniform(0.7, 1.3)
                    events.append((max(0.0, note.start - dur), note.start, kind, vowel))
                elif kind in _NASALS:
                    events.append((note.start, note.start + 0.06, "nasal", vowel))
        prev_end = note.end
    for t0, t1, kind, _v in events:
        i0, i1 = max(0, int(t0 * sr)), min(n, int(t1 * sr))
        if i1 <= i0 or kind == "nasal":
            continue
        m = i1 - i0
        level = 0.06 if kind == "breath" else _CONSONANTS[kind][3]
        if kind in ("t", "k", "p"):
            env = np.exp(-np.linspace(0, 6, m))
        else:
            env = np.sin(np.linspace(0, np.pi, m)) ** 0.7
        cons[i0:i1] += level * env * rng.standard_normal(m)
    # ---- filtering in the STFT domain (only frames where something sounds) -----------------
    nfft, hop = 2048, 512
    spec, live, nf = _stft_live(np.stack([excitation, cons]), nfft, hop)
    ex, cx = spec[0], spec[1]  # [live frames, bins]
    frame_t = np.arange(nf) * hop / sr
    freqs = np.fft.rfftfreq(nfft, 1 / sr)
    table = _FORMANTS[voice.voice]
    fmt = np.zeros((nf, 5))
    lev = np.zeros((nf, 5))
    bw = np.zeros((nf, 5))
    starts = [v[0] for v in vowels] or [0.0]
    seg = np.searchsorted(starts, frame_t, side="right") - 1
    seg = np.clip(seg, 0, max(0, len(vowels) - 1))
    for i, (t0, v, diph) in enumerate(vowels or [(0.0, "a", None)]):
        sel = seg == i
        if not sel.any():
            continue
        f_a, l_a, b_a = (np.asarray(x, float) for x in table[v])
        if diph is None:
            fmt[sel], lev[sel], bw[sel] = f_a, l_a, b_a
        else:
            f_b, l_b, b_b = (np.asarray(x, float) for x in table[diph])
            t_end = starts[i + 1] if i + 1 < len(starts) else frame_t[-1] + 1e-3
            w = np.clip((frame_t[sel] - t0) / max(1e-3, t_end - t0), 0, 1)[:, None] ** 2
            fmt[sel] = (1 - w) * f_a + w * f_b
            lev[sel] = (1 - w) * l_a + w * l_b
            bw[sel] = (1 - w) * b_a + w * b_b
    # vowel transitions of ~50 ms: moving average over 5 frames
    kern = np.ones(5) / 5
    for arr in (fmt, lev, bw):
        padded = np.pad(arr, ((2, 2), (0, 0)), mode="edge")
        arr[:] = np.stack([np.convolve(padded[:, j], kern, mode="valid") for j in range(5)], 1)
    fmt *= voice.formant_scale
    # nasal murmurs: low first formant, dimmed upper formants
    for t0, t1, kind, _v in events:
        if kind == "nasal":
            sel = (frame_t >= t0) & (frame_t < t1)
            fmt[sel, 0] = 250.0
            lev[sel, 1:] -= 25.0
    tilt = np.where(freqs > 300, voice.tilt * np.log2(np.maximum(freqs, 1) / 300), 0.0)
    env = _envelope_db(freqs, fmt[live], lev[live], bw[live]) * (
        10 ** (tilt / 20)).astype(np.float32)[None, :]
    # consonant spectra
    frame_live = frame_t[live]
    cenv = np.zeros((len(frame_live), len(freqs)), dtype=np.float32)
    for t0, t1, kind, v in events:
        sel = (frame_live >= t0 - hop / sr) & (frame_live < t1 + hop / sr)
        if not sel.any() or kind == "nasal":
            continue
        if kind in ("h", "breath"):
            f_a, l_a, b_a = (np.asarray(x, float) for x in table[v])
            shape = _envelope_db(freqs, f_a[None] * voice.formant_scale, l_a[None],
                                 b_a[None] * 2)[0]
            if kind == "breath":
                shape = shape * np.exp(-((freqs - 1500) / 2500) ** 2)
        else:
            c, b = _CONSONANTS[kind][0], _CONSONANTS[kind][1]
            shape = np.exp(-0.5 * ((freqs - c) / (b / 2)) ** 2)
        cenv[sel] = np.maximum(cenv[sel], shape[None, :])
    out = _istft_live(ex * env + cx * cenv, live, nf, nfft, hop, n)
    peak = np.abs(out).max()
    if peak > 0:
        out = out / peak
    # ---- exact F0 track ----------------------------------------------------------------------
    f0_times = np.arange(0, n / sr, F0_HOP_SECONDS)
    f0_track = np.interp(f0_times, tc, f0_c) * (np.interp(f0_times, tc, voiced_c) > 0.5)
    return out.astype(np.float32), f0_times, f0_track


_VOWEL_LETTERS = {"a": "a", "e": "e", "i": "i", "y": "i", "o": "o", "u": "u", "ä": "e",
                  "ö": "o", "ü": "u", "æ": "e", "œ": "o", "à": "a", "è": "e", "é": "e",
                  "ì": "i", "ò": "o", "ù": "u"}
_ONSETS = (("sch", "sh"), ("sh", "sh"), ("ch", "h"), ("th", "t"), ("ph", "f"), ("qu", "k"),
           ("s", "s"), ("z", "s"), ("c", "k"), ("x", "k"), ("f", "f"), ("v", "f"), ("w", "f"),
           ("h", "h"), ("t", "t"), ("d", "t"), ("k", "k"), ("g", "k"), ("q", "k"), ("p", "p"),
           ("b", "p"), ("m", "m"), ("n", "n"), ("l", "l"), ("r", "r"), ("j", "y"))


def syllable_sounds(text: str) -> tuple[str | None, str | None, str | None]:
    """Rough pronunciation of a sung syllable: ``(onset consonant, vowel, diphthong target)``.

    The onset is one of the singer's consonants (s, sh, f, h, t, k, p, m, n, l, r, y) or None;
    the vowel one of a e i o u from the first vowel letters (two different vowel letters in a
    row make a diphthong). Letters outside the Latin alphabet are ignored.
    """
    t = "".join(ch for ch in text.lower() if ch.isalpha())
    onset = None
    for spelling, kind in _ONSETS:
        if t.startswith(spelling):
            onset = kind
            break
    vowel = diph = None
    for k, ch in enumerate(t):
        if ch in _VOWEL_LETTERS:
            vowel = _VOWEL_LETTERS[ch]
            nxt = t[k + 1] if k + 1 < len(t) else ""
            if nxt in _VOWEL_LETTERS and _VOWEL_LETTERS[nxt] != vowel:
                diph = _VOWEL_LETTERS[nxt]
            break
    return onset, vowel, diph


def _stft_live(x: np.ndarray, nfft: int, hop: int) -> tuple[np.ndarray, np.ndarray, int]:
    """STFT (periodic Hann, frames centred on multiples of ``hop``) of ``x[rows, time]``,
    computed only for frames where some row is non-zero.

    Returns ``(spec[rows, live_frames, bins], live[frames] bool, frames)``.
    """
    n = x.shape[1]
    nf = n // hop + 1
    pad = nfft // 2
    xp = np.zeros((x.shape[0], nf * hop + nfft), dtype=np.float32)
    xp[:, pad:pad + n] = x
    blocks = np.abs(xp[:, : (nf * hop + nfft) // hop * hop]).reshape(x.shape[0], -1, hop)
    busy = blocks.max(axis=(0, 2)) > 0
    # frame f covers blocks f .. f + nfft/hop - 1
    k = nfft // hop
    live = np.zeros(nf, dtype=bool)
    for j in range(k):
        live |= busy[j:j + nf]
    win = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nfft) / nfft)).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(xp, nfft, axis=1)[:, ::hop][:, :nf]
    spec = rfft(frames[:, live] * win, axis=-1)
    return spec, live, nf


def _istft_live(spec: np.ndarray, live: np.ndarray, nf: int, nfft: int, hop: int,
                n: int) -> np.ndarray:
    """Inverse of :func:`_stft_live` for one row ``spec[live_frames, bins]`` (weighted
    overlap-add with the same Hann window, normalised by the summed squared window)."""
    win = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nfft) / nfft)).astype(np.float32)
    frames = np.zeros((nf, nfft), dtype=np.float32)
    frames[live] = irfft(spec, n=nfft, axis=-1) * win
    k = nfft // hop
    out = np.zeros((nf + k, hop), dtype=np.float32)
    parts = frames.reshape(nf, k, hop)
    for j in range(k):
        out[j:j + nf] += parts[:, j]
    norm = float((win**2).reshape(k, hop).sum(axis=0).mean())  # 1.5 for k = 4
    y = out.reshape(-1)[nfft // 2:nfft // 2 + n] / norm
    if len(y) < n:
        y = np.pad(y, (0, n - len(y)))
    return y


def _lowpass_noise(rng: np.random.Generator, n: int, cutoff: float, rate: float) -> np.ndarray:
    """Gaussian noise low-passed at ``cutoff`` Hz (one-pole, twice), unit standard deviation."""
    a = np.exp(-2 * np.pi * cutoff / rate)
    x = rng.standard_normal(n)
    y = lfilter([1 - a], [1, -a], lfilter([1 - a], [1, -a], x))
    sd = y.std()
    return y / sd if sd > 0 else y
