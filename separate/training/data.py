"""Training data: MUSDB18-HQ-style folders (real or synthetic), with augmentation.

A *stems folder* holds one sub-folder per track with one audio file per source
(``<track>/vocals.wav``, ``drums.wav``, ...; WAV or FLAC), as MUSDB18-HQ and ``separate synth
--kind band`` write them. ``.stem.mp4`` files (MUSDB18) are read through the ``musdb`` package.

A source named ``accompaniment`` (the second stem of a 2-stem vocals model) need not exist as a
file: without ``accompaniment.wav`` it is the sum of every other stem file of the track except
``mixture`` and the other requested sources (drums + bass + other in MUSDB18-HQ), as Open-Unmix
and Spleeter define it.

Augmentation (Uhlich et al. 2017, as Open-Unmix does): every source of a training example may
come from a different track (remixing across tracks), at a random offset, with a random gain
(±``gain_db``) and a random swap of the stereo channels. With a pool of real solo-voice
recordings (:class:`separate.training.real_vocals.RealVocals`), the vocal stem of a training
excerpt is, with probability ``real_vocals_prob``, a chunk of real singing instead, and the
mixture is the sum of the stems as always.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from separate.errors import UsageError
from separate.training.real_vocals import RealVocals

STEM_EXTENSIONS = (".wav", ".flac")
COMPOSITE = "accompaniment"  # a source that may be the sum of the track's remaining stems


@dataclass
class Track:
    """A track: ``{source: [paths]}`` (one file, or the stems summed into ``accompaniment``)
    and its length in samples."""

    name: str
    files: dict[str, list[Path]]
    frames: int
    sample_rate: int


def find_tracks(root: str | Path, sources: list[str], split: str | None = None) -> list[Track]:
    """Tracks under ``root`` (or ``root/split`` if that folder exists) that have every source.

    Raises:
        UsageError: no track with all the sources (the message names the folder).
    """
    base = Path(root)
    if split and (base / split).is_dir():
        base = base / split
    tracks = []
    folders = (sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
               if base.is_dir() else [])
    for d in folders:
        files: dict[str, list[Path]] = {}
        for s in sources:
            for ext in STEM_EXTENSIONS:
                if (d / f"{s}{ext}").is_file():
                    files[s] = [d / f"{s}{ext}"]
                    break
        if COMPOSITE in sources and COMPOSITE not in files:
            rest = sorted(f for f in d.iterdir() if f.suffix in STEM_EXTENSIONS
                          and f.stem not in sources and f.stem != "mixture")
            if rest:
                files[COMPOSITE] = rest
        if len(files) == len(sources):
            paths = [f for fs in files.values() for f in fs]
            info = sf.info(str(paths[0]))
            frames = min(sf.info(str(f)).frames for f in paths)
            tracks.append(Track(d.name, files, frames, int(info.samplerate)))
    if not tracks:
        raise UsageError(f"{base}: no track folders with all of {', '.join(sources)}")
    return tracks


def read_excerpt(path: Path, start: int, frames: int, channels: int) -> np.ndarray:
    """``float32 [channels, frames]`` from ``start`` (zero-padded past the end; mono files are
    duplicated to ``channels``)."""
    with sf.SoundFile(str(path)) as f:
        f.seek(min(start, f.frames))
        x = f.read(frames, dtype="float32", always_2d=True).T
    if x.shape[0] != channels:
        x = np.repeat(x[:1], channels, axis=0) if x.shape[0] == 1 else x[:channels]
    if x.shape[1] < frames:
        x = np.pad(x, ((0, 0), (0, frames - x.shape[1])))
    return x


class StemsDataset(torch.utils.data.Dataset):
    """Random excerpts of ``segment`` samples: ``(mixture [C, T], sources [S, C, T])``.

    Args:
        tracks: from :func:`find_tracks`.
        sources: source names (order of the output).
        segment: excerpt length in samples.
        channels: audio channels (2).
        examples: excerpts per epoch.
        augment: remix across tracks, random gains, channel swap (training); off = fixed
            excerpts from each track (validation; the same every epoch).
        gain_db: range of the random gain.
        seed: base seed; each example's randomness derives from ``(seed, epoch, index)``.
        real_vocals: pool of real solo singing for the ``vocals`` source (training only).
        real_vocals_prob: probability that an excerpt's vocal stem comes from ``real_vocals``.
            Its draws use their own random stream, so the other stems (and the synthetic
            vocals that are kept) are the same excerpts as in a run without real vocals.

    Raises:
        UsageError: ``real_vocals`` given but ``vocals`` is not one of the sources.
    """

    def __init__(self, tracks: list[Track], sources: list[str], segment: int, channels: int = 2,
                 examples: int = 1000, augment: bool = True, gain_db: float = 6.0,
                 seed: int = 0, real_vocals: RealVocals | None = None,
                 real_vocals_prob: float = 0.0):
        if real_vocals is not None and real_vocals_prob > 0 and "vocals" not in sources:
            raise UsageError("--real-vocals needs a `vocals` source; sources are "
                             + ", ".join(sources))
        self.tracks = tracks
        self.sources = sources
        self.segment = segment
        self.channels = channels
        self.examples = examples
        self.augment = augment
        self.gain_db = gain_db
        self.seed = seed
        self.real_vocals = real_vocals
        self.real_vocals_prob = real_vocals_prob if real_vocals is not None else 0.0
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.examples

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = random.Random(hash((self.seed, self.epoch if self.augment else 0, index)))
        stems = []
        fixed = self.tracks[index % len(self.tracks)]
        fixed_start = rng.randint(0, max(0, fixed.frames - self.segment))
        real = None
        if self.augment and self.real_vocals is not None and self.real_vocals_prob > 0:
            vrng = random.Random(hash((self.seed, self.epoch, index, 1)))
            if vrng.random() < self.real_vocals_prob:
                real = self.real_vocals.chunk(vrng, self.segment, self.channels)
        for s in self.sources:
            track = rng.choice(self.tracks) if self.augment else fixed
            start = (rng.randint(0, max(0, track.frames - self.segment)) if self.augment
                     else fixed_start)
            if real is not None and s == "vocals":
                x = real  # the draws above still happen: other stems unchanged by the swap
            else:
                x = sum(read_excerpt(f, start, self.segment, self.channels)
                        for f in track.files[s])
            if self.augment:
                x = x * np.float32(10 ** (rng.uniform(-self.gain_db, self.gain_db) / 20))
                if self.channels == 2 and rng.random() < 0.5:
                    x = x[::-1].copy()
            stems.append(x)
        src = torch.from_numpy(np.stack(stems))
        return src.sum(0), src
