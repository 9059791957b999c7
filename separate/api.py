"""The public Python API: a facade re-exporting the library's entry points. Every CLI
subcommand is a thin skin over one of them; the code lives in :mod:`separate.separation`
(:class:`Separator`), :mod:`separate.batch` (:func:`separate_many`), :mod:`separate.adapt.run`...

Example::

    from separate import Separator

    sep = Separator("default")                     # embedded model, no network
    stems = sep.separate_tensor(mix, 44100)         # {"vocals": Tensor[C, T], ...}
    result = sep.separate_file("song.flac", "out")  # out/song/{vocals,drums,bass,other}.wav
    report = separate_many(["album/"], "out", jobs=2)   # a BatchReport
"""

from __future__ import annotations

from separate.batch import BatchReport, FileReport, separate_many, shard_of
from separate.progress import ProgressCallback, ProgressEvent
from separate.separation import (
    DEFAULT_FILENAME,
    DEFAULT_MODEL,
    SeparationResult,
    Separator,
    downmix_to_stereo,
    separate_file,
    track_name,
)

# The other subcommands' entry points, re-exported lazily (importing them pulls in librosa,
# museval...): `from separate.api import adapt, evaluate, fewshot, track_f0, split_voices`,
# `track_melody`.
_LAZY = {
    "adapt": ("separate.adapt.run", "adapt"),
    "fewshot": ("separate.fewshot.api", "fewshot_file"),
    "fewshot_array": ("separate.fewshot.api", "fewshot_array"),
    "track_f0": ("separate.f0.track", "track_f0"),
    "split_voices": ("separate.f0.split", "split_voices"),
    "track_melody": ("separate.f0.melody", "track_melody"),
    "evaluate": ("separate.evaluation", "evaluate"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'separate.api' has no attribute {name!r}")


__all__ = ["DEFAULT_FILENAME", "DEFAULT_MODEL", "BatchReport", "FileReport", "ProgressCallback",
           "ProgressEvent", "SeparationResult", "Separator", "downmix_to_stereo",
           "separate_file", "separate_many", "shard_of", "track_name", *_LAZY]
