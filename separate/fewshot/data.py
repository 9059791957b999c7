"""Few-shot training and evaluation episodes from a multitrack corpus (Wang et al. 2022, Sec. 3).

Corpus layout (the synthetic ``ensemble`` corpus of ``separate synth OUT --kind ensemble``)::

    OUT/{train,valid,test}/<track>/voice1.wav ... voiceN.wav, mixture.wav, stems.json

``stems.json`` names the instrument class of every voice (from the 18-class vocabulary,
:data:`separate.synth.classes.CLASSES`). Several shapes are accepted (see
:func:`read_stems_json`); a stem made of parts of several classes (the band corpus' ``other``)
is skipped.

An *episode* (Sec. 3.2) is: a 3 s chunk of a mixture of up to five instruments, one of which is
the target (other voices of the target's class are left out of the mixture: one stem per class);
``n ∈ [min_shots, max_shots]`` conditioning examples, 3 s chunks of the target's own stem that
do not overlap the target chunk; optionally (Sec. 3.4) examples from other tracks of the
same class, or examples mixed with one other instrument (probability ``multi_source_p``); and
optionally (Sec. 3.5) negative examples, each a chunk of one random non-target instrument of the
mixture. Classes in ``held_out`` are removed from training entirely (Sec. 4.2).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

SAMPLE_RATE = 22050
SEGMENT_S = 3.0


@dataclass
class Voice:
    """One isolated instrument track: ``audio float32 [T]`` at the corpus rate, class ``cls``."""

    track: str
    name: str
    cls: str
    audio: np.ndarray
    active: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


@dataclass
class Track:
    """A multitrack: its ``voices`` (all the same length)."""

    name: str
    voices: list[Voice]

    @property
    def length(self) -> int:
        return min(len(v.audio) for v in self.voices)


def read_stems_json(path: str | os.PathLike[str]) -> dict[str, str]:
    """``stems.json`` → ``{voice file stem: class}``.

    Accepted shapes: ``{"voices": [{"file"|"voice"|"name"|"path": "voice1.wav",
    "class"|"instrument"|"label": "piano", ...}, ...]}`` (the ensemble corpus), the same list at
    top level, ``{"voice1": "piano", ...}``,
    ``{"voice1": {"class": "piano", ...}, ...}``, or (the band corpus)
    ``{"stems": {"bass": {"parts": [{"class": "bass", ...}, ...]}, ...}}`` — a stem whose parts
    hold several classes is left out.

    Raises:
        ValueError: a shape it does not understand (the message names the file).
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for key in ("voices", "stems", "sources"):
        if isinstance(data, dict) and key in data:
            data = data[key]
            break
    out: dict[str, str] = {}

    def cls_of(d: dict) -> str | None:
        for k in ("class", "instrument_class", "instrument", "label", "category"):
            if isinstance(d.get(k), str):
                return d[k]
        parts = d.get("parts")
        if isinstance(parts, list) and parts:  # {"parts": [{"class": ...}, ...]}: one class only
            classes = {cls_of(x) if isinstance(x, dict) else None for x in parts}
            if len(classes) == 1 and None not in classes:
                return classes.pop()
        return None

    if isinstance(data, list):
        for i, d in enumerate(data):
            if not isinstance(d, dict):
                raise ValueError(f"{path}: entry {i} is not an object")
            name = d.get("file") or d.get("voice") or d.get("name") or d.get("path") or d.get(
                "stem")
            c = cls_of(d)
            if name is None:
                raise ValueError(f"{path}: entry {i} lacks a file name")
            if c is not None:  # a voice without a class (e.g. a GM sound effect) is left out
                out[Path(str(name)).stem] = c
    elif isinstance(data, dict):
        for name, v in data.items():
            c = v if isinstance(v, str) else cls_of(v) if isinstance(v, dict) else None
            if c is None:
                continue  # other metadata (tempo, seed, ...)
            out[Path(name).stem] = c
    if not out:
        raise ValueError(f"{path}: no voice classes found")
    return out


def _load_mono(path: Path, sample_rate: int) -> np.ndarray:
    """``path`` as mono ``float32 [T]`` at ``sample_rate`` (channel mean, the one resampler)."""
    import soundfile as sf

    from separate.audio.channels import to_mono
    from separate.audio.resample import resample

    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(resample(to_mono(audio.T), sr, sample_rate))


def activity(audio: np.ndarray, hop: int, segment: int, threshold_db: float = -40.0) -> np.ndarray:
    """Which chunk starts ``0, hop, 2·hop, …`` hold sound: ``bool [n_starts]``.

    A chunk of ``segment`` samples is active when its RMS is within ``threshold_db`` dB of the
    loudest chunk's RMS of that voice (and not digital silence).
    """
    n = max(0, (len(audio) - segment) // hop + 1)
    if n == 0:
        return np.zeros(0, dtype=bool)
    c = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
    starts = np.arange(n) * hop
    rms = np.sqrt((c[starts + segment] - c[starts]) / segment)
    peak = rms.max()
    if peak <= 1e-6:
        return np.zeros(n, dtype=bool)
    return rms > peak * 10 ** (threshold_db / 20)


def load_split(
    root: str | os.PathLike[str],
    split: str,
    sample_rate: int = SAMPLE_RATE,
    max_tracks: int | None = None,
    segment_s: float = SEGMENT_S,
    grid_s: float = 0.25,
) -> list[Track]:
    """Read ``root/split/*/`` into memory (mono, ``sample_rate``).

    Raises:
        FileNotFoundError: no ``root/split`` folder or no track in it.
    """
    base = Path(root) / split
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: no such corpus split")
    tracks = []
    hop, seg = int(grid_s * sample_rate), int(segment_s * sample_rate)
    for d in sorted(p for p in base.iterdir() if (p / "stems.json").is_file()):
        classes = read_stems_json(d / "stems.json")
        voices = []
        for stem, cls in sorted(classes.items()):
            f = next((d / f"{stem}{ext}" for ext in (".wav", ".flac") if (d / f"{stem}{ext}")
                      .is_file()), None)
            if f is None:
                continue
            audio = _load_mono(f, sample_rate)
            voices.append(Voice(d.name, stem, cls, audio, activity(audio, hop, seg)))
        if voices:
            n = min(len(v.audio) for v in voices)
            for v in voices:
                v.audio = v.audio[:n]
                v.active = v.active[: max(0, (n - seg) // hop + 1)]
            tracks.append(Track(d.name, voices))
        if max_tracks and len(tracks) >= max_tracks:
            break
    if not tracks:
        raise FileNotFoundError(f"{base}: no track folders with stems.json")
    return tracks


@dataclass
class Episode:
    """One training/evaluation item (all arrays float32 at the corpus rate).

    ``mix [T]``, ``target [T]``, ``pos [n, T]``, ``neg [m, T]``, the target's class ``cls``.
    """

    mix: np.ndarray
    target: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    cls: str
    track: str
    start: int


class EpisodeSampler:
    """Draw few-shot episodes (Sec. 3.2, 3.4, 3.5) from in-memory tracks.

    Args:
        tracks: from :func:`load_split`.
        held_out: classes removed entirely (as targets, from mixtures, from examples; Sec. 4.2).
        min_shots, max_shots: ``n`` is drawn uniformly from this range (1, 5).
        examples_from: ``"same"`` (target's own stem, not overlapping the target chunk) or
            ``"other"`` (n chunks from n other tracks with a voice of the same class; Sec. 3.4).
        multi_source_p: probability that an example is mixed with one other instrument of its
            track (Sec. 3.4, "MS"; 0.5 in the paper).
        negatives: number of negative examples (0, or n in the paper's +Neg model; Sec. 3.5).
        max_sources: at most this many instruments in a mixture (5).
        gain_db: each voice of the mixture gets a random gain in ``±gain_db`` dB (augmentation).
        segment_s: chunk length, s (3.0). grid_s: chunk starts lie on this grid, s (0.25).
        sample_rate: Hz (22050).
        seed: random seed.
    """

    def __init__(
        self,
        tracks: Sequence[Track],
        held_out: Iterable[str] = (),
        min_shots: int = 1,
        max_shots: int = 5,
        examples_from: str = "same",
        multi_source_p: float = 0.0,
        negatives: int = 0,
        max_sources: int = 5,
        gain_db: float = 0.0,
        segment_s: float = SEGMENT_S,
        grid_s: float = 0.25,
        sample_rate: int = SAMPLE_RATE,
        seed: int = 0,
    ):
        if examples_from not in ("same", "other"):
            raise ValueError("examples_from must be 'same' or 'other'")
        if not 1 <= min_shots <= max_shots:
            raise ValueError("need 1 <= min_shots <= max_shots")
        self.held_out = set(held_out)
        self.seg = int(round(segment_s * sample_rate))
        self.hop = int(round(grid_s * sample_rate))
        self.min_shots, self.max_shots = min_shots, max_shots
        self.examples_from = examples_from
        self.multi_source_p = multi_source_p
        self.negatives = negatives
        self.max_sources = max_sources
        self.gain_db = gain_db
        self.rng = np.random.default_rng(seed)
        self.tracks = []
        for t in tracks:
            voices = [v for v in t.voices if v.cls not in self.held_out]
            if voices and t.length >= 2 * self.seg:
                self.tracks.append(Track(t.name, voices))
        self.by_class: dict[str, list[Voice]] = {}
        for t in self.tracks:
            for v in t.voices:
                self.by_class.setdefault(v.cls, []).append(v)
        # (track index, voice index) pairs usable as targets: some chunk active and at least one
        # active chunk that does not overlap it.
        self.targets = [
            (ti, vi)
            for ti, t in enumerate(self.tracks)
            for vi, v in enumerate(t.voices)
            if self._has_examples(v)
            and (examples_from == "same" or len(self._other_voices(v)) > 0)
        ]
        if not self.targets:
            raise ValueError("no usable target: tracks too short, silent or all held out")

    # -- chunk helpers -------------------------------------------------------------------------
    def _starts(self, v: Voice, exclude: int | None = None) -> np.ndarray:
        """Active chunk starts (samples), not overlapping ``[exclude, exclude + seg)``."""
        starts = np.flatnonzero(v.active) * self.hop
        if exclude is not None:
            starts = starts[np.abs(starts - exclude) >= self.seg]
        return starts

    def _has_examples(self, v: Voice) -> bool:
        s = self._starts(v)
        return len(s) > 0 and (np.abs(s[:, None] - s[None, :]) >= self.seg).any()

    def _other_voices(self, v: Voice) -> list[Voice]:
        return [
            o for o in self.by_class.get(v.cls, []) if o.track != v.track and o.active.any()
        ]

    def _chunk(self, audio: np.ndarray, start: int) -> np.ndarray:
        return audio[start : start + self.seg]

    # -- episodes ------------------------------------------------------------------------------
    def sample(self, n_shots: int | None = None, target: tuple[int, int] | None = None) -> Episode:
        """One episode; ``n_shots`` fixed or drawn from ``[min_shots, max_shots]``."""
        rng = self.rng
        ti, vi = target if target is not None else self.targets[rng.integers(len(self.targets))]
        track = self.tracks[ti]
        tv = track.voices[vi]
        # target chunk: active, with at least one non-overlapping active chunk for the examples
        cand = [s for s in self._starts(tv) if len(self._starts(tv, exclude=s))]
        start = int(cand[rng.integers(len(cand))])
        n = int(n_shots or rng.integers(self.min_shots, self.max_shots + 1))
        # one stem per class (as the paper's MedleyDB sub-mixes, Sec. 3.3): other voices of the
        # target's class would make "the instrument of these examples" ambiguous; leave them out
        others = [v for i, v in enumerate(track.voices) if i != vi and v.cls != tv.cls]
        rng.shuffle(others)
        others = others[: self.max_sources - 1]
        gains = 10 ** (rng.uniform(-self.gain_db, self.gain_db, len(others) + 1) / 20)
        target = gains[0] * self._chunk(tv.audio, start)
        mix = target.copy()
        for g, o in zip(gains[1:], others, strict=True):
            mix += g * self._chunk(o.audio, start)
        pos = np.stack([self._example(tv, start, others) for _ in range(n)])
        neg = np.zeros((0, self.seg), dtype=np.float32)
        if self.negatives and others:
            neg = np.stack([self._negative(others, start) for _ in range(self.negatives)])
        return Episode(
            mix.astype(np.float32), target.astype(np.float32), pos.astype(np.float32),
            neg.astype(np.float32), tv.cls, track.name, start,
        )

    def _example(self, tv: Voice, start: int, others: list[Voice]) -> np.ndarray:
        rng = self.rng
        if self.examples_from == "same":
            src, starts = tv, self._starts(tv, exclude=start)
        else:  # Sec. 3.4: from another track with the same class
            pool = self._other_voices(tv)
            src = pool[rng.integers(len(pool))]
            starts = self._starts(src)
        s = int(starts[rng.integers(len(starts))])
        ex = self._chunk(src.audio, s).copy()
        if self.multi_source_p and rng.random() < self.multi_source_p:
            # Sec. 3.4 "MS": mix in one random non-target instrument of the example's track
            mates = others if src is tv else [
                v for t in self.tracks if t.name == src.track for v in t.voices if v is not src
            ]
            if mates:
                ex += self._chunk(mates[rng.integers(len(mates))].audio, s)
        return ex

    def _negative(self, others: list[Voice], start: int) -> np.ndarray:
        """Sec. 3.5: a chunk of one random non-target instrument present in the mixture."""
        o = others[self.rng.integers(len(others))]
        starts = self._starts(o, exclude=start)
        if len(starts) == 0:
            starts = self._starts(o)
        if len(starts) == 0:
            starts = np.array([0])
        return self._chunk(o.audio, int(starts[self.rng.integers(len(starts))]))

    def batch(self, size: int) -> dict[str, torch.Tensor | list[str]]:
        """Collate ``size`` episodes: ``mix/target [B, T]``, ``pos [B, max_shots, T]`` with
        ``pos_mask [B, max_shots]``, ``neg [B, negatives, T]`` with ``neg_mask``, ``cls`` list."""
        eps = [self.sample() for _ in range(size)]
        return collate(eps, self.max_shots, self.negatives)


def collate(eps: Sequence[Episode], max_shots: int, max_neg: int) -> dict:
    """Stack episodes, zero-padding the example axes (see :meth:`EpisodeSampler.batch`)."""
    b, t = len(eps), len(eps[0].mix)
    pos = torch.zeros(b, max_shots, t)
    pm = torch.zeros(b, max_shots, dtype=torch.bool)
    neg = torch.zeros(b, max_neg, t)
    nm = torch.zeros(b, max_neg, dtype=torch.bool)
    for i, e in enumerate(eps):
        pos[i, : len(e.pos)] = torch.from_numpy(e.pos)
        pm[i, : len(e.pos)] = True
        if len(e.neg):
            neg[i, : len(e.neg)] = torch.from_numpy(e.neg)
            nm[i, : len(e.neg)] = True
    return {
        "mix": torch.from_numpy(np.stack([e.mix for e in eps])),
        "target": torch.from_numpy(np.stack([e.target for e in eps])),
        "pos": pos,
        "pos_mask": pm,
        "neg": neg,
        "neg_mask": nm,
        "cls": [e.cls for e in eps],
    }
