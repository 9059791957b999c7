"""Audio I/O, resampling and spectral helpers (numpy, torch, soundfile, soxr)."""

from separate.audio.io import (
    AtomicAudioWriter,
    AudioInfo,
    audio_info,
    find_audio_files,
    read_audio,
    stream_audio,
    write_audio,
)

__all__ = [
    "AtomicAudioWriter",
    "AudioInfo",
    "audio_info",
    "find_audio_files",
    "read_audio",
    "stream_audio",
    "write_audio",
]
