"""The one audio path: I/O, resampling, channel policy and spectral helpers.

- :mod:`separate.audio.io`: read, stream and write files (numpy, soundfile, ffmpeg).
- :mod:`separate.audio.resample`: the one resampler (soxr) and its quality setting.
- :mod:`separate.audio.channels`: how channel counts are mapped (duplicate, downmix, average).
- :mod:`separate.audio.stft`: STFT / ISTFT helpers, torch only (what :mod:`separate.nets` uses).

The names below are imported lazily, so that ``import separate.audio.stft`` (from a network)
imports torch and nothing else: soundfile and soxr load only when their module is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "AtomicAudioWriter": "io",
    "AudioInfo": "io",
    "audio_info": "io",
    "find_audio_files": "io",
    "read_audio": "io",
    "stream_audio": "io",
    "write_audio": "io",
    "resample": "resample",
    "downmix_to_stereo": "channels",
    "to_mono": "channels",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'separate.audio' has no attribute {name!r}")
    return getattr(importlib.import_module(f"separate.audio.{module}"), name)


__all__ = sorted(_LAZY)
