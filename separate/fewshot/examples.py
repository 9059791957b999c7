"""Conditioning examples given on the command line: ``FILE``, ``FILE@START-END`` or ``@START-END``.

``@START-END`` (no file) is a time range of the mixture itself. Times are seconds (``12.5``) or
``[h:]m:ss[.frac]`` (``1:02.5``). An example is read, downmixed to mono and resampled to the
model's rate (22.05 kHz) before it reaches the conditioning encoder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from separate.errors import InputError, UsageError

#: Shortest example accepted, s (the conditioning encoder needs 16 STFT frames ≈ 0.19 s).
MIN_EXAMPLE_S = 0.25

_TIME = r"(?:\d+:)?(?:\d+:)?\d+(?:\.\d*)?"
_RANGE = re.compile(rf"^(?P<start>{_TIME})-(?P<end>{_TIME})$")


@dataclass(frozen=True)
class ExampleSpec:
    """One example: ``path`` (``None`` = the mixture) and an optional range in seconds."""

    path: str | None
    start: float | None = None
    end: float | None = None

    def describe(self) -> str:
        where = self.path or "mixture"
        if self.start is None:
            return where
        return f"{where}@{self.start:g}-{self.end:g}"


def parse_time(text: str) -> float:
    """``"12.5"`` → 12.5; ``"1:02.5"`` → 62.5; ``"1:00:00"`` → 3600 (seconds)."""
    parts = text.split(":")
    value = 0.0
    for p in parts:
        value = value * 60 + float(p)
    return value


def parse_example(spec: str) -> ExampleSpec:
    """Parse ``FILE``, ``FILE@START-END`` or ``@START-END``.

    Raises:
        UsageError: empty spec, malformed range, or ``END <= START``.
    """
    spec = spec.strip()
    if not spec:
        raise UsageError("empty --example/--negative value")
    path, sep, rng = spec.rpartition("@")
    if not sep:
        return ExampleSpec(spec)
    m = _RANGE.match(rng)
    if m is None:
        if path:  # an '@' that is part of a file name, not a range
            return ExampleSpec(spec)
        raise UsageError(
            f"bad example {spec!r}: expected FILE, FILE@START-END or @START-END "
            "(seconds, e.g. @12.5-15.5)"
        )
    start, end = parse_time(m["start"]), parse_time(m["end"])
    if end <= start:
        raise UsageError(f"bad example {spec!r}: the range end must be after its start")
    return ExampleSpec(path or None, start, end)


def read_audio_any(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """``float32 [channels, time]`` and the rate (Hz), through :mod:`separate.audio.io`.

    Raises:
        InputError: missing, unreadable, empty or NaN-holding file.
    """
    from separate.audio.io import read_audio

    p = Path(path)
    if not p.is_file():
        raise InputError(p, "no such file")
    return read_audio(p)


def to_model_rate(audio: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """``[channels, T]`` at ``sr`` → mono ``float32 [T']`` at ``target_sr`` (mean of the
    channels, :func:`separate.audio.channels.to_mono`; :func:`separate.audio.resample.resample`)."""
    from separate.audio.channels import to_mono
    from separate.audio.resample import resample

    return resample(to_mono(audio), sr, target_sr)


def load_example(
    spec: ExampleSpec,
    target_sr: int,
    mixture: tuple[np.ndarray, int, str] | None = None,
) -> np.ndarray:
    """The example as mono ``float32 [T]`` at ``target_sr``.

    Args:
        spec: parsed example.
        target_sr: the model's rate (Hz).
        mixture: ``(audio [C, T], sr, path)`` of the mixture, used when ``spec.path`` is ``None``.

    Raises:
        InputError: unreadable file, a range outside the file, or an example shorter than
            :data:`MIN_EXAMPLE_S`, or silent.
    """
    if spec.path is None:
        if mixture is None:
            raise UsageError("an @START-END example needs the mixture")
        audio, sr, where = mixture
    else:
        audio, sr = read_audio_any(spec.path)
        where = spec.path
    dur = audio.shape[-1] / sr
    if spec.start is not None and spec.end is not None:
        if spec.start >= dur:
            raise InputError(
                where, f"example range {spec.start:g}-{spec.end:g} s starts after the end of the "
                f"audio ({dur:.2f} s)"
            )
        if spec.end > dur + 1e-3:
            raise InputError(
                where, f"example range {spec.start:g}-{spec.end:g} s ends after the end of the "
                f"audio ({dur:.2f} s)"
            )
        audio = audio[:, int(round(spec.start * sr)) : int(round(spec.end * sr))]
    if audio.shape[-1] < MIN_EXAMPLE_S * sr:
        raise InputError(
            where, f"example {spec.describe()} is {audio.shape[-1] / sr:.2f} s long; at least "
            f"{MIN_EXAMPLE_S} s is needed"
        )
    if not np.any(np.abs(audio) > 1e-6):
        raise InputError(where, f"example {spec.describe()} is silent")
    return to_model_rate(audio, sr, target_sr)
