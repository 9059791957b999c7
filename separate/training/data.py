"""Training data: MUSDB18-HQ-style folders (real or synthetic) and MUSDB18 ``.stem.mp4`` files,
with augmentation.

A *stems folder* holds one sub-folder per track with one audio file per source
(``<track>/vocals.wav``, ``drums.wav``, ...; WAV or FLAC), as MUSDB18-HQ and ``separate synth
--kind band`` write them.

A folder of ``<track>.stem.mp4`` files (MUSDB18: ``train/`` and ``test/``) is read through the
``musdb`` package. Each track is decoded once, as ``musdb`` decodes it (each source stream of
the MP4 through ffmpeg as 16-bit PCM, one process per stream), into a cache of WAV files, one
per source: ``vocals, drums, bass, other``, named by musdb's ``stem_ids`` (the mixture stream is
not kept: a training mixture is the sum of its stems). The cache is
``$XDG_CACHE_HOME/separate/musdb/<folder>-<hash of its path>/<track>/`` (default
``~/.cache/separate/...``; set ``XDG_CACHE_HOME`` to move it), written to a temporary folder
and renamed when complete. It holds 16-bit PCM, the exact samples musdb returns (float32 would
double the size and add nothing): 4 stereo stems at 44.1 kHz are ~2.5 GB per hour of music,
so ~16 GB for MUSDB18's ``train/`` (100 of its 150 tracks, ~10 h in all; an estimate from the
durations, not a measurement). The first use decodes every track of the split before training
starts; a track is decoded again only when its ``.stem.mp4`` changes (size or mtime). A stem
file that cannot be decoded is skipped with a warning naming it; the other tracks are used.

Splits of a ``.stem.mp4`` folder: ``root/<split>/`` when that folder exists. MUSDB18 has no
``valid/``: then ``valid`` is the musdb package's validation split of ``root/train/`` (the 14
tracks listed in musdb's ``mus.yaml``, as ``musdb.DB(subsets="train", split="valid")``) and
``train`` is the other tracks of ``root/train/``; when none of the 14 is there, ``valid`` is an
error that asks for a ``valid/`` folder. Stem files directly in ``root`` are split the same way
or, when none of the 14 is among them, serve as both splits (as track folders in ``root`` do).

A source named ``accompaniment`` (the second stem of a 2-stem vocals model) need not exist as a
file: without ``accompaniment.wav`` it is the sum of every other stem file of the track except
``mixture`` and the other requested sources (drums + bass + other in MUSDB18-HQ and MUSDB18,
musdb's ``accompaniment`` target), as Open-Unmix and Spleeter define it.

Augmentation (Uhlich et al. 2017, as Open-Unmix does): every source of a training example may
come from a different track (remixing across tracks), at a random offset, with a random gain
(±``gain_db``) and a random swap of the stereo channels. With a pool of real solo-voice
recordings (:class:`separate.training.real_solos.RealSolos`), the vocal stem of a training
excerpt is, with probability ``real_vocals_prob``, a chunk of real singing instead; with a pool of
real instrument recordings, a chunk of one is *added* to the ``other`` stem with probability
``real_other_prob`` (issue 14, lever 3). The mixture is the sum of the stems as always. With a
:class:`separate.training.augment.RecordAugment` (``augment = "record"`` in training), the
stems of a training excerpt then go through random per-stem effects, an optional tempo and
pitch change, and a mix bus applied as one gain curve shared by all stems, so the mixture is
still their sum.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from separate.errors import InputError, UsageError
from separate.training.augment import RecordAugment
from separate.training.real_solos import RealSolos

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
    """Tracks under ``root`` (or ``root/split`` if that folder exists) that have every source:
    track folders, or ``.stem.mp4`` files decoded into the cache (see the module doc).

    Raises:
        UsageError: no track with all the sources (the message names the folder); ``.stem.mp4``
            files but no ``musdb`` package; the MUSDB cache cannot be written.
    """
    root = Path(root)
    stem_files = _stem_files(root, split)
    if stem_files is not None:
        base, files = stem_files
        folders = [d for d in (_cached_stems(f) for f in files) if d is not None]
        where = f"{base} (.stem.mp4 tracks; MUSDB18 stems are vocals, drums, bass, other)"
    else:
        base = root / split if split and (root / split).is_dir() else root
        folders = (sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
                   if base.is_dir() else [])
        where = f"{base}: no track folders"
    tracks = [t for t in (_folder_track(d, sources) for d in folders) if t is not None]
    if not tracks:
        raise UsageError(f"{where}: no track with all of {', '.join(sources)}")
    return tracks


def _folder_track(d: Path, sources: list[str]) -> Track | None:
    """The track in folder ``d`` if it has every source (``accompaniment`` may be a sum)."""
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
    if len(files) != len(sources):
        return None
    paths = [f for fs in files.values() for f in fs]
    info = sf.info(str(paths[0]))
    frames = min(sf.info(str(f)).frames for f in paths)
    return Track(d.name, files, frames, int(info.samplerate))


# --- MUSDB18 .stem.mp4 through the musdb package ---------------------------------------------

STEM_MP4 = ".stem.mp4"


def _musdb_setup() -> dict:
    """musdb's dataset description (``mus.yaml``: ``sources``, ``stem_ids``,
    ``validation_tracks``), read without probing any file.

    Raises:
        UsageError: the ``musdb`` package is missing.
    """
    try:
        import musdb
    except ImportError:
        raise UsageError("reading .stem.mp4 files (MUSDB18) needs the musdb package: "
                         "pip install musdb") from None
    return musdb.DB(root=".", subsets=[]).setup  # subsets=[]: musdb's config, no track scan


def _stem_files(root: Path, split: str | None) -> tuple[Path, list[Path]] | None:
    """``(folder, its .stem.mp4 files of the split)``, or None if the folder has none."""
    if split and (root / split).is_dir():
        base = root / split
    elif split == "valid" and (root / "train").is_dir():
        base = root / "train"  # MUSDB18: the validation tracks are in train/
    else:
        base = root
    files = sorted(base.glob(f"*{STEM_MP4}")) if base.is_dir() else []
    if not files:
        return None
    if split in ("train", "valid") and not (root / "valid").is_dir():
        held_out = set(_musdb_setup()["validation_tracks"])
        valid = [f for f in files if f.name[: -len(STEM_MP4)] in held_out]
        if valid:  # musdb's split="train"/"valid" of the same folder
            files = valid if split == "valid" else [f for f in files if f not in valid]
        elif split == "valid" and base != root:
            raise UsageError(f"{base}: none of musdb's validation tracks is here and there is "
                             f"no {root / 'valid'} folder: put .stem.mp4 files for validation "
                             "there")
    return base, files


def musdb_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/separate/musdb`` (default ``~/.cache/separate/musdb``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "separate" / "musdb"


_BROKEN: dict[Path, dict] = {}  # .stem.mp4 files that failed to decode (this process)


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"file": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _cached_stems(path: Path) -> Path | None:
    """The cache folder of ``<source>.wav`` files of one ``.stem.mp4`` (decoded now if missing
    or stale), or None (with a warning) if the file cannot be decoded.

    Raises:
        UsageError: the cache cannot be written (full disk, no permission).
    """
    folder = path.resolve().parent
    key = hashlib.sha1(str(folder).encode()).hexdigest()[:12]
    dest = musdb_cache_dir() / f"{folder.name}-{key}" / path.name[: -len(STEM_MP4)]
    stamp = _stamp(path)
    if _BROKEN.get(path) == stamp:
        return None  # warned already; re-tried when the file changes
    try:
        if json.loads((dest / "musdb.json").read_text()) == stamp:
            return dest
    except (OSError, ValueError):
        pass
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    except OSError as exc:
        raise UsageError(f"cannot write the MUSDB cache {dest.parent}: {exc.strerror} "
                         "(set XDG_CACHE_HOME)") from None
    try:
        decode_stems(path, tmp)
        (tmp / "musdb.json").write_text(json.dumps(stamp))
        if dest.exists():  # a stale decode (the .stem.mp4 changed)
            shutil.rmtree(dest, ignore_errors=True)
        try:
            tmp.rename(dest)
        except OSError:  # another process (a DDP rank) finished it first
            if not (dest / "musdb.json").is_file():
                raise
    except InputError as exc:  # one broken track must not stop training on the others
        warnings.warn(f"skipping {exc}", stacklevel=3)
        _BROKEN[path] = stamp
        return None
    except (OSError, sf.SoundFileError) as exc:  # full disk, no permission
        raise UsageError(f"cannot write the MUSDB cache {dest}: {exc} (set XDG_CACHE_HOME)"
                         ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def decode_stems(path: str | Path, out: str | Path) -> list[str]:
    """Decode a MUSDB18 ``.stem.mp4`` through ``musdb`` into ``out/<source>.wav`` (16-bit PCM,
    the samples ``musdb.Source.audio`` returns: ffmpeg's ``s16le`` decode of each stream).

    Returns:
        The source names written (musdb's ``sources``: vocals, drums, bass, other).

    Raises:
        UsageError: ``musdb`` is not installed.
        InputError: the file cannot be probed or decoded, lacks a stream, or decodes shorter
            than its header says (truncated).
    """
    setup = _musdb_setup()
    import musdb

    path, out = Path(path), Path(out)
    ids = setup["stem_ids"]
    try:
        track = musdb.MultiTrack(path=str(path), name=path.name[: -len(STEM_MP4)],
                                 is_wav=False, stem_id=ids["mixture"])
        streams = track.info.nb_audio_streams
    except Exception as exc:  # ffprobe errors come as ffmpeg.Error, Warning, KeyError, ...
        raise InputError(path, f"not a readable .stem.mp4 ({_why(exc, path)})") from None
    if streams <= max(ids.values()):
        raise InputError(path, f"{streams} audio stream(s); a MUSDB18 stem file has "
                         f"{max(ids.values()) + 1} (" + ", ".join(sorted(ids, key=ids.get)) + ")")
    for name in setup["sources"]:
        try:
            audio = np.asarray(musdb.Source(track, name=name, path=str(path),
                                            stem_id=ids[name]).audio)  # [time, channels]
        except Exception as exc:
            raise InputError(path, f"cannot decode the {name} stream ({_why(exc, path)})") from None
        if audio.shape[0] + 4096 < track.samples:  # AAC decodes a little longer, never shorter
            raise InputError(path, f"the {name} stream decodes to {audio.shape[0]} of the "
                             f"{track.samples} samples its header announces (truncated?)")
        pcm = np.clip(np.round(audio * 32768), -32768, 32767).astype(np.int16)  # exact: s16le
        sf.write(str(out / f"{name}.wav"), pcm, int(track.rate), subtype="PCM_16")
    return list(setup["sources"])


def _why(exc: Exception, path: Path) -> str:
    """The last line of ffmpeg's stderr if there is one, else of the exception's text."""
    err = getattr(exc, "stderr", None)
    text = err.decode(errors="replace") if isinstance(err, bytes) else str(exc)
    lines = text.strip().splitlines()
    return lines[-1].removeprefix(f"{path}: ") if lines else type(exc).__name__


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
        real_vocals: pool of real solo singing for the ``vocals`` source (training; or, with
            ``augment`` off and ``real_vocals_prob`` 1, a fixed real-singer validation set).
        real_vocals_prob: probability that an excerpt's vocal stem comes from ``real_vocals``.
            Its draws use their own random stream, so the other stems (and the synthetic
            vocals that are kept) are the same excerpts as in a run without real vocals.
        real_other: pool of real instrument recordings added to the ``other`` source (same
            training/validation use as ``real_vocals``).
        real_other_prob: probability that an excerpt's ``other`` stem gets a ``real_other``
            chunk on top (its own random stream, as for ``real_vocals``).
        record: the "record" augmentation (effects, tempo, mix bus), for training examples
            only (ignored with ``augment`` off). Its draws use their own random stream, so the
            excerpts, gains and swaps are those of a run without it.

    Raises:
        UsageError: ``real_vocals`` given but ``vocals`` is not one of the sources;
            ``real_other`` given but ``other`` is not.
    """

    def __init__(self, tracks: list[Track], sources: list[str], segment: int, channels: int = 2,
                 examples: int = 1000, augment: bool = True, gain_db: float = 6.0,
                 seed: int = 0, real_vocals: RealSolos | None = None,
                 real_vocals_prob: float = 0.0, record: RecordAugment | None = None,
                 real_other: RealSolos | None = None, real_other_prob: float = 0.0):
        for pool, prob, source in ((real_vocals, real_vocals_prob, "vocals"),
                                   (real_other, real_other_prob, "other")):
            if pool is not None and prob > 0 and source not in sources:
                raise UsageError(f"--real-{source} needs a `{source}` source; sources are "
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
        self.real_other = real_other
        self.real_other_prob = real_other_prob if real_other is not None else 0.0
        self.record = record
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.examples

    def _real_chunk(self, pool: RealSolos | None, prob: float, index: int, stream: int,
                    frames: int) -> np.ndarray | None:
        """A chunk of ``pool`` with probability ``prob``, from the random stream ``stream`` of
        this example (training: new draws every epoch; validation: the same every epoch)."""
        if pool is None or prob <= 0:
            return None
        rng = random.Random(hash((self.seed, self.epoch if self.augment else 0, index, stream)))
        return pool.chunk(rng, frames, self.channels) if rng.random() < prob else None

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = random.Random(hash((self.seed, self.epoch if self.augment else 0, index)))
        stems = []
        fixed = self.tracks[index % len(self.tracks)]
        fixed_start = rng.randint(0, max(0, fixed.frames - self.segment))
        record = self.record if self.augment else None
        arng = random.Random(hash((self.seed, self.epoch, index, 2))) if record else None
        stretch = record.tempo(arng) if record else (1.0, 0.0)
        frames = math.ceil(self.segment * stretch[0])  # a tempo factor > 1 needs more input
        real = self._real_chunk(self.real_vocals, self.real_vocals_prob, index, 1, frames)
        real_other = self._real_chunk(self.real_other, self.real_other_prob, index, 3, frames)
        for s in self.sources:
            track = rng.choice(self.tracks) if self.augment else fixed
            start = (rng.randint(0, max(0, track.frames - self.segment)) if self.augment
                     else fixed_start)
            if real is not None and s == "vocals":
                x = real  # the draws above still happen: other stems unchanged by the swap
            else:
                x = sum(read_excerpt(f, start, frames, self.channels)
                        for f in track.files[s])
                if real_other is not None and s == "other":
                    x = x + real_other
            if self.augment:
                x = x * np.float32(10 ** (rng.uniform(-self.gain_db, self.gain_db) / 20))
                if self.channels == 2 and rng.random() < 0.5:
                    x = x[::-1].copy()
            stems.append(x)
        if record is not None:
            src = torch.from_numpy(record(np.stack(stems), self.sources, arng, self.segment,
                                          stretch))
        else:
            src = torch.from_numpy(np.stack(stems))
        return src.sum(0), src
