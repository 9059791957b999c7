"""F0-informed separation of a mixture of monophonic voices: the source-filter model or NMF.

:func:`split_voices` is the Python API behind ``separate f0 split``. With the source-filter model
(:class:`separate.nets.source_filter.SourceFilterModel`) the mixture is resampled to the model's
rate, optionally used to fit the model for ``fit_steps`` on segments of 4 s (Sec. IV-A; the
unsupervised loss needs nothing but the mixture and the F0), then the voices are synthesised
through the shared engine (:class:`separate.engine.OverlapAdd`): chunks of 4 s that overlap by
:data:`OVERLAP`, each with its slice of the F0 frames and of the harmonic excitation (computed
once over the whole signal, so its phase runs on across chunks), cross-faded by the engine's
window. The synthesised voices give soft masks for the whole mixture (Sec. III-C).

Models are read from a card (``models/f0-*.toml``, ``arch = "source_filter"``) with safetensors
weights. The default, :data:`DEFAULT_MODEL` (``models/f0-choir.toml``), is embedded in the
package: no network. :func:`load_source_filter` with ``None`` or ``"untrained"`` builds an
untrained model (random weights), which is only useful with ``fit_steps > 0``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from separate.audio.resample import resample
from separate.engine.overlap_add import Conditioning, OverlapAdd, total_chunks
from separate.f0.track import F0Track
from separate.nets.source_filter import (
    SourceFilterModel,
    multiscale_spectral_loss,
    soft_mask_separation,
)

ARCH = "source_filter"
DEFAULT_MODEL = "f0-choir"
UNTRAINED = "untrained"
SEGMENT_SECONDS = 4.0
#: Shortest mixture ``f0 split`` takes (s): the source-filter model's STFT window at its rate
#: needs ~0.064 s, and an F0 track of fewer than ~10 frames says nothing. Shorter files are
#: refused with one line (issue 20), not padded: there is no F0 to follow in them.
MIN_SECONDS = 0.1


def check_length(mix: np.ndarray, sample_rate: int, source: str | Path = "mixture") -> None:
    """Refuse a mixture shorter than :data:`MIN_SECONDS`.

    Raises:
        InputError: naming ``source`` and its duration.
    """
    from separate.errors import InputError

    seconds = mix.shape[-1] / sample_rate
    if seconds < MIN_SECONDS:
        raise InputError(source, f"{seconds:.3f} s long; f0 split needs at least "
                         f"{MIN_SECONDS} s")
OVERLAP = 0.25  # fraction of a chunk cross-faded with the next one when synthesising

Progress = Callable[[str, int, int], None]  # (phase, done, total)


def load_source_filter(
    spec: str | Path | None, seed: int = 0, hidden: int = 256
) -> SourceFilterModel:
    """The source-filter model of a card (name or path, e.g. :data:`DEFAULT_MODEL`), or a fresh
    one when ``spec`` is None or ``"untrained"`` (``hidden``: its GRU/MLP width; smaller fits
    faster on a CPU).

    Raises:
        ModelError: unknown model, a card of another subcommand than ``f0 split``,
            missing/corrupt weights (:func:`separate.registry.load_model`).
    """
    if spec is None or spec == UNTRAINED:
        torch.manual_seed(seed)
        return SourceFilterModel(hidden=hidden)
    from separate.registry import load_model

    return load_model(spec, "cpu", subcommand="f0 split")  # type: ignore[return-value]


def _segments(mix: torch.Tensor, f0_frames: torch.Tensor, seg: int, hop: int):
    """Cut ``mix [T]`` and ``f0_frames [J, T_pad // hop + 1]`` into ``[S, seg]`` and
    ``[S, J, seg // hop + 1]`` (the last segment zero-padded)."""
    n_seg = max(1, -(-mix.shape[-1] // seg))
    x = torch.nn.functional.pad(mix, (0, n_seg * seg - mix.shape[-1])).reshape(n_seg, seg)
    fpseg = seg // hop
    f = torch.stack([f0_frames[:, s * fpseg : s * fpseg + fpseg + 1] for s in range(n_seg)])
    return x, f


def synthesise_voices(
    model: SourceFilterModel,
    mix: torch.Tensor,
    f0_frames: torch.Tensor,
    segment: int,
    overlap: float = OVERLAP,
    batch_size: int = 4,
    progress: Progress | None = None,
) -> torch.Tensor:
    """The voices the source-filter model synthesises for a whole mixture, chunk by chunk.

    Chunks of ``segment`` samples (a multiple of ``model.hop``) overlapping by ``overlap`` go
    through :class:`separate.engine.OverlapAdd` ("taper" window, chunk starts on the model's
    frame grid, an unpadded last chunk ending at the signal's end), each with its slice of the
    F0 frames and of :meth:`SourceFilterModel.harmonics` of the whole track.

    Args:
        mix: ``[T]`` at ``model.sample_rate``.
        f0_frames: ``[J, N]`` Hz (0 = silent), frame ``n`` at sample ``n * model.hop``,
            ``N >= model.frame_count(T)`` (frames past it are ignored).
        progress: called as ``("separate", chunks done, chunks in all)``.

    Returns:
        ``float32 [J, T]``.
    """
    t, hop = mix.shape[-1], model.hop
    f0_frames = f0_frames[:, : model.frame_count(t)].float()
    with torch.no_grad():
        harm = model.harmonics(f0_frames, t)  # [J, T]: one phase across the chunks
    total = total_chunks(t, segment, overlap, align=hop)
    done = [0]

    def on_chunks(k: int) -> None:
        done[0] += k
        if progress:
            progress("separate", done[0], total)

    def run(x: torch.Tensor, f0: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return model(x[:, 0], f0, h)[:, :, None]  # [B, 1, L] -> [B, J, 1, L]

    ola = OverlapAdd(run, f0_frames.shape[0], segment, overlap, batch_size, on_chunks=on_chunks,
                     align=hop, conditioning=[Conditioning(f0_frames.numpy(), hop, centred=True),
                                              Conditioning(harm.numpy())])
    x = mix.detach().float().numpy()[None, None]  # [G=1, C=1, T]
    y = np.concatenate(list(ola.run([x])), axis=-1)  # [1, J, 1, T]
    return torch.from_numpy(y[0, :, 0])


def fit_model(
    model: SourceFilterModel,
    mixes: torch.Tensor,
    f0: torch.Tensor,
    steps: int,
    lr: float = 1e-3,
    batch: int = 4,
    seed: int = 0,
    progress: Progress | None = None,
) -> list[float]:
    """Optimise ``model`` for ``steps`` Adam steps on mixture segments (unsupervised, Eq. 14).

    Args:
        mixes: ``[S, T]`` segments; f0: ``[S, J, N]`` Hz.
        batch: segments per step (drawn at random).

    Returns:
        the loss of every step.
    """
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    harm = model.harmonics(f0, mixes.shape[-1])  # F0 is fixed: synthesise the harmonics once
    model.train()
    losses = []
    for step in range(steps):
        idx = torch.randperm(mixes.shape[0], generator=gen)[:batch]
        est = model(mixes[idx], f0[idx], harm[idx])
        loss = multiscale_spectral_loss(est.sum(dim=1), mixes[idx])
        opt.zero_grad()
        if torch.isfinite(loss):  # a non-finite batch is skipped, never applied
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        losses.append(float(loss.detach()))
        if progress:
            progress("fit", step + 1, steps)
    model.eval()
    return losses


def split_voices(
    mix: np.ndarray,
    sample_rate: int,
    f0: F0Track,
    method: str = "model",
    model: SourceFilterModel | None = None,
    fit_steps: int = 0,
    fit_lr: float = 1e-3,
    seed: int = 0,
    progress: Progress | None = None,
) -> np.ndarray:
    """Separate mono ``mix: float [time]`` at ``sample_rate`` Hz into ``f0.voices`` voices.

    Args:
        f0: F0 of each voice (Hz, 0 = silent), voice order = output order.
        method: ``"model"`` (source-filter model, Sec. III) or ``"nmf"`` (NMF1, Sec. IV-C).
        model: the source-filter model (None: the embedded :data:`DEFAULT_MODEL`).
        fit_steps: Adam steps on the mixture itself before separating (learning-free use).
        fit_lr: their learning rate.

    Returns:
        ``float32 [voices, time]`` at ``sample_rate``.

    Raises:
        ValueError: unknown method.
        InputError: ``mix`` shorter than :data:`MIN_SECONDS`.
    """
    mix = np.asarray(mix, dtype=np.float32)
    if method not in ("model", "nmf"):
        raise ValueError(f"unknown method {method!r} (model, nmf)")
    check_length(mix, sample_rate)
    if method == "nmf":
        from separate.f0.nmf import nmf_separate

        return nmf_separate(mix, sample_rate, f0)
    if method != "model":
        raise ValueError(f"unknown method {method!r} (model, nmf)")
    model = model if model is not None else load_source_filter(DEFAULT_MODEL)
    sr = model.sample_rate
    x = torch.from_numpy(resample(mix, sample_rate, sr))
    seg = int(round(SEGMENT_SECONDS * sr / model.hop)) * model.hop
    n_total = -(-x.shape[-1] // seg) * seg // model.hop + 1
    f0_frames = torch.from_numpy(f0.at(np.arange(n_total) * model.hop / sr)).float()
    if fit_steps > 0:
        xs, fs = _segments(x, f0_frames, seg, model.hop)
        fit_model(model, xs, fs, fit_steps, lr=fit_lr, seed=seed, progress=progress)
    torch.manual_seed(seed)
    model.eval()
    synth = synthesise_voices(model, x, f0_frames, seg, progress=progress)  # [J, T]
    with torch.no_grad():
        est = soft_mask_separation(x[None], synth[None])[0].numpy()
    back = [resample(e, sr, sample_rate)[: mix.shape[-1]] for e in est]
    return np.stack([np.pad(b, (0, mix.shape[-1] - b.shape[-1])) for b in back]).astype(
        np.float32
    )
