"""``adapt``: the whole ``separate adapt`` job as one Python call (files in, stems out).

Read the mixture as the engine reads it, parse the activations onto a frame grid, fine-tune the
model on the signal the engine feeds it (:func:`separate.adapt.loop.adapt_model`), separate the
mixture with the adapted model through split's engine and writer (optionally gating the model's
sources with the activations first; what the gate removes goes to the residual stem), optionally
save the adapted model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from separate.activations.formats import frames_to_samples, load_activations, num_frames_for
from separate.adapt.loop import AdaptConfig, AdaptResult, adapt_model, gate
from separate.progress import ProgressCallback

#: Hop of the activations grid used by ``adapt``: 512 samples at the model's rate (11.6 ms at
#: 44.1 kHz), fine enough that interval marks keep their precision.
FRAME_HOP = 512


@dataclass
class AdaptOutput:
    """Result of :func:`adapt`.

    Attributes:
        model: the adapted model (eval mode).
        result: the loop's :class:`AdaptResult` (losses, #TP, time).
        stems: ``{stem: float32 [channels, time]}`` at the mixture's sample rate: what was
            written (read back) when ``out_dir`` was given.
        sample_rate: Hz of ``stems``.
        h: ``BoolTensor[sources, frames]`` the activations used.
        frame_rate: frames per second of ``h``.
        written: files written (stems, card, weights).
        warnings: one-line warnings of the writer (e.g. clipping), each naming the file.
    """

    model: torch.nn.Module
    result: AdaptResult
    stems: dict[str, np.ndarray]
    sample_rate: int
    h: torch.Tensor
    frame_rate: float
    written: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def to_model_format(audio: np.ndarray, sample_rate: int, model: torch.nn.Module) -> np.ndarray:
    """``[channels, time]`` at ``sample_rate`` → the signal the engine feeds ``model``
    (:func:`separate.engine.stream.model_input`: soxr streaming resampler, the engine's
    channel mapping), as ``[model channels, n]``. When a mono model runs a stereo file each
    channel is its own signal; they are laid end to end along time."""
    from separate.engine.stream import model_input

    x = np.ascontiguousarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[None]
    parts = model_input([x], sample_rate, x.shape[0], int(model.sample_rate),  # type: ignore[arg-type]
                        int(model.audio_channels))  # type: ignore[arg-type]
    groups = np.concatenate(list(parts), axis=-1)
    return np.ascontiguousarray(np.concatenate(list(groups), axis=-1))


def separate_mixture(
    model: torch.nn.Module, mix: np.ndarray, sample_rate: int, device: str = "auto"
) -> dict[str, np.ndarray]:
    """Separate ``mix [channels, time]`` with ``model`` through the shared engine
    (:class:`separate.separation.Separator`, the card's engine settings); the model's raw
    outputs at ``sample_rate`` (no residual added)."""
    from separate.separation import Separator

    out = Separator(model, device=device).separate_tensor(
        torch.from_numpy(np.ascontiguousarray(mix, dtype=np.float32)), sample_rate, residual=False
    )
    return {k: np.asarray(v.numpy(), dtype=np.float32) for k, v in out.items()}


def gate_post(h: torch.Tensor, num_samples: int, sample_rate: float, frame_rate: float):
    """``--gate`` as an output post-process (:data:`separate.separation.PostProcess`): the
    model's raw sources ``[sources, channels, n]`` are multiplied by the activations upsampled to
    the file's samples (:func:`separate.adapt.loop.gate`), before the stem plan, so the energy it
    removes goes to the residual stem like the rest of the model's residual."""
    h_mix = frames_to_samples(h, num_samples, sample_rate, frame_rate)

    def post(start: int, sources: np.ndarray) -> np.ndarray:
        hb = h_mix[:, start : start + sources.shape[-1]]
        return gate(torch.from_numpy(np.ascontiguousarray(sources)), hb).numpy()

    return post


def adapt(
    mix: str | os.PathLike[str],
    activations: str | os.PathLike[str] | torch.Tensor,
    model: str | os.PathLike[str] | torch.nn.Module = "default",
    *,
    config: AdaptConfig | None = None,
    frame_rate: float | None = None,
    gate_outputs: bool = False,
    out_dir: str | os.PathLike[str] | None = None,
    save_model: str | os.PathLike[str] | None = None,
    device: str = "auto",
    stems: str | None = None,
    residual: bool = True,
    fmt: str = "wav",
    bit_depth: str | None = None,
    filename: str = "{stem}.{ext}",
    downmix: bool = False,
    on_progress: ProgressCallback | None = None,
) -> AdaptOutput:
    """Adapt a model to one mixture from activations, then separate that mixture.

    One audio path with ``split``: the model is fine-tuned on exactly the signal the engine
    then separates (:meth:`Separator.model_signal`: the same reading, downmix, resampler and
    channel mapping), and the stems go through split's writer
    (:meth:`Separator.separate_file`): same formats, bit depth rule, filename template, stem
    plan and residual rule, all stems or none. With ``config.epochs = 0`` the output is what
    ``separate split`` writes with the same model. ``gate_outputs`` (``--gate``) is an output
    post-process applied to the model's raw sources before the stem plan, so what it removes
    goes to the residual stem (``other`` / ``accompaniment`` / ``residual``); with
    ``residual=False`` the raw (gated) outputs are written and do not sum to the mixture.

    Args:
        mix: the mixture's audio file.
        activations: an activations file (:mod:`separate.activations.formats`), or a
            ``BoolTensor[sources, frames]`` on a grid of ``frame_rate`` frames per second.
        model: a registry name / card path, or a model object (it is adapted in place).
        config: hyper-parameters (:class:`separate.adapt.loop.AdaptConfig`, paper defaults).
        frame_rate: frames per second of a tensor ``activations`` (required then); for a file,
            the grid used (default ``model.sample_rate / 512``).
        gate_outputs: multiply the model's sources by the activations (``--gate``).
        out_dir: write the stems there (``filename`` template, default ``{stem}.{ext}``).
        save_model: write the adapted model as ``X.toml`` + ``X.safetensors``.
        device: torch device for adaptation and separation (``auto``: CUDA, MPS, CPU).
        stems, residual, fmt, bit_depth, filename, downmix: as
            :meth:`separate.separation.Separator.separate_file`.
        on_progress: receives ``ProgressEvent("steps", step, total, value=loss)`` after every
            optimiser step, then the separation's ``"chunks"`` events.

    Raises:
        separate.errors.InputError: unreadable mixture or activations file.
        separate.errors.ModelError: unknown model.
        separate.errors.UsageError: bad stage range, bad output options, a model without a
            card for ``save_model``.
    """
    from separate.audio.io import read_audio
    from separate.engine import resolve_device
    from separate.separation import Separator

    dev = resolve_device(device)
    if isinstance(model, torch.nn.Module):
        net = model.to(dev)
    else:
        from separate.registry import load_model

        net = load_model(model, device=dev, subcommand="split")  # adapt tunes split models
    config = config or AdaptConfig()
    sep = Separator(net, device=str(dev))
    info, channels, blocks = sep.open_mixture(mix, downmix)
    sr, frames = info.sample_rate, info.frames
    groups = np.concatenate(list(sep._stream().model_input(blocks, sr, channels)), axis=-1)
    rate = int(net.sample_rate)  # type: ignore[attr-defined]
    sources = list(net.sources)  # type: ignore[attr-defined]
    if isinstance(activations, torch.Tensor):
        if frame_rate is None:
            raise ValueError("frame_rate is required with an activations tensor")
        h = activations.to(torch.bool)
        if h.shape[0] != len(sources):
            raise ValueError(f"activations must have {len(sources)} rows ({', '.join(sources)})")
    else:
        frame_rate = frame_rate or rate / FRAME_HOP
        n_frames = num_frames_for(frames, sr, frame_rate)
        h = load_activations(activations, sources, n_frames, frame_rate, duration=frames / sr)
    # the engine's signal [G, C_m, n]; a mono model over a stereo file runs each channel as
    # its own signal (G = 2): train on them end to end, each with the same marks
    h_model = frames_to_samples(h, groups.shape[-1], rate, frame_rate)
    x = np.ascontiguousarray(np.concatenate(list(groups), axis=-1))
    h_model = h_model.repeat(1, groups.shape[0])

    result = adapt_model(net, torch.from_numpy(x), h_model, config, on_progress=on_progress)
    net.eval()
    post = gate_post(h, frames, sr, frame_rate) if gate_outputs else None
    written: list[Path] = []
    warned: list[str] = []
    if out_dir is not None:
        res = sep.separate_file(mix, out_dir, stems=stems, residual=residual, fmt=fmt,
                                bit_depth=bit_depth, filename=filename, downmix=downmix,
                                on_progress=on_progress, post=post)
        written, warned = list(res.outputs.values()), list(res.warnings)
        stem_audio = {name: read_audio(p)[0] for name, p in res.outputs.items()}
    else:
        _, _, blocks = sep.open_mixture(mix, downmix)
        audio = np.concatenate(list(blocks), axis=-1)
        stem_audio = {k: v.numpy() for k, v in
                      sep.separate_tensor(audio, sr, stems, residual, post=post).items()}
    out = AdaptOutput(net, result, stem_audio, sr, h, frame_rate, written, warned)
    if save_model is not None:
        from separate.adapt.export import save_adapted_model

        training = {
            "method": "Cantisani et al. 2021, user-guided one-shot adaptation (separate adapt)",
            "mixture": str(mix),
            "activations": str(activations) if not isinstance(activations, torch.Tensor) else "",
            **{k: v for k, v in result.config.items()},
            "gated_outputs": gate_outputs,
            "trainable_parameters": result.trainable_parameters,
            "initial_loss": result.initial_loss,
            "final_loss": result.final_loss,
            "seconds": round(result.seconds, 2),
        }
        out.written.extend(save_adapted_model(net, save_model, training))
    return out
