"""The public Python API. Every CLI subcommand is a thin skin over a function here.

Example::

    from separate import Separator

    sep = Separator("default")                     # embedded model, no network
    stems = sep.separate_tensor(mix, 44100)         # {"vocals": Tensor[C, T], ...}
    result = sep.separate_file("song.flac", "out")  # out/song/{vocals,drums,bass,other}.wav
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from separate.audio.channels import downmix_to_stereo
from separate.audio.io import AtomicAudioWriter, audio_info, output_subtype, stream_audio
from separate.engine import StreamSeparator, resolve_device
from separate.errors import InputError, UsageError
from separate.registry import load_model
from separate.stems import StemPlan, plan_stems

DEFAULT_MODEL = "default"
DEFAULT_FILENAME = "{track}/{stem}.{ext}"


@dataclass
class SeparationResult:
    """What :meth:`Separator.separate_file` did.

    Attributes:
        input: the mixture file.
        outputs: ``{stem: path}`` written (empty when skipped).
        duration: length of the input (seconds).
        seconds: wall time spent (seconds).
        skipped: outputs existed and ``skip_existing`` was set.
    """

    input: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    duration: float = 0.0
    seconds: float = 0.0
    skipped: bool = False

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio separated per second of wall time."""
        return self.duration / self.seconds if self.seconds > 0 else float("inf")


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


def shard_of(path: Path, num_shards: int) -> int:
    """Deterministic shard (``0 .. num_shards-1``) of a file, from a hash of its name and its
    parent folder's name: the same file always lands in the same shard, however many other files
    the catalogue holds or in what order they are listed."""
    key = f"{path.parent.name}/{path.name}".encode()
    return int.from_bytes(hashlib.sha1(key).digest()[:8], "big") % num_shards


class Separator:
    """Separate mixtures into stems with a model that honours the separation contract.

    Args:
        model: a registry name (``"default"``), a path to a card or safetensors file, or a
            ``torch.nn.Module`` honouring the contract (DESIGN.md).
        device: ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"mps"``.
        segment: chunk length in seconds (default: the card's ``[engine] segment``, else 10).
        overlap: fraction of overlap between chunks (default: the card's, else 0.25).
        batch_size: chunks per model call (default: the card's, else 4).
        window: overlap-add window (default: the card's, else ``"taper"``).
        plan: chunk plan (default: the card's ``[engine] plan``, else ``"end"``; ``"demucs"``
            reproduces ``demucs.apply.apply_model``, see :mod:`separate.engine.overlap_add`).
            The card's ``[engine] margin`` (seconds) sets the chunk-edge margin.

    Raises:
        ModelError: unknown model, missing or corrupt weights, a model of another subcommand
            (card ``subcommand``, e.g. ``fewshot``).
        UsageError: unavailable device.
    """

    def __init__(self, model: str | os.PathLike[str] | torch.nn.Module = DEFAULT_MODEL,
                 device: str = "auto", segment: float | None = None,
                 overlap: float | None = None, batch_size: int | None = None,
                 window: str | None = None, plan: str | None = None):
        self.device = resolve_device(device)
        if isinstance(model, torch.nn.Module):
            self.model = model.to(self.device).eval()
        else:
            self.model = load_model(model, self.device, subcommand="split")
        card = getattr(self.model, "card", None)
        engine = dict(getattr(card, "engine", None) or {})
        self.segment = float(segment if segment is not None else engine.get("segment", 10.0))
        self.overlap = float(overlap if overlap is not None else engine.get("overlap", 0.25))
        self.batch_size = int(batch_size if batch_size is not None else engine.get("batch_size", 4))
        self.window = str(window if window is not None else engine.get("window", "taper"))
        self.plan = str(plan if plan is not None else engine.get("plan", "end"))
        self.margin = float(engine.get("margin", 0.0))
        if self.segment <= 0:
            raise UsageError(f"--segment must be positive (got {self.segment})")
        if not 0 <= self.overlap < 1:
            raise UsageError(f"--overlap must be in [0, 1) (got {self.overlap})")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1 (got {self.batch_size})")

    @property
    def sources(self) -> list[str]:
        """The model's source names."""
        return list(self.model.sources)  # type: ignore[arg-type]

    @property
    def sample_rate(self) -> int:
        """The model's sample rate (Hz)."""
        return int(self.model.sample_rate)  # type: ignore[arg-type]

    def _stream(self, on_chunks: Callable[[int], None] | None = None) -> StreamSeparator:
        return StreamSeparator(self.model, self.segment, self.overlap, self.batch_size,
                               self.device, self.window, on_chunks, self.plan, self.margin)

    def separate_tensor(self, mix: torch.Tensor | np.ndarray, sample_rate: int,
                        stems: str | None = None, residual: bool = True,
                        ) -> dict[str, torch.Tensor]:
        """Separate an in-memory mixture.

        Args:
            mix: ``[channels, time]`` (or ``[time]``), float, at ``sample_rate`` Hz.
            sample_rate: Hz; resampled to the model's rate and back.
            stems: as ``--stems`` (``None`` = every source of the model; ``"4"``, ``"2"``, a
                comma-separated list).
            residual: add the model's residual so the stems sum to ``mix``.

        Returns:
            ``{stem: Tensor[channels, time]}`` at ``sample_rate``, float32, on the CPU.
        """
        x = mix.detach().cpu().numpy() if isinstance(mix, torch.Tensor) else np.asarray(mix)
        if x.ndim == 1:
            x = x[None]
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not np.isfinite(x).all():
            raise ValueError("mixture contains NaN or infinite samples")
        plan = plan_stems(self.sources, stems, residual)
        pieces: dict[str, list[np.ndarray]] = {n: [] for n in plan.names}
        for mix_block, src_block in self._stream().run([x], sample_rate, x.shape[0]):
            for name, y in plan.apply(mix_block, src_block).items():
                pieces[name].append(y)
        return {n: torch.from_numpy(np.concatenate(p, axis=-1)) for n, p in pieces.items()}

    def separate_file(self, path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                      stems: str | None = "4", residual: bool = True, fmt: str = "wav",
                      bit_depth: str = "16", filename: str = DEFAULT_FILENAME,
                      skip_existing: bool = False, downmix: bool = False,
                      on_start: Callable[[int], None] | None = None,
                      on_chunks: Callable[[int], None] | None = None,
                      block_seconds: float = 30.0) -> SeparationResult:
        """Separate one file, streaming, into one file per stem.

        Peak memory is bounded by ``block_seconds`` and the chunk size, not by the length of
        the track. Stems go to temporary names and are renamed only when all are complete.

        Args:
            path: the mixture (any format :func:`separate.audio.audio_info` reads).
            out_dir: output root; files are ``out_dir / filename.format(track=, stem=, ext=)``.
            stems, residual: as :meth:`separate_tensor` (``"4"`` falls back to every source for
                models without the four MUSDB stems).
            fmt: ``wav`` | ``flac`` | ``ogg`` | ``mp3``.
            bit_depth: ``16`` | ``24`` | ``float`` (what ``fmt`` can store).
            filename: template with ``{track}``, ``{stem}``, ``{ext}``.
            skip_existing: do nothing if every output exists already.
            downmix: accept more than two channels by downmixing to stereo.
            on_start: called with the number of chunks before separating (progress bars).
            on_chunks: called with chunks done after every model call.

        Raises:
            InputError: unreadable/empty/truncated/NaN input, or too many channels.
            UsageError: bad format, bit depth or filename template.
        """
        src = Path(path)
        start = time.perf_counter()
        info = audio_info(src)
        if stems == "4" and not set(["vocals", "drums", "bass", "other"]) <= set(self.sources):
            stems = None
        plan: StemPlan = plan_stems(self.sources, stems, residual)
        try:
            output_subtype(fmt, bit_depth)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        track = track_name(src)
        try:
            targets = {s: Path(out_dir) / filename.format(track=track, stem=s, ext=fmt)
                       for s in plan.names}
        except (KeyError, IndexError, ValueError) as exc:
            raise UsageError(f"bad --filename template {filename!r}: {exc}") from None
        if len(set(targets.values())) != len(targets):
            raise UsageError(f"--filename {filename!r} gives the same file for several stems")
        result = SeparationResult(src, duration=info.duration)
        if skip_existing and all(t.exists() for t in targets.values()):
            result.skipped = True
            result.seconds = time.perf_counter() - start
            return result
        channels = info.channels
        if channels > 2 and not downmix:
            raise InputError(src, f"has {channels} channels; only mono and stereo are separated "
                                  "(use --downmix to mix it down to stereo)")
        out_channels = 2 if channels > 2 else channels
        blocks = stream_audio(src, max(1, int(block_seconds * info.sample_rate)), info)
        if channels > 2:
            blocks = (downmix_to_stereo(b) for b in blocks)
        stream = self._stream(on_chunks)
        if on_start is not None:
            on_start(stream.chunks_for(info.frames, info.sample_rate))
        writers: dict[str, AtomicAudioWriter] = {}
        try:
            for name, t in targets.items():
                writers[name] = AtomicAudioWriter(t, info.sample_rate, out_channels, fmt=fmt,
                                                  bit_depth=bit_depth)
            for mix_block, src_block in stream.run(blocks, info.sample_rate, out_channels):
                for name, y in plan.apply(mix_block, src_block).items():
                    writers[name].write(y)
        except BaseException:
            for w in writers.values():
                w.abort()
            raise
        for name, w in writers.items():
            result.outputs[name] = w.commit()
        result.seconds = time.perf_counter() - start
        return result


def separate_file(path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                  model: str | torch.nn.Module = DEFAULT_MODEL, **kwargs) -> SeparationResult:
    """One-call form of :meth:`Separator.separate_file` (loads the model each call)."""
    engine_keys = ("device", "segment", "overlap", "batch_size", "window")
    engine_args = {k: kwargs.pop(k) for k in engine_keys if k in kwargs}
    return Separator(model, **engine_args).separate_file(path, out_dir, **kwargs)


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


__all__ = ["DEFAULT_MODEL", "SeparationResult", "Separator", "separate_file", "shard_of",
           "track_name", *_LAZY]
