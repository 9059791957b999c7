"""From a file-rate stream to stems: resampling (soxr), channel mapping, overlap-add.

:class:`StreamSeparator` takes blocks of the mixture at its own rate and channel count and yields
``(mixture block, stems block)`` pairs of equal length at that same rate, so that callers can
write stems and compute exact residuals as they go. Between the two it resamples to the model's
rate with the project's streaming resampler (:func:`separate.audio.resample.stream_resampler`:
delay-compensated, exact lengths), maps channels to the model's by the project's channel policy
(:mod:`separate.audio.channels`: a stereo file through a mono model runs each channel as its own
signal; a mono file through a stereo model is duplicated and the outputs averaged), and runs
:class:`separate.engine.overlap_add.OverlapAdd`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch

from separate.audio.channels import check_model_channels, from_model_channels, to_model_channels
from separate.audio.resample import stream_resampler
from separate.engine.overlap_add import OverlapAdd, total_chunks


class _Fifo:
    """Queue of ``[C, n]`` blocks from which exact sample counts are popped."""

    def __init__(self) -> None:
        self.blocks: deque[np.ndarray] = deque()
        self.size = 0

    def push(self, block: np.ndarray) -> None:
        self.blocks.append(block)
        self.size += block.shape[-1]

    def pop(self, n: int) -> np.ndarray:
        parts = []
        while n > 0 and self.blocks:
            b = self.blocks[0]
            if b.shape[-1] <= n:
                parts.append(self.blocks.popleft())
                n -= b.shape[-1]
            else:
                parts.append(b[..., :n])
                self.blocks[0] = b[..., n:]
                n = 0
        out = np.concatenate(parts, axis=-1) if parts else np.zeros((0, 0), np.float32)
        self.size -= out.shape[-1]
        return out


def model_input(blocks: Iterable[np.ndarray], sample_rate: int, channels: int,
                model_rate: int, model_channels: int) -> Iterator[np.ndarray]:
    """The signal a model of ``model_rate`` Hz and ``model_channels`` channels sees:
    blocks ``[G, model_channels, n]``.

    This is what :meth:`StreamSeparator.run` feeds the overlap-add, and what ``adapt`` trains
    on, so that the adapted model is tuned on exactly the signal it then separates. ``G`` is 1,
    or the file's channel count for a mono model (each channel runs as its own signal); a mono
    file through a stereo model is duplicated (:mod:`separate.audio.channels`). Resampling is
    the project's streaming resampler (:func:`separate.audio.resample.stream_resampler`).

    Args:
        blocks: consecutive ``float32 [channels, n]`` blocks at ``sample_rate`` Hz.
        sample_rate: the blocks' rate (Hz).
        channels: their channel count.
        model_rate, model_channels: the model's rate (Hz) and channel count.

    Raises:
        ValueError: a channel layout the model cannot take.
    """
    check_model_channels(channels, model_channels)
    rs_in = stream_resampler(sample_rate, model_rate, channels) if sample_rate != model_rate \
        else None
    for b in blocks:
        b = np.ascontiguousarray(b, dtype=np.float32)
        if rs_in is not None:
            b = rs_in.resample_chunk(b.T).T
        if b.shape[-1]:
            yield to_model_channels(b, model_channels)
    if rs_in is not None:
        tail = rs_in.resample_chunk(np.zeros((0, channels), np.float32), last=True).T
        if tail.shape[-1]:
            yield to_model_channels(tail, model_channels)


class StreamSeparator:
    """Separate a stream of mixture blocks with a model that honours the contract.

    Args:
        model: a separation model (``sources``, ``sample_rate``, ``audio_channels``, forward).
        segment: chunk length in seconds (at the model's rate).
        overlap: fraction of a chunk shared with the next, ``[0, 1)``.
        batch_size: chunks per model call.
        device: where the model runs.
        window: overlap-add window (``"taper"``, ``"triangle"``, ``"rect"``).
        on_chunks: progress callback, called with chunks done after each model call.
        margin: seconds at each chunk edge left out of the overlap-add (see
            :mod:`separate.engine.overlap_add`).
        plan: chunk plan, ``"end"`` (default) or ``"demucs"`` (see
            :mod:`separate.engine.overlap_add`).
    """

    def __init__(self, model: torch.nn.Module, segment: float = 10.0, overlap: float = 0.25,
                 batch_size: int = 4, device: str | torch.device = "cpu", window: str = "taper",
                 on_chunks: Callable[[int], None] | None = None, plan: str = "end",
                 margin: float = 0.0):
        self.model = model
        self.sources: list[str] = list(model.sources)  # type: ignore[arg-type]
        self.model_rate = int(model.sample_rate)  # type: ignore[arg-type]
        self.model_channels = int(model.audio_channels)  # type: ignore[arg-type]
        self.segment_samples = max(1, int(round(segment * self.model_rate)))
        self.overlap = overlap
        self.plan = plan
        self.align = int(getattr(model, "chunk_align", 1))
        self.ola = OverlapAdd(model, len(self.sources), self.segment_samples, overlap,
                              batch_size, device, window, on_chunks, plan, self.align,
                              int(round(margin * self.model_rate)))

    def chunks_for(self, frames: int, sample_rate: int) -> int:
        """Chunks needed for ``frames`` samples at ``sample_rate`` Hz (progress total)."""
        n = int(np.ceil(frames * self.model_rate / sample_rate))
        return total_chunks(n, self.segment_samples, self.overlap, self.plan, self.align)

    def model_input(self, blocks: Iterable[np.ndarray], sample_rate: int,
                    channels: int) -> Iterator[np.ndarray]:
        """:func:`model_input` for this model: blocks ``[G, C_m, n]`` at the model's rate."""
        return model_input(blocks, sample_rate, channels, self.model_rate, self.model_channels)

    def run(self, blocks: Iterable[np.ndarray], sample_rate: int,
            channels: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(mix [channels, n], stems [sources, channels, n])`` at ``sample_rate``.

        Args:
            blocks: consecutive ``float32 [channels, n]`` blocks of the mixture.
            sample_rate: the mixture's rate (Hz).
            channels: the mixture's channel count (1 or 2, or any count for a mono model).

        Raises:
            ValueError: a channel layout the model cannot take (e.g. 6 channels, stereo model).
        """
        cm = self.model_channels
        check_model_channels(channels, cm)
        n_src = len(self.sources)
        resample = sample_rate != self.model_rate
        fifo = _Fifo()
        counts = {"in": 0, "out": 0}

        def from_model(y: np.ndarray) -> np.ndarray:  # [G, S, C_m, n] -> [S, C_in, n]
            return from_model_channels(y, channels, cm)

        rs_out = (stream_resampler(self.model_rate, sample_rate, n_src * channels)
                  if resample else None)

        def counted() -> Iterator[np.ndarray]:
            for b in blocks:
                b = np.ascontiguousarray(b, dtype=np.float32)
                fifo.push(b)
                counts["in"] += b.shape[-1]
                yield b

        def pair(stems: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
            n = min(stems.shape[-1], counts["in"] - counts["out"])
            if n <= 0:
                return None
            counts["out"] += n
            return fifo.pop(n), stems[..., :n]

        for y in self.ola.run(self.model_input(counted(), sample_rate, channels)):
            stems = from_model(y)
            if rs_out is not None:
                m = stems.shape[-1]
                stems = rs_out.resample_chunk(stems.reshape(-1, m).T).T.reshape(n_src, channels, -1)
            p = pair(stems)
            if p is not None:
                yield p
        if rs_out is not None:
            tail = rs_out.resample_chunk(np.zeros((0, n_src * channels), np.float32), last=True)
            p = pair(tail.T.reshape(n_src, channels, -1))
            if p is not None:
                yield p
        missing = counts["in"] - counts["out"]
        if missing > 0:  # resampler rounding: pad the last samples with silence
            p = pair(np.zeros((n_src, channels, missing), np.float32))
            if p is not None:
                yield p
