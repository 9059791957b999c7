"""Real solo recordings (singing, instruments) as stems of synthetic training excerpts.

Real singing is the scarcest material here (issue 9): the synthetic corpus's vocals come from a
source-filter singer. With ``TrainConfig.real_vocals`` (``separate train --real-vocals PATH``),
a training excerpt's vocal stem is, with probability ``real_vocals_prob``, a random chunk of a
real isolated solo-voice recording instead (silences included, as the recording has them); the
mixture is then the sum of the stems (:class:`separate.training.data.StemsDataset`). This is the
remixing-across-tracks augmentation of Uhlich et al. (2017) with a new pool for one source.

Real instruments (issue 14, lever 3) use the same pool class: with ``TrainConfig.real_other``
(``--real-other PATH``), a chunk of a real isolated instrument recording (Bach10's originals,
PHENICX-Anechoic, Filosax, Medley-solos-DB) is *added* to the synthetic ``other`` stem with
probability ``real_other_prob``, so the excerpt keeps its synthetic guitars and keys and gains a
recorded timbre on top.

Each chunk is read at the file's rate, resampled to the model's rate
(:func:`separate.audio.resample.resample`), levelled (every file is scaled once so its
active-frame RMS is ``level_db`` dBFS, about the level of the synthetic vocal stems), and spread
from mono to stereo with a random constant-power pan and gain.

Only isolated single-voice recordings belong here. A file next to a ``mixture.*`` file or to
``drums``/``bass``/``other`` stems is part of a multitrack (for example the real 4-stem
evaluation clip in ``../shared/data/musdb18-7``, or a track of the training corpus) and is
refused, so evaluation material cannot slip into training through this option.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from separate.audio.channels import to_mono
from separate.audio.resample import resample
from separate.errors import UsageError

AUDIO_EXTENSIONS = (".wav", ".flac")
MULTITRACK_EXTENSIONS = (".wav", ".flac", ".mp4", ".mp3", ".ogg")
MUSDB_STEMS = {"drums", "bass", "other"}


@dataclass(frozen=True)
class VoiceFile:
    """One solo-voice recording: its length (samples at its own rate) and levelling gain."""

    path: Path
    frames: int
    sample_rate: int
    gain: float  # linear; brings the active-frame RMS to the pool's level_db


def active_rms_db(x: np.ndarray, sample_rate: int, frame: float = 0.05,
                  floor_db: float = 40.0) -> float:
    """RMS (dBFS) of the ``frame``-second frames within ``floor_db`` dB of the loudest frame.

    Args:
        x: mono signal ``[frames]``.
    Returns:
        the level in dB, ``-inf`` for an all-zero signal.
    """
    n = max(1, int(round(frame * sample_rate)))
    m = len(x) // n
    if m == 0:
        frames_rms = np.sqrt(np.array([np.mean(x**2)])) if len(x) else np.zeros(1)
    else:
        frames_rms = np.sqrt(np.mean(x[: m * n].reshape(m, n) ** 2, axis=1))
    peak = float(frames_rms.max())
    if peak <= 0:
        return -math.inf
    active = frames_rms >= peak * 10 ** (-floor_db / 20)
    return float(10 * np.log10(np.mean(frames_rms[active] ** 2)))


def _in_multitrack(f: Path) -> bool:
    """True for a file of a MUSDB-style track folder: named ``mixture``, or beside a
    ``mixture.*`` file or the accompaniment stems (drums, bass, other)."""
    siblings = {g.stem for g in f.parent.iterdir() if g.suffix.lower() in MULTITRACK_EXTENSIONS}
    return f.stem == "mixture" or "mixture" in siblings or MUSDB_STEMS <= siblings


def find_voice_files(paths: list[str | Path], option: str = "--real-vocals") -> list[Path]:
    """Audio files (WAV/FLAC) named by ``paths``: files as given, folders searched recursively.

    ``option`` names the option the paths came from, for the error messages.

    Raises:
        UsageError: a path does not exist, names no audio, or is part of a multitrack (a
            ``mixture.*`` file beside it).
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            files = [p]
        elif p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS
                           and f.is_file())
        else:
            raise UsageError(f"{p}: {option} path not found")
        if not files:
            raise UsageError(f"{p}: no WAV/FLAC solo recordings in this folder")
        for f in files:
            if _in_multitrack(f):
                raise UsageError(
                    f"{f}: part of a multitrack (a mixture or other MUSDB stems beside it); "
                    f"{option} takes isolated solo recordings only, never evaluation "
                    "or training tracks")
        found.extend(files)
    return sorted(set(found))


class RealSolos:
    """A pool of solo recordings (voices or instruments) that yields random stereo chunks.

    Args:
        paths: files or folders (see :func:`find_voice_files`).
        sample_rate: output rate (Hz).
        level_db: active-frame RMS (dBFS) every file is scaled to; -33 dBFS is the median level
            of the synthetic corpus's vocal stems (``separate synth --kind band``); the
            ``other`` pool uses :data:`OTHER_LEVEL_DB`.
        pan: largest pan position (0 = centre, 1 = hard left/right) of the random pan.
        gain_db: range (±dB) of a random gain on top of the levelling.

    Raises:
        UsageError: see :func:`find_voice_files`; also a silent file.
    """

    def __init__(self, paths: list[str | Path], sample_rate: int = 44100,
                 level_db: float = -33.0, pan: float = 0.3, gain_db: float = 3.0,
                 option: str = "--real-vocals"):
        self.sample_rate = sample_rate
        self.pan = pan
        self.gain_db = gain_db
        self.files: list[VoiceFile] = []
        for f in find_voice_files(paths, option):
            x, sr = sf.read(str(f), dtype="float32", always_2d=True)
            level = active_rms_db(to_mono(x.T), sr)
            if not math.isfinite(level):
                raise UsageError(f"{f}: silent recording")
            self.files.append(VoiceFile(f, x.shape[0], int(sr),
                                        float(10 ** ((level_db - level) / 20))))
        self._weights = [vf.frames / vf.sample_rate for vf in self.files]

    @property
    def seconds(self) -> float:
        """Total duration of the pool (s)."""
        return float(sum(self._weights))

    def chunk(self, rng: random.Random, frames: int, channels: int = 2) -> np.ndarray:
        """A random chunk as ``float32 [channels, frames]`` at ``sample_rate``.

        The file is drawn with probability proportional to its duration (so every second of
        the pool is equally likely), the start uniformly; chunks longer than the file are
        zero-padded. Pan: constant-power law, position uniform in ``[-pan, pan]``, normalised
        to unit gain at the centre.
        """
        vf = rng.choices(self.files, weights=self._weights)[0]
        need = int(math.ceil(frames * vf.sample_rate / self.sample_rate)) + 1
        start = rng.randint(0, max(0, vf.frames - need))
        with sf.SoundFile(str(vf.path)) as f:
            f.seek(start)
            x = to_mono(f.read(need, dtype="float32", always_2d=True).T)
        x = resample(x, vf.sample_rate, self.sample_rate)
        x = np.asarray(x[:frames], dtype=np.float32)
        if len(x) < frames:
            x = np.pad(x, (0, frames - len(x)))
        gain = vf.gain * 10 ** (rng.uniform(-self.gain_db, self.gain_db) / 20)
        if channels == 1:
            return (x * np.float32(gain))[None]
        theta = (rng.uniform(-self.pan, self.pan) + 1) * math.pi / 4  # 0..π/2, centre π/4
        pans = np.array([math.cos(theta), math.sin(theta)] + [math.sqrt(0.5)] * (channels - 2))
        return (x[None] * (gain * math.sqrt(2) * pans[:, None])).astype(np.float32)
