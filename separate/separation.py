"""Separating one mixture: :class:`Separator` (model + engine settings), in memory or file to
stems, through the one audio path (docs/ARCHITECTURE.md, "One path for the audio"): read →
resample → chunk → model → overlap-add → resample back → stem plan (residual rule) → the one
writer (:class:`AtomicAudioWriter`).

``split``, ``adapt``, ``fewshot`` and ``f0 melody`` all separate through this class; batches of
files go through :func:`separate.batch.separate_many`.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from separate.audio.channels import downmix_to_stereo
from separate.audio.io import (
    DEFAULT_FILENAME,
    AtomicAudioWriter,
    AudioInfo,
    ClippingWarning,
    audio_info,
    default_bit_depth,
    output_subtype,
    stream_audio,
    track_name,
)
from separate.engine import StreamSeparator, resolve_device
from separate.errors import InputError, UsageError
from separate.progress import ProgressCallback, ProgressEvent
from separate.registry import load_model
from separate.stems import StemPlan, plan_stems

DEFAULT_MODEL = "default"

#: ``post(start, sources)``: an output post-process applied to the model's raw sources
#: ``float32 [sources, channels, n]`` (file rate; ``start`` = index of their first sample)
#: *before* the stem plan, so whatever it removes goes to the residual like the rest
#: (``adapt --gate`` is one).
PostProcess = Callable[[int, np.ndarray], np.ndarray]


@dataclass
class SeparationResult:
    """What :meth:`Separator.separate_file` did.

    Attributes:
        input: the mixture file.
        outputs: ``{stem: path}`` written (empty when skipped).
        duration: length of the input (seconds).
        seconds: wall time spent (seconds).
        skipped: outputs existed and ``skip_existing`` was set.
        bit_depth: the bit depth written (``"16"``, ``"24"``, ``"float"``).
        warnings: one-line warnings (e.g. clipping), each naming the file.
    """

    input: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    duration: float = 0.0
    seconds: float = 0.0
    skipped: bool = False
    bit_depth: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio separated per second of wall time."""
        return self.duration / self.seconds if self.seconds > 0 else float("inf")


def _apply_post(pairs: Iterator[tuple[np.ndarray, np.ndarray]], post: PostProcess | None
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    start = 0
    for mix_block, src_block in pairs:
        if post is not None:
            src_block = post(start, src_block)
        start += mix_block.shape[-1]
        yield mix_block, src_block


class Separator:
    """Separate mixtures into stems with a model that honours the separation contract.

    Args:
        model: a registry name (``"default"``), a path to a card or safetensors file, or a
            ``torch.nn.Module`` honouring the contract (docs/ARCHITECTURE.md, "The contracts").
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

    def open_mixture(self, path: str | os.PathLike[str], downmix: bool = False,
                     block_seconds: float = 30.0, info: AudioInfo | None = None
                     ) -> tuple[AudioInfo, int, Iterator[np.ndarray]]:
        """The mixture as :meth:`separate_file` reads it: ``(info, channels, blocks)``, blocks
        ``float32 [channels, n]`` at the file's rate (more than two channels downmixed to
        stereo by :func:`downmix_to_stereo` when ``downmix``).

        Raises:
            InputError: unreadable input, or more than two channels without ``downmix``.
        """
        src = Path(path)
        info = info or audio_info(src)
        channels = info.channels
        if channels > 2 and not downmix:
            raise InputError(src, f"has {channels} channels; only mono and stereo are separated "
                                  "(use --downmix to mix it down to stereo)")
        blocks = stream_audio(src, max(1, int(block_seconds * info.sample_rate)), info)
        if channels > 2:
            blocks = (downmix_to_stereo(b) for b in blocks)
        return info, min(channels, 2), blocks

    def model_signal(self, path: str | os.PathLike[str], downmix: bool = False) -> np.ndarray:
        """The signal the model sees when :meth:`separate_file` separates ``path``:
        ``float32 [G, model channels, n]`` at the model's rate (``G`` = 1, or the file's channel
        count for a mono model; see :meth:`StreamSeparator.model_input`). ``adapt`` trains on it.

        Raises:
            InputError: as :meth:`open_mixture`.
        """
        info, channels, blocks = self.open_mixture(path, downmix)
        parts = list(self._stream().model_input(blocks, info.sample_rate, channels))
        return np.concatenate(parts, axis=-1)

    def separate_tensor(self, mix: torch.Tensor | np.ndarray, sample_rate: int,
                        stems: str | None = None, residual: bool = True,
                        post: PostProcess | None = None) -> dict[str, torch.Tensor]:
        """Separate an in-memory mixture.

        Args:
            mix: ``[channels, time]`` (or ``[time]``), float, at ``sample_rate`` Hz.
            sample_rate: Hz; resampled to the model's rate and back.
            stems: as ``--stems`` (``None`` = every source of the model; ``"4"``, ``"2"``, a
                comma-separated list).
            residual: add the model's residual so the stems sum to ``mix``; ``False`` gives the
                model's raw outputs.
            post: output post-process applied before the stem plan (:data:`PostProcess`).

        Returns:
            ``{stem: Tensor[channels, time]}`` at ``sample_rate``, float32, on the CPU.

        Raises:
            ValueError: NaN or infinite samples.
            UsageError: a stem the model lacks.
        """
        x = mix.detach().cpu().numpy() if isinstance(mix, torch.Tensor) else np.asarray(mix)
        if x.ndim == 1:
            x = x[None]
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not np.isfinite(x).all():
            raise ValueError("mixture contains NaN or infinite samples")
        plan = plan_stems(self.sources, stems, residual)
        pieces: dict[str, list[np.ndarray]] = {n: [] for n in plan.names}
        pairs = _apply_post(self._stream().run([x], sample_rate, x.shape[0]), post)
        for mix_block, src_block in pairs:
            for name, y in plan.apply(mix_block, src_block).items():
                pieces[name].append(y)
        return {n: torch.from_numpy(np.concatenate(p, axis=-1)) for n, p in pieces.items()}

    def separate_file(self, path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                      stems: str | None = None, residual: bool = True, fmt: str = "wav",
                      bit_depth: str | None = None, filename: str = DEFAULT_FILENAME,
                      skip_existing: bool = False, downmix: bool = False,
                      on_progress: ProgressCallback | None = None,
                      on_start: Callable[[int], None] | None = None,
                      on_chunks: Callable[[int], None] | None = None,
                      block_seconds: float = 30.0,
                      post: PostProcess | None = None,
                      info: AudioInfo | None = None) -> SeparationResult:
        """Separate one file, streaming, into one file per stem.

        Peak memory is bounded by ``block_seconds`` and the chunk size, not by the length of
        the track. Stems go to temporary names and are renamed only when all are complete (all
        stems or none).

        **Clipping.** With ``bit_depth=None`` a floating-point input is written as float (WAV;
        see :func:`separate.audio.io.default_bit_depth`) and anything else as 16-bit, so a
        float input above full scale is kept as it is. When an integer or lossy output clips
        samples above full scale, the result carries ONE warning naming the file and saying
        the stems no longer sum to the mixture, also issued as a
        :class:`separate.audio.io.ClippingWarning`. Nothing is clipped in silence.

        Args:
            path: the mixture (any format :func:`separate.audio.audio_info` reads).
            out_dir: output root; files are ``out_dir / filename.format(track=, stem=, ext=)``.
            stems, residual: as :meth:`separate_tensor` (``None``: every source of the model;
                an explicit ``"4"`` on a model without the four MUSDB stems is a UsageError).
            fmt: ``wav`` | ``flac`` | ``ogg`` | ``mp3``.
            bit_depth: ``16`` | ``24`` | ``float`` (what ``fmt`` can store); ``None``: float for
                a float input where ``fmt`` stores it, else 16.
            filename: template with ``{track}``, ``{stem}``, ``{ext}``.
            skip_existing: do nothing if every output exists already.
            downmix: accept more than two channels by downmixing to stereo.
            on_progress: receives ``ProgressEvent("chunks", done, total, key=str(path))``.
            on_start, on_chunks: older form of ``on_progress`` (total chunks; chunks done in
                the last call).
            block_seconds: length of the blocks read from the file.
            post: output post-process applied before the stem plan (:data:`PostProcess`).
            info: the file's :func:`separate.audio.audio_info` when the caller has read it
                (a batch checks every input before the model loads).

        Raises:
            InputError: unreadable/empty/truncated/NaN input, or too many channels.
            UsageError: bad format, bit depth or filename template.
        """
        src = Path(path)
        start = time.perf_counter()
        info = audio_info(src) if info is None else info
        plan: StemPlan = plan_stems(self.sources, stems, residual)
        depth = bit_depth if bit_depth is not None else default_bit_depth(fmt, info.is_float)
        try:
            output_subtype(fmt, depth)
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
        result = SeparationResult(src, duration=info.duration, bit_depth=depth)
        if skip_existing and all(t.exists() for t in targets.values()):
            result.skipped = True
            result.seconds = time.perf_counter() - start
            return result
        info, channels, blocks = self.open_mixture(src, downmix, block_seconds, info)
        done = [0]
        total: list[int | None] = [None]

        def chunks(k: int) -> None:
            done[0] += k
            if on_chunks is not None:
                on_chunks(k)
            if on_progress is not None:
                on_progress(ProgressEvent("chunks", done[0], total[0], "chunks", key=str(src)))

        stream = self._stream(chunks)
        total[0] = stream.chunks_for(info.frames, info.sample_rate)
        if on_start is not None:
            on_start(total[0])
        if on_progress is not None:
            on_progress(ProgressEvent("chunks", 0, total[0], "chunks", key=str(src)))
        writers: dict[str, AtomicAudioWriter] = {}
        new_dirs = sorted({d for t in targets.values() for d in (t.parent, *t.parent.parents)
                           if not d.exists()}, key=lambda d: len(d.parts), reverse=True)
        try:
            for name, t in targets.items():
                writers[name] = AtomicAudioWriter(t, info.sample_rate, channels, fmt=fmt,
                                                  bit_depth=depth)
            pairs = _apply_post(stream.run(blocks, info.sample_rate, channels), post)
            for mix_block, src_block in pairs:
                for name, y in plan.apply(mix_block, src_block).items():
                    writers[name].write(y)
        except BaseException:
            for w in writers.values():
                w.abort()
            for d in new_dirs:  # nothing half-written: no empty track folder either
                with contextlib.suppress(OSError):
                    d.rmdir()
            raise
        for name, w in writers.items():
            result.outputs[name] = w.commit()
        clipped = {n: w for n, w in writers.items() if w.clipped}
        if clipped:
            n = sum(w.clipped for w in clipped.values())
            peak = max(w.peak for w in clipped.values())
            depth_text = f"{depth}-bit" if depth != "float" else fmt
            msg = (f"{src}: {n} samples of {', '.join(clipped)} above full scale (peak "
                   f"{peak:.2f}) were clipped in the {depth_text} output; the stems no longer "
                   "sum to the mixture (use --bit-depth float with wav to keep them)")
            result.warnings.append(msg)
            warnings.warn(msg, ClippingWarning, stacklevel=2)
        result.seconds = time.perf_counter() - start
        return result


def separate_file(path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                  model: str | torch.nn.Module = DEFAULT_MODEL, **kwargs) -> SeparationResult:
    """One-call form of :meth:`Separator.separate_file` (loads the model each call)."""
    engine_keys = ("device", "segment", "overlap", "batch_size", "window", "plan")
    engine_args = {k: kwargs.pop(k) for k in engine_keys if k in kwargs}
    return Separator(model, **engine_args).separate_file(path, out_dir, **kwargs)
