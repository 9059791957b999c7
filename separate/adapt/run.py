"""``adapt``: the whole ``separate adapt`` job as one Python call (files in, stems out).

Read the mixture, parse the activations onto a frame grid, fine-tune the model on the mixture
(:func:`separate.adapt.loop.adapt_model`), separate the mixture with the adapted model through
the shared engine, optionally gate the stems with the activations, write them, optionally save
the adapted model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from separate.adapt.activations import frames_to_samples, load_activations, num_frames_for
from separate.adapt.loop import AdaptConfig, AdaptResult, adapt_model, gate

#: Hop of the activations grid used by ``adapt``: 512 samples at the model's rate (11.6 ms at
#: 44.1 kHz), fine enough that interval marks keep their precision.
FRAME_HOP = 512


@dataclass
class AdaptOutput:
    """Result of :func:`adapt`.

    Attributes:
        model: the adapted model (eval mode).
        result: the loop's :class:`AdaptResult` (losses, #TP, time).
        stems: ``{source: float32 [channels, time]}`` at the mixture's sample rate.
        sample_rate: Hz of ``stems``.
        h: ``BoolTensor[sources, frames]`` the activations used.
        frame_rate: frames per second of ``h``.
        written: files written (stems, card, weights).
    """

    model: torch.nn.Module
    result: AdaptResult
    stems: dict[str, np.ndarray]
    sample_rate: int
    h: torch.Tensor
    frame_rate: float
    written: list[Path] = field(default_factory=list)


def to_model_format(audio: np.ndarray, sample_rate: int, model: torch.nn.Module) -> np.ndarray:
    """``[channels, time]`` at ``sample_rate`` → the model's rate (soxr) and channel count
    (mono is duplicated, stereo averaged to mono)."""
    import soxr

    x = np.asarray(audio, dtype=np.float32)
    want = int(model.audio_channels)  # type: ignore[attr-defined]
    if x.shape[0] != want:
        x = np.repeat(x[:1], want, axis=0) if x.shape[0] == 1 else x.mean(0, keepdims=True)
        x = np.ascontiguousarray(x)
    rate = int(model.sample_rate)  # type: ignore[attr-defined]
    if sample_rate != rate:
        x = soxr.resample(x.T, sample_rate, rate, quality="HQ").T.astype(np.float32)
    return np.ascontiguousarray(x)


def separate_mixture(
    model: torch.nn.Module, mix: np.ndarray, sample_rate: int, device: str = "cpu"
) -> dict[str, np.ndarray]:
    """Separate ``mix [channels, time]`` with ``model`` through the shared engine
    (``separate.api.Separator``, the card's engine settings); stems come back at
    ``sample_rate``. The model's raw outputs are kept (no residual added), so what is written is
    what the adapted model produces."""
    from separate.api import Separator

    out = Separator(model, device=device).separate_tensor(
        torch.from_numpy(np.ascontiguousarray(mix, dtype=np.float32)), sample_rate, residual=False
    )
    return {k: np.asarray(v.numpy(), dtype=np.float32) for k, v in out.items()}


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
    device: str = "cpu",
    progress: Callable[[int, int, float], None] | None = None,
) -> AdaptOutput:
    """Adapt a model to one mixture from activations, then separate that mixture.

    Args:
        mix: the mixture's audio file.
        activations: an activations file (:mod:`separate.adapt.activations`), or a
            ``BoolTensor[sources, frames]`` on a grid of ``frame_rate`` frames per second.
        model: a registry name / card path, or a model object (it is adapted in place).
        config: hyper-parameters (:class:`separate.adapt.loop.AdaptConfig`, paper defaults).
        frame_rate: frames per second of a tensor ``activations`` (required then); for a file,
            the grid used (default ``model.sample_rate / 512``).
        gate_outputs: multiply the stems by the activations (``--gate``).
        out_dir: write ``<source>.wav`` (float WAV at the mixture's rate) there.
        save_model: write the adapted model as ``X.toml`` + ``X.safetensors``.
        device: torch device for adaptation.
        progress: ``progress(step, total_steps, loss)`` after every optimiser step.

    Raises:
        separate.errors.InputError: unreadable mixture or activations file.
        separate.errors.ModelError: unknown model.
        separate.errors.UsageError: bad stage range, a model without a card for ``save_model``.
    """
    from separate.audio.io import read_audio, write_audio

    if isinstance(model, torch.nn.Module):
        net = model.to(device)
    else:
        from separate.registry import load_model

        net = load_model(model, device=device, subcommand="split")  # adapt tunes split models
    config = config or AdaptConfig()
    audio, sr = read_audio(mix)
    x = to_model_format(audio, sr, net)
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
        n_frames = num_frames_for(audio.shape[-1], sr, frame_rate)
        h = load_activations(
            activations, sources, n_frames, frame_rate, duration=audio.shape[-1] / sr
        )
    h_model = frames_to_samples(h, x.shape[-1], rate, frame_rate)
    result = adapt_model(net, torch.from_numpy(x), h_model, config, progress=progress)
    net.eval()
    stems = separate_mixture(net, audio, sr, device)
    if gate_outputs:
        h_mix = frames_to_samples(h, audio.shape[-1], sr, frame_rate).numpy()
        stems = {
            name: gate(torch.from_numpy(s)[None], torch.from_numpy(h_mix[i : i + 1]))[0].numpy()
            for i, (name, s) in enumerate(stems.items())
        }
    out = AdaptOutput(net, result, stems, sr, h, frame_rate)
    if out_dir is not None:
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        for name, s in stems.items():
            out.written.append(write_audio(d / f"{name}.wav", s, sr, bit_depth="float"))
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
