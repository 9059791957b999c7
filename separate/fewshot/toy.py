"""A toy multitrack corpus of simple synthetic timbres, in the layout of the ``ensemble`` corpus.

For tests and smoke runs only (seconds to build, no SoundFont): every voice is a random melody of
one *toy timbre* (a harmonic profile and an envelope) standing for a class of the 18-class
vocabulary, so a few-shot model can tell them apart. Layout::

    ROOT/{train,valid,test}/<track>/voice1.wav ... mixture.wav stems.json

with ``stems.json = {"voices": [{"file": "voice1.wav", "class": "strings"}, ...]}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: class → (harmonic amplitudes, decay per second (0 = sustained), MIDI pitch range)
TIMBRES: dict[str, tuple[list[float], float, tuple[int, int]]] = {
    "strings": ([1 / k for k in range(1, 13)], 0.0, (55, 79)),
    "woodwinds": ([1 / k if k % 2 else 0.0 for k in range(1, 12)], 0.0, (62, 86)),
    "mallets": ([1.0, 0.0, 0.0, 0.3], 6.0, (60, 84)),
    "bass": ([1.0, 0.5, 0.2], 1.0, (28, 48)),
    "piano": ([1 / k**1.5 for k in range(1, 10)], 3.0, (48, 76)),
    "drums": ([], 25.0, (0, 0)),  # noise bursts
}


def render_voice(
    cls: str, seconds: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """A random melody (or noise-burst pattern) of toy timbre ``cls``: ``float32 [T]``."""
    harm, decay, (lo, hi) = TIMBRES[cls]
    n = int(seconds * sample_rate)
    out = np.zeros(n, dtype=np.float64)
    t0 = 0.0
    while t0 < seconds:
        dur = float(rng.choice([0.25, 0.5, 0.75, 1.0]))
        a, b = int(t0 * sample_rate), min(n, int((t0 + dur) * sample_rate))
        t = np.arange(b - a) / sample_rate
        if rng.random() < 0.15:  # a rest
            t0 += dur
            continue
        if not harm:
            note = rng.standard_normal(b - a) * np.exp(-decay * t)
        else:
            f0 = 440.0 * 2 ** ((rng.integers(lo, hi + 1) - 69) / 12)
            note = sum(
                amp * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
                for k, amp in enumerate(harm, start=1)
                if amp and k * f0 < sample_rate / 2
            )
            env = np.exp(-decay * t) if decay else np.minimum(1.0, t / 0.02)
            note = note * env * np.minimum(1.0, (t[-1] - t + 1e-9) / 0.01)
        out[a:b] += note
        t0 += dur
    peak = np.abs(out).max()
    return (0.25 * out / peak if peak > 0 else out).astype(np.float32)


def make_toy_corpus(
    root: str | os.PathLike[str],
    tracks: Sequence[int] = (6, 2, 2),
    seconds: float = 8.0,
    voices: tuple[int, int] = (2, 4),
    classes: Sequence[str] | None = None,
    sample_rate: int = 22050,
    seed: int = 0,
) -> Path:
    """Write a toy corpus; returns ``root``.

    Args:
        root: output folder.
        tracks: number of tracks in train, valid, test.
        seconds: track length, s.
        voices: (min, max) voices per track, distinct classes.
        classes: toy classes to draw from (default: all of :data:`TIMBRES`).
        sample_rate: Hz.
        seed: random seed.
    """
    import soundfile as sf

    rng = np.random.default_rng(seed)
    pool = list(classes or TIMBRES)
    root = Path(root)
    for split, count in zip(("train", "valid", "test"), tracks, strict=True):
        for i in range(count):
            d = root / split / f"toy{i:03d}"
            d.mkdir(parents=True, exist_ok=True)
            k = int(rng.integers(voices[0], min(voices[1], len(pool)) + 1))
            chosen = rng.choice(pool, size=k, replace=False)
            entries, mix = [], np.zeros(int(seconds * sample_rate), dtype=np.float32)
            for j, cls in enumerate(chosen, start=1):
                y = render_voice(str(cls), seconds, sample_rate, rng)
                sf.write(d / f"voice{j}.wav", y, sample_rate, subtype="FLOAT")
                entries.append({"file": f"voice{j}.wav", "class": str(cls)})
                mix += y
            sf.write(d / "mixture.wav", mix, sample_rate, subtype="FLOAT")
            (d / "stems.json").write_text(json.dumps({"voices": entries}, indent=1))
    return root
