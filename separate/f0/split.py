"""F0-informed separation of a mixture of monophonic voices: the source-filter model or NMF.

:func:`split_voices` is the Python API behind ``separate f0 split``. With the source-filter model
(:class:`separate.nets.source_filter.SourceFilterModel`) the mixture is resampled to the model's
rate, cut into segments (4 s, as in Sec. IV-A), optionally used to fit the model for ``fit_steps``
(the unsupervised loss needs nothing but the mixture and the F0), then every segment is
synthesised and the synthesised voices give soft masks for the whole mixture (Sec. III-C).

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

from separate.f0.io import resample
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
    """
    mix = np.asarray(mix, dtype=np.float32)
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
    xs, fs = _segments(x, f0_frames, seg, model.hop)
    if fit_steps > 0:
        fit_model(model, xs, fs, fit_steps, lr=fit_lr, seed=seed, progress=progress)
    torch.manual_seed(seed)
    model.eval()
    outs = []
    with torch.no_grad():
        for s in range(xs.shape[0]):
            outs.append(model(xs[s : s + 1], fs[s : s + 1])[0])
            if progress:
                progress("separate", s + 1, xs.shape[0])
        synth = torch.cat(outs, dim=-1)[:, : x.shape[-1]]  # [J, T]
        est = soft_mask_separation(x[None], synth[None])[0].numpy()
    back = [resample(e, sr, sample_rate)[: mix.shape[-1]] for e in est]
    return np.stack([np.pad(b, (0, mix.shape[-1] - b.shape[-1])) for b in back]).astype(
        np.float32
    )
