"""Streaming chunked overlap-add inference (the core of every subcommand).

The mixture arrives as consecutive blocks; it is cut into chunks of ``segment`` samples that
start every ``hop = segment·(1 − overlap)`` samples, chunks are batched through the model, and
each output chunk is multiplied by a window and added into an accumulator together with the
window itself. Output samples are divided by the accumulated window sum, which gives perfect
reconstruction for any positive window, any segment/overlap and any length (an identity model
returns its input exactly). A sample is emitted as soon as no later chunk can touch it, so
memory is bounded by a few segments whatever the length of the track.

Chunk plan for a signal of ``N`` samples: regular chunks start at ``0, hop, 2·hop, …`` while
they fit entirely; if they do not reach the end, one last chunk is aligned to the end (starts
at ``N − segment``), so no chunk but the only one of a signal shorter than ``segment`` sees zero
padding. With ``align > 1`` (a fully convolutional model that declares its shift grid), the last
chunk starts at ``N − segment`` rounded up to the grid and simply ends at ``N`` (a shorter
chunk, no padding), and a signal shorter than ``segment`` is one unpadded chunk: the model then
sees the end of the signal exactly as in one pass over the whole signal. Only a signal shorter
than one grid step (e.g. 10 ms, where the model's STFT would not even fit) is zero-padded to one
step, its output cut back to the signal's length.

``margin`` (samples) keeps the outer ``margin`` samples of every chunk out of the overlap-add
(weight 1e-6, so that the first and last samples of the signal are still reconstructed): there
the model lacks context beyond the chunk's edge. The crossfade then happens inside the overlap
where both chunks have at least ``margin`` samples of context on each side.

``plan="demucs"`` reproduces ``demucs.apply.apply_model(split=True, shifts=0)`` instead: chunks
start at ``0, hop, 2·hop, …`` for every start ``< N`` with ``hop = int(segment·(1 − overlap))``;
a chunk that would run past the end keeps its start ``o`` and length ``L = N − o`` and is fed
``model.valid_length(L)`` samples centred on it if the model has ``valid_length`` (HTDemucs: its
training length; real context on the left, zeros only beyond the signal), else just its ``L``
samples; the model's output is trimmed back to the centre ``L`` samples and weighted by
``window[:L]`` (Demucs' ``TensorChunk.padded`` + ``center_trim``). Used by Demucs cards
(``[engine] plan``), whose HTDemucs models only take chunks of their training length.

``conditioning`` (a sequence of :class:`Conditioning`) carries signals that are time-aligned
with the mixture and known in advance, e.g. F0 tracks at a frame rate or a synthesised
excitation at the sample rate: every chunk fed to the model gets the slice of each of them that
covers the same samples, and the model is called as ``model(chunks, *slices)``. ``f0 split``
separates through it, so its voices are overlap-added like every other model's stems.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Conditioning:
    """A signal time-aligned with the mixture, sliced with the mixture's chunk plan.

    Args:
        values: ``[..., frames]`` (any leading shape, e.g. ``[voices, frames]``), shared by the
            ``G`` signals of the stream; frame ``n`` belongs to mixture sample ``n · hop``.
        hop: samples per frame (1: a signal at the mixture's sample rate).
        centred: frame ``n`` is centred on sample ``n · hop`` (a centred STFT's convention): a
            chunk of ``L`` samples gets ``L // hop + 1`` frames, its first at the chunk's start
            and its last at the chunk's end. ``False``: frame ``n`` covers samples
            ``[n · hop, (n + 1) · hop)`` and a chunk gets ``ceil(L / hop)`` frames (with
            ``hop = 1``, exactly the chunk's ``L`` samples).

    Frames outside ``values`` (past its end, or before the signal's start for the demucs plan)
    are zeros. Chunks must start on the frame grid: :class:`OverlapAdd` raises ``ValueError``
    when ``hop > 1`` and its ``align`` is not a multiple of ``hop``.
    """

    values: np.ndarray
    hop: int = 1
    centred: bool = False

    def frames(self, length: int) -> int:
        """Frames given to a chunk of ``length`` samples."""
        if self.centred:
            return length // self.hop + 1
        return -(-length // self.hop)

    def slice(self, start: int, length: int) -> np.ndarray:
        """``[..., frames(length)]`` for the chunk of ``length`` samples that starts at mixture
        sample ``start`` (zeros outside ``values``).

        Raises:
            ValueError: ``start`` is not a multiple of ``hop``.
        """
        if start % self.hop:
            raise ValueError(f"a chunk starts at sample {start}, not on the conditioning's "
                             f"grid of {self.hop} samples")
        first, n = start // self.hop, self.frames(length)
        values = np.asarray(self.values)
        if 0 <= first and first + n <= values.shape[-1]:
            return values[..., first:first + n]
        out = np.zeros((*values.shape[:-1], n), dtype=values.dtype)
        lo, hi = max(first, 0), min(first + n, values.shape[-1])
        if hi > lo:
            out[..., lo - first:hi - first] = values[..., lo:hi]
        return out


def chunk_window(segment: int, hop: int, kind: str = "taper", margin: int = 0) -> np.ndarray:
    """Window applied to every output chunk, ``float32 [segment]``, strictly positive.

    Args:
        segment: chunk length (samples).
        hop: chunk step (samples), ``0 < hop <= segment``.
        kind: ``"taper"``: flat top with sin² / cos² tapers over the ``segment − hop`` overlapping
            samples (two neighbours sum to exactly one in the interior); ``"triangle"``: Demucs'
            triangular weight; ``"rect"``: all ones.
    """
    if kind == "rect" or hop >= segment:
        return np.ones(segment, dtype=np.float32)
    n = np.arange(segment, dtype=np.float64)
    if kind == "triangle":
        w = np.minimum(n + 1, segment - n)
        return (w / w.max()).astype(np.float32)
    if kind != "taper":
        raise ValueError(f"unknown window {kind!r}")
    overlap = segment - hop
    margin = max(0, min(int(margin), (overlap - 1) // 2))
    length = overlap - 2 * margin  # the crossfade, between the two margins
    rise = np.ones(segment)
    rise[:margin] = 1e-6
    ramp = np.sin(0.5 * np.pi * (np.arange(length) + 0.5) / length) ** 2
    rise[margin: margin + length] = np.maximum(ramp, 1e-6)
    fall = rise[::-1]
    return np.minimum(rise, fall).astype(np.float32)


def count_chunks(length: int, segment: int, hop: int, plan: str = "end") -> int:
    """Number of chunks the plan (``"end"`` or ``"demucs"``) uses for ``length`` samples."""
    if plan == "demucs":
        return max(1, -(-length // hop))
    if length <= segment:
        return 1
    regular = (length - segment) // hop + 1
    return regular + (1 if (regular - 1) * hop + segment < length else 0)


class OverlapAdd:
    """Run a model over a stream at the model's rate and channel count.

    Args:
        model: callable ``Tensor[batch, channels, segment] -> Tensor[batch, sources, channels,
            segment]`` (the separation-model contract); with ``conditioning``, called as
            ``model(chunks, *slices)`` with one ``Tensor[batch, ..., frames]`` per
            :class:`Conditioning`.
        num_sources: ``S``, the model's number of sources.
        segment: chunk length in samples.
        overlap: fraction of a chunk shared with the next one, ``0 <= overlap < 1``.
        batch_size: chunks per model call.
        device: where the model runs.
        window: see :func:`chunk_window`.
        on_chunks: called with the number of chunks done after every model call (progress).
        plan: ``"end"`` (default: an end-aligned last chunk) or ``"demucs"`` (see the module
            docstring).
        align: chunk starts are multiples of ``align`` samples (``"end"`` plan): the hop is
            rounded to a multiple of it and the last chunk starts on the grid. A network whose
            strided layers downsample time by ``D`` frames of ``H`` samples is shift-equivariant
            only for shifts by multiples of ``D·H``; chunks on that grid give the same output as
            one pass over the whole signal, but for the missing context at their edges.
        margin: samples at each chunk edge left out of the overlap-add ("taper" window; see
            the module docstring).
        conditioning: signals sliced with the chunk plan and passed to ``model`` with each
            chunk (see :class:`Conditioning`); none by default.

    Raises:
        ValueError: a bad segment, overlap or plan; conditioning whose frame grid the chunk
            starts do not follow (``hop > 1`` needs ``align`` a multiple of it).

    The stream is ``Iterable[ndarray [G, C, n]]``: ``G`` independent signals of ``C`` channels
    processed in lockstep (e.g. the channels of a stereo file through a mono model), whose chunks
    are batched together. :meth:`run` yields ``ndarray [G, S, C, m]`` blocks that concatenate to
    exactly the input length.
    """

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], num_sources: int,
                 segment: int, overlap: float = 0.25, batch_size: int = 4,
                 device: str | torch.device = "cpu", window: str = "taper",
                 on_chunks: Callable[[int], None] | None = None, plan: str = "end",
                 align: int = 1, margin: int = 0,
                 conditioning: Sequence[Conditioning] = ()):
        if segment <= 0:
            raise ValueError("segment must be positive")
        if not 0 <= overlap < 1:
            raise ValueError("overlap must be in [0, 1)")
        self.model = model
        self.num_sources = num_sources
        self.segment = int(segment)
        if plan not in ("end", "demucs"):
            raise ValueError(f"unknown chunk plan {plan!r} (end, demucs)")
        self.plan = plan
        if plan == "demucs":  # as demucs.apply.apply_model: int(), not round()
            self.hop = max(1, int((1 - overlap) * self.segment))
        else:
            align = _effective_align(self.segment, align)
            self.hop = _aligned_hop(self.segment, overlap, align)
        self.align = max(1, int(align))
        self.batch_size = max(1, int(batch_size))
        self.device = torch.device(device)
        self.window = chunk_window(self.segment, self.hop, window, margin)
        self.on_chunks = on_chunks
        self.conditioning = tuple(conditioning)
        for cond in self.conditioning:
            if cond.hop > 1 and (plan != "end" or self.align % cond.hop):
                raise ValueError(f"conditioning at {cond.hop} samples per frame needs chunks on "
                                 f"its grid: the end plan with align a multiple of {cond.hop} "
                                 f"(got plan {plan!r}, align {self.align})")

    def _infer(self, chunks: list[np.ndarray],
               conds: list[list[np.ndarray]] | None = None) -> np.ndarray:
        """``chunks``: list of ``[G, C, segment]`` → ``[len, G, S, C, segment]``; ``conds``: for
        every :class:`Conditioning`, its slice ``[..., frames]`` for every chunk."""
        x = np.stack(chunks)  # [K, G, C, L]
        k, g, c, n = x.shape
        with torch.inference_mode():
            batch = torch.from_numpy(x.reshape(k * g, c, n)).to(self.device)
            extra = []
            for slices in conds or []:  # [K, ...] → [K·G, ...]: shared by the G signals
                s = np.stack(slices)
                s = np.repeat(s, g, axis=0) if g > 1 else s
                extra.append(torch.from_numpy(np.ascontiguousarray(s)).to(self.device))
            outs = []
            for i in range(0, k * g, self.batch_size):
                args = [e[i:i + self.batch_size] for e in extra]
                outs.append(self.model(batch[i:i + self.batch_size], *args).float().cpu())
            y = torch.cat(outs).numpy()
        if self.on_chunks is not None:
            self.on_chunks(k)
        return y.reshape(k, g, self.num_sources, c, n)

    def _demucs_size(self, length: int) -> int:
        """Samples fed to the model for a last chunk of ``length`` samples (demucs plan): the
        model's ``valid_length(length)`` if it has one (HTDemucs: its training length), else
        ``length`` (unpadded, as ``apply_model`` does)."""
        valid = getattr(self.model, "valid_length", None)
        return max(length, int(valid(length))) if callable(valid) else length

    def run(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Separate a stream; see the class docstring for shapes."""
        seg, hop = self.segment, self.hop
        buf: np.ndarray | None = None  # input samples from absolute index buf_start
        buf_start = 0
        total = 0  # input samples received
        pos = 0  # start of the next regular chunk
        last_start = -1  # start of the last chunk computed
        acc: np.ndarray | None = None  # [G, S, C, *] from absolute index out_start
        wsum = np.zeros(0, dtype=np.float64)
        out_start = 0
        # (start, chunk [G, C, segment], offset of the kept output in the chunk, kept length)
        pending: list[tuple[int, np.ndarray, int, int]] = []

        def flush() -> None:
            nonlocal acc, wsum
            if not pending:
                return
            ys: list[np.ndarray] = []
            i = 0
            while i < len(pending):  # chunks of equal length share a model call
                j = i
                while j < len(pending) and pending[j][1].shape[-1] == pending[i][1].shape[-1]:
                    j += 1
                group = pending[i:j]
                conds = [[cond.slice(start - trim, chunk.shape[-1])
                          for start, chunk, trim, _ in group] for cond in self.conditioning]
                ys.extend(self._infer([c for _, c, _, _ in group], conds))
                i = j
            for (start, _, trim, keep), y in zip(pending, ys, strict=True):
                if keep < seg:  # last chunks (demucs plan; aligned end plan): window[:keep]
                    y = y[..., trim:trim + keep]
                    win = self.window[:keep]
                else:
                    win = self.window
                end = start + keep
                need = end - out_start
                if acc is None or acc.shape[-1] < need:
                    shape = (*y.shape[:-1], max(need, 2 * seg))
                    grown = np.zeros(shape, dtype=np.float64)
                    grown_w = np.zeros(shape[-1], dtype=np.float64)
                    if acc is not None:
                        grown[..., : acc.shape[-1]] = acc
                        grown_w[: wsum.shape[0]] = wsum
                    acc, wsum = grown, grown_w
                a, b = start - out_start, end - out_start
                acc[..., a:b] += y * win
                wsum[a:b] += win
            pending.clear()

        def emit(upto: int) -> np.ndarray | None:
            """Final samples [out_start, upto) normalised, dropped from the accumulator."""
            nonlocal acc, wsum, out_start
            n = upto - out_start
            if n <= 0 or acc is None:
                return None
            out = (acc[..., :n] / wsum[:n]).astype(np.float32)
            acc = acc[..., n:].copy()
            wsum = wsum[n:].copy()
            out_start = upto
            return out

        for block in blocks:
            block = np.asarray(block, dtype=np.float32)
            if block.shape[-1] == 0:
                continue
            buf = block if buf is None else np.concatenate([buf, block], axis=-1)
            total += block.shape[-1]
            while pos + seg <= total:
                pending.append((pos, buf[..., pos - buf_start: pos - buf_start + seg], 0, seg))
                last_start = pos
                pos += hop
                if len(pending) >= self.batch_size:
                    flush()
                    # samples before the last chunk's start are final: later chunks start there
                    # or after (the end-aligned chunk starts at total − seg >= last_start)
                    out = emit(last_start)
                    if out is not None:
                        yield out
            # keep input from the last computed chunk on (the end-aligned chunk may need it)
            keep_from = max(last_start, 0) if last_start >= 0 else 0
            keep_from = min(keep_from, pos)
            if self.plan == "demucs":  # the last chunks take up to segment/2 of left context
                keep_from = max(0, min(keep_from, pos - self._demucs_size(seg) // 2 - 1))
            if keep_from > buf_start:
                buf = buf[..., keep_from - buf_start:]
                buf_start = keep_from
        if buf is None or total == 0:
            return
        if self.plan == "demucs":  # chunks starting before the end that do not fit
            for start in range(pos, total, self.hop):
                keep = total - start
                size = self._demucs_size(keep)
                trim = (size - keep) // 2
                a = start - trim  # first input sample fed to the model
                chunk = np.zeros((*buf.shape[:-1], size), dtype=np.float32)
                lo, hi = max(a, 0), min(a + size, total)
                chunk[..., lo - a: hi - a] = buf[..., lo - buf_start: hi - buf_start]
                pending.append((start, chunk, trim, keep))
        elif last_start < 0:  # shorter than one segment: one chunk
            if self.align > 1 and total >= self.align:  # any length on the grid: no padding
                pending.append((0, buf[..., :total], 0, total))
            elif self.align > 1:  # shorter than one grid step (its STFT may not even fit):
                # zero-padded to one step, the output cut back to the signal
                pad = np.zeros((*buf.shape[:-1], self.align), dtype=np.float32)
                pad[..., :total] = buf[..., :total]
                pending.append((0, pad, 0, total))
            else:
                pad = np.zeros((*buf.shape[:-1], seg), dtype=np.float32)
                pad[..., :total] = buf
                pending.append((0, pad, 0, seg))
        elif last_start + seg < total:  # end-aligned last chunk
            if self.align > 1:  # start on the grid, end at the signal's end (shorter chunk)
                start = -(-(total - seg) // self.align) * self.align
                pending.append((start, buf[..., start - buf_start: total - buf_start], 0,
                                total - start))
            else:
                start = total - seg
                pending.append((start, buf[..., start - buf_start: total - buf_start], 0, seg))
        flush()
        out = emit(total)
        if out is not None:
            yield out


def _effective_align(segment: int, align: int) -> int:
    """A segment shorter than the model's grid cannot start chunks on it: no alignment then."""
    align = max(1, int(align))
    return align if align <= segment else 1


def _aligned_hop(segment: int, overlap: float, align: int = 1) -> int:
    """Chunk step of the ``"end"`` plan: ``segment·(1 − overlap)`` rounded to a multiple of
    ``align`` (at least ``align``, at most ``segment`` when possible)."""
    align = max(1, int(align))
    hop = max(1, int(round(segment * (1 - overlap) / align))) * align
    if hop > segment and align <= segment:
        hop = segment // align * align
    return max(1, hop)


def total_chunks(length: int, segment: int, overlap: float, plan: str = "end",
                 align: int = 1) -> int:
    """Chunks :class:`OverlapAdd` will compute for ``length`` samples (for progress bars)."""
    if plan == "demucs":
        hop = max(1, int((1 - overlap) * segment))
    else:
        align = _effective_align(segment, align)
        hop = _aligned_hop(segment, overlap, align)
    return count_chunks(length, segment, hop, plan) if length > 0 else 0


__all__ = ["Conditioning", "OverlapAdd", "chunk_window", "count_chunks", "total_chunks"]
