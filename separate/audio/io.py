"""Reading and writing audio files: whole-file and streaming, with one-line errors.

Everything is ``float32`` arrays shaped ``[channels, time]``. soundfile (libsndfile) reads WAV,
FLAC, OGG/Vorbis, Opus, MP3, AIFF...; MP4/M4A (including MUSDB's ``.stem.mp4``, first stream =
mixture) go through the ``ffmpeg`` binary. Writing goes to a temporary name in the target folder
and is renamed when complete, so an interrupted run never leaves a half-written file that looks
finished (docs/ARCHITECTURE.md, "The contracts": outputs).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from separate.errors import InputError, UsageError

#: File extensions searched for when an input is a folder.
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".aiff", ".aif", ".m4a", ".mp4")
FFMPEG_EXTENSIONS = (".m4a", ".mp4")

_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK

#: Output formats: extension -> (soundfile format, default subtype, allowed bit depths).
OUTPUT_FORMATS: dict[str, tuple[str, dict[str, str]]] = {
    "wav": ("WAV", {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}),
    "flac": ("FLAC", {"16": "PCM_16", "24": "PCM_24"}),
    "ogg": ("OGG", {"16": "VORBIS", "24": "VORBIS", "float": "VORBIS"}),
    "mp3": ("MP3", {"16": "MPEG_LAYER_III", "24": "MPEG_LAYER_III", "float": "MPEG_LAYER_III"}),
}


@dataclass(frozen=True)
class AudioInfo:
    """What we need to know about an input before streaming it.

    Attributes:
        path: the file.
        sample_rate: Hz.
        channels: number of channels.
        frames: length in samples (per channel).
        subtype: soundfile's sample format (``"PCM_16"``, ``"FLOAT"``...; ``""`` if unknown,
            e.g. for files decoded by ffmpeg).
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int
    subtype: str = ""

    @property
    def is_float(self) -> bool:
        """The file stores floating-point samples (which may exceed full scale)."""
        return self.subtype in ("FLOAT", "DOUBLE")

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate


def _check_wav_truncation(path: Path) -> None:
    """libsndfile silently reads a truncated WAV up to where it ends: compare the RIFF ``data``
    chunk's declared size with the bytes actually present (raises ``InputError``)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return
        endian = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            hdr = f.read(8)
            if len(hdr) < 8:
                return
            cid, csize = hdr[:4], struct.unpack(endian + "I", hdr[4:])[0]
            if cid == b"data":
                if csize in (0, 0xFFFFFFFF):  # streaming writers leave the size unknown
                    return
                if pos + 8 + csize > size:
                    raise InputError(
                        path, f"truncated WAV file ({size - pos - 8} of {csize} data bytes present)"
                    )
                return
            pos += 8 + csize + (csize & 1)


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise InputError("ffmpeg", "the ffmpeg binary is needed for .mp4/.m4a files; install it")
    return exe


def _ffprobe_info(path: Path) -> AudioInfo:
    exe = shutil.which("ffprobe") or "ffprobe"
    cmd = [exe, "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=sample_rate,channels,duration_ts,time_base,duration", "-of",
           "default=noprint_wrappers=1", str(path)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise InputError(path, "not a readable audio file (ffprobe failed)") from None
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    try:
        sr, ch = int(fields["sample_rate"]), int(fields["channels"])
        frames = int(round(float(fields["duration"]) * sr))
    except (KeyError, ValueError):
        raise InputError(path, "not a readable audio file (no audio stream)") from None
    return AudioInfo(path, sr, ch, frames)


def audio_info(path: str | os.PathLike[str]) -> AudioInfo:
    """Sample rate, channels and length of an audio file, with checks.

    Raises:
        InputError: missing file, empty file, not audio, truncated WAV, zero samples.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file")
    if p.is_dir():
        raise InputError(p, "is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise InputError(p, "empty file (0 bytes)")
    if p.suffix.lower() in FFMPEG_EXTENSIONS:
        info = _ffprobe_info(p)
    else:
        try:
            i = sf.info(str(p))
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise InputError(p, f"not a readable audio file ({_short(exc)})") from None
        _check_wav_truncation(p)
        info = AudioInfo(p, int(i.samplerate), int(i.channels), int(i.frames),
                         str(i.subtype or ""))
    if info.frames <= 0:
        raise InputError(p, "contains no audio samples")
    return info


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _check_finite(path: Path, block: np.ndarray) -> None:
    if not np.isfinite(block).all():
        raise InputError(path, "contains NaN or infinite samples")


def stream_audio(
    path: str | os.PathLike[str], block_frames: int = 65536, info: AudioInfo | None = None
) -> Iterator[np.ndarray]:
    """Yield consecutive blocks ``float32 [channels, n]`` (``n <= block_frames``) of a file.

    Memory stays bounded by ``block_frames`` whatever the length of the file.

    Raises:
        InputError: as :func:`audio_info`, plus corrupt data or NaN/inf samples found mid-stream.
    """
    p = Path(path)
    info = info or audio_info(p)
    if p.suffix.lower() in FFMPEG_EXTENSIONS:
        yield from _stream_ffmpeg(p, info, block_frames)
        return
    try:
        with sf.SoundFile(str(p)) as f:
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                out = np.ascontiguousarray(block.T)
                _check_finite(p, out)
                yield out
    except sf.LibsndfileError as exc:
        raise InputError(p, f"truncated or corrupt audio data ({_short(exc)})") from None


def _stream_ffmpeg(p: Path, info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    cmd = [_ffmpeg(), "-v", "error", "-nostdin", "-i", str(p), "-map", "0:a:0", "-f", "f32le",
           "-acodec", "pcm_f32le", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    nbytes = block_frames * info.channels * 4
    try:
        while True:
            raw = proc.stdout.read(nbytes)
            if not raw:
                break
            usable = len(raw) - len(raw) % (info.channels * 4)
            block = np.frombuffer(raw[:usable], dtype="<f4").reshape(-1, info.channels).T.copy()
            _check_finite(p, block)
            yield block
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()


def read_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a whole file: ``(float32 [channels, time], sample_rate Hz)``.

    Raises:
        InputError: missing, empty, truncated, not audio, NaN/inf samples.
    """
    info = audio_info(path)
    blocks = list(stream_audio(path, info=info))
    return np.concatenate(blocks, axis=1), info.sample_rate


class ClippingWarning(UserWarning):
    """Samples above full scale were clipped when writing an integer (or lossy) format."""


def output_subtype(fmt: str, bit_depth: str) -> tuple[str, str]:
    """``(soundfile format, subtype)`` for an output extension and bit depth ('16'|'24'|'float').

    Raises:
        ValueError: unknown format or a bit depth the format cannot store.
    """
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(OUTPUT_FORMATS)}")
    sf_format, depths = OUTPUT_FORMATS[fmt]
    if bit_depth not in depths:
        raise ValueError(f"{fmt} cannot store bit depth {bit_depth}; choose {', '.join(depths)}")
    return sf_format, depths[bit_depth]


def default_bit_depth(fmt: str, source_is_float: bool) -> str:
    """The bit depth used when none is asked for: ``"float"`` for a floating-point input where
    ``fmt`` stores floats (WAV), so that nothing above full scale is clipped; else ``"16"``."""
    depths = OUTPUT_FORMATS.get(fmt, ("", {}))[1]
    return "float" if source_is_float and depths.get("float") == "FLOAT" else "16"


class AtomicAudioWriter:
    """Write a file block by block under a temporary name; ``commit()`` renames it into place,
    ``abort()`` (or leaving a ``with`` block on an exception) deletes it.

    This is the one place that decides clipping: float subtypes store samples as they are;
    integer PCM and the lossy formats clip to ``[-1, 1]`` and count the samples that were
    clipped in :attr:`clipped` (callers turn a non-zero count into a :class:`ClippingWarning`;
    :func:`write_audio` does).

    Args:
        path: final file name; its folder must exist or be creatable.
        sample_rate: Hz.
        channels: number of channels.
        fmt: 'wav' | 'flac' | 'ogg' | 'mp3' (default from the extension).
        bit_depth: '16' | '24' | 'float'.

    Raises:
        ValueError: unknown format, or a bit depth the format cannot store.
    """

    def __init__(self, path: str | os.PathLike[str], sample_rate: int, channels: int,
                 fmt: str | None = None, bit_depth: str = "16"):
        self.path = Path(path)
        fmt = fmt or self.path.suffix.lstrip(".").lower()
        sf_format, subtype = output_subtype(fmt, bit_depth)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".part",
                                   dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self._file = sf.SoundFile(str(self.tmp), "w", samplerate=sample_rate, channels=channels,
                                  format=sf_format, subtype=subtype)
        self.clip = subtype.startswith("PCM") or sf_format in ("OGG", "MP3")
        self.frames = 0
        #: samples (over all channels) that exceeded full scale and were clipped.
        self.clipped = 0
        #: largest absolute sample value seen.
        self.peak = 0.0

    def write(self, block: np.ndarray) -> None:
        """Append ``block [channels, n]`` (float; clipped to [-1, 1] for integer formats)."""
        data = np.asarray(block, dtype=np.float32).T
        if data.size:
            self.peak = max(self.peak, float(np.abs(data).max()))
        if self.clip:
            over = int(np.count_nonzero(np.abs(data) > 1.0))
            if over:
                self.clipped += over
                data = np.clip(data, -1.0, 1.0)
        self._file.write(data)
        self.frames += data.shape[0]

    def commit(self) -> Path:
        """Close and rename into place; returns the final path."""
        self._file.close()
        os.chmod(self.tmp, _FILE_MODE)  # mkstemp creates 0600; give the usual umask mode
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file."""
        try:
            self._file.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicAudioWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_audio(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int,
                bit_depth: str = "float", fmt: str | None = None) -> Path:
    """Write ``audio [channels, time]`` atomically (temp file + rename). Returns the path.

    Warns:
        ClippingWarning: an integer or lossy format clipped samples above full scale.
    """
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[None]
    with AtomicAudioWriter(path, sample_rate, audio.shape[0], fmt=fmt,
                           bit_depth=bit_depth) as w:
        w.write(audio)
    if w.clipped:
        warnings.warn(f"{path}: {w.clipped} samples above full scale (peak {w.peak:.2f}) were "
                      f"clipped in {bit_depth}-bit output", ClippingWarning, stacklevel=2)
    return Path(path)


def find_audio_files(inputs: list[str]) -> list[Path]:
    """Expand files, folders (recursively) and glob patterns into a sorted list of audio files.

    Files given explicitly are kept even if their extension is unusual (they fail later with a
    clear message if they are not audio). Raises ``InputError`` for an input that matches nothing.
    """
    import glob

    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file()
                           and q.suffix.lower() in AUDIO_EXTENSIONS and not q.name.startswith("."))
            if not found:
                raise InputError(p, "folder contains no audio files "
                                    f"({', '.join(AUDIO_EXTENSIONS)})")
            out.extend(found)
        elif any(ch in item for ch in "*?[") and not p.exists():
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                raise InputError(item, "pattern matches no files")
            out.extend(files)
        else:
            out.append(p)
    seen: set[Path] = set()
    unique = []
    for f in out:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


# ---------------------------------------------------------------- output paths, checked first

#: Where ``split`` writes each stem, under its output folder.
DEFAULT_FILENAME = "{track}/{stem}.{ext}"


def track_name(path: Path) -> str:
    """Name of a track's output folder: the file name without extension(s) like ``.stem.mp4``;
    for ``<track>/mixture.wav`` (MUSDB18-HQ layout) the folder's name."""
    name = path.name
    for suffix in (".stem.mp4", ".stem.m4a"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    if path.stem.lower() == "mixture" and path.parent.name:
        return path.resolve().parent.name
    return path.stem




def check_output_dir(out: str | os.PathLike[str]) -> Path:
    """Create the output folder ``out`` and check a file can be written there, before any work
    (issue 20: no training or analysis that then fails on its output path).

    Returns:
        ``out`` as a :class:`Path`.

    Raises:
        UsageError: ``out`` is a file, or cannot be created or written (one line naming it).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: output folder is an existing file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None
    return out


def check_output_file(path: str | os.PathLike[str]) -> Path:
    """Check, before any work, that the file ``path`` can be written: not a folder, its folder
    created and writable.

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        UsageError: ``path`` is a folder, or its folder cannot be created or written.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name to write")
    check_output_dir(path.parent)
    return path
