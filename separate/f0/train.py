"""Unsupervised training of the source-filter model on mixtures and their F0 (Sec. III-C).

No isolated sources are read: the loss compares the sum of the synthesised voices with the
mixture (multi-scale spectral loss, Eqs. 13-14). Training data are folders of mixtures with F0:

- ``<track>/mixture.wav`` + ``<track>/f0/<voice>.csv`` (the synthetic corpus of ``separate
  synth``; one ``time,f0`` file per monophonic voice, voices in file-name order), or
- ``<name>.wav|.flac`` + ``<name>.f0.csv`` (``time,f0_1..f0_N``, e.g. from ``separate f0 track``).

Only items with one of the requested numbers of F0 tracks (``voices``) are used; each batch
holds mixtures of one J (the decoder is shared by the sources, so one model serves every J).
Excerpts of ``segment`` seconds are drawn at random (Sec. IV-A: 4 s), batches of ``batch``
(16), Adam with ``lr`` (1e-4). The harmonic excitation of every item depends on its F0 only and
is synthesised once, before the first step. Long runs write a checkpoint every
``checkpoint_seconds`` and resume from it; they stop at ``steps``, after ``max_cpu_seconds`` of
process CPU time or at the wall-clock ``deadline``, whichever comes first. The result is a
safetensors file and a model card beside it (``arch = "source_filter"``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from separate.errors import UsageError
from separate.f0.io import read_mono, resample
from separate.f0.split import ARCH
from separate.f0.track import F0Track, read_f0_csv
from separate.nets.source_filter import SourceFilterModel, multiscale_spectral_loss

AUDIO_EXT = (".wav", ".flac")


@dataclass
class Item:
    """One training mixture: mono audio at the model rate and its voices' F0.

    ``f0_frames [J, N]`` (Hz at the model's frame times) and ``harm [J, T]`` (the harmonic
    excitation, :meth:`SourceFilterModel.harmonics`) are filled by :func:`prepare_items`."""

    name: str
    audio: np.ndarray  # float32 [T]
    f0: F0Track
    f0_frames: np.ndarray | None = None
    harm: np.ndarray | None = None

    @property
    def voices(self) -> int:
        return self.f0.voices


def _merge_tracks(tracks: list[F0Track]) -> F0Track:
    times = tracks[0].times
    return F0Track(times=times, f0=np.concatenate([t.at(times) for t in tracks]))


def _as_tuple(voices: int | Sequence[int]) -> tuple[int, ...]:
    return (int(voices),) if isinstance(voices, int) else tuple(int(v) for v in voices)


def find_items(
    root: str | Path, voices: int | Sequence[int]
) -> list[tuple[Path, list[Path]]]:
    """Mixture files under ``root`` with ``voices`` F0 tracks (one J or several):
    ``[(audio, [csv...])]``."""
    root = Path(root)
    wanted = _as_tuple(voices)
    found: list[tuple[Path, list[Path]]] = []
    for mix in sorted(root.rglob("mixture.wav")):
        csvs = sorted((mix.parent / "f0").glob("*.csv"))
        if csvs:
            found.append((mix, csvs))
    for audio in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXT):
        csv = audio.with_name(audio.stem + ".f0.csv")
        if audio.name != "mixture.wav" and csv.is_file():
            found.append((audio, [csv]))
    out = []
    for audio, csvs in found:
        n = sum(read_f0_csv(c).voices for c in csvs)
        if n in wanted:
            out.append((audio, csvs))
    return out


def load_items(
    roots: str | Path | Sequence[str | Path], voices: int | Sequence[int], sample_rate: int
) -> list[Item]:
    """Read every usable mixture under ``roots`` (one folder or several; see the module
    docstring), resampled to ``sample_rate``.

    Raises:
        UsageError: nothing usable found in one of the folders.
    """
    if isinstance(roots, (str, Path)):
        roots = [roots]
    items = []
    for root in roots:
        pairs = find_items(root, voices)
        if not pairs:
            raise UsageError(
                f"{root}: no mixtures with {'/'.join(map(str, _as_tuple(voices)))} F0 tracks "
                "(expected <track>/mixture.wav + <track>/f0/*.csv, or <name>.wav + <name>.f0.csv)"
            )
        for audio, csvs in pairs:
            x, sr = read_mono(audio)
            f0 = _merge_tracks([read_f0_csv(c) for c in csvs])
            items.append(Item(str(audio), resample(x, sr, sample_rate), f0))
    return items


def prepare_items(items: list[Item], model: SourceFilterModel) -> None:
    """Fill ``f0_frames`` and ``harm`` of every item (in place, float32)."""
    for it in items:
        n = model.frame_count(len(it.audio))
        it.f0_frames = it.f0.at(np.arange(n) * model.hop / model.sample_rate).astype(np.float32)
        with torch.no_grad():
            harm = model.harmonics(torch.from_numpy(it.f0_frames), len(it.audio))
        it.harm = harm.numpy()


def sample_batch(
    items: list[Item], model: SourceFilterModel, batch: int, segment: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Random excerpts of items of one J: ``mix [batch, segment]``, ``f0 [batch, J, frames]``
    (Hz) and, when the items are prepared (:func:`prepare_items`), ``harm [batch, J, segment]``
    (else None).

    Excerpts start on the frame grid (multiples of the hop). Excerpts whose RMS is below
    -50 dBFS are redrawn (up to 20 times)."""
    mixes, f0s, harms = [], [], []
    hop = model.hop
    n = model.frame_count(segment)
    for _ in range(batch):
        for _attempt in range(20):
            it = items[rng.integers(len(items))]
            start = hop * int(rng.integers(0, max(1, (len(it.audio) - segment) // hop)))
            x = it.audio[start : start + segment]
            x = np.pad(x, (0, segment - len(x)))
            if np.sqrt(np.mean(x**2)) > 10 ** (-50 / 20):
                break
        mixes.append(x)
        if it.f0_frames is not None and it.harm is not None:
            f = it.f0_frames[:, start // hop : start // hop + n]
            f0s.append(np.pad(f, ((0, 0), (0, n - f.shape[1]))))
            h = it.harm[:, start : start + segment]
            harms.append(np.pad(h, ((0, 0), (0, segment - h.shape[1]))))
        else:
            f0s.append(it.f0.at((start + np.arange(n) * hop) / model.sample_rate))
    harm = torch.from_numpy(np.stack(harms)) if harms else None
    return torch.from_numpy(np.stack(mixes)), torch.from_numpy(np.stack(f0s)).float(), harm


Progress = Callable[[int, int, float], None]  # (step, total, loss)


def _model_args(model: SourceFilterModel) -> dict:
    return {
        "n_fft": model.n_fft,
        "hop": model.hop,
        "hidden": model.enc_gru.hidden_size,
        "lpc_order": model.lpc_order,
        "n_harmonics": model.n_harmonics,
        "noise_bands": model.head_noise.out_features,
        "alpha_max": model.alpha_max,
        "gain_max": model.gain_max,
    }


def _save_checkpoint(path: Path, state: dict) -> None:
    from separate.training.checkpoint import save_checkpoint

    save_checkpoint(path, state)


def train(
    data: str | Path | Sequence[str | Path],
    voices: int | Sequence[int],
    out: str | Path,
    steps: int = 1000,
    batch: int = 16,
    lr: float = 1e-4,
    segment_seconds: float = 4.0,
    model_args: dict | None = None,
    init: SourceFilterModel | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    lr_final: float | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_seconds: float = 300.0,
    max_cpu_seconds: float | None = None,
    deadline: float | None = None,
    description: str | None = None,
    training_info: dict | None = None,
) -> dict:
    """Train (or continue training ``init``) and write ``out.safetensors`` + ``out.toml``.

    Args:
        data: folder(s) of mixtures with F0 (module docstring).
        voices: J, the number of voices per mixture, or several J (each batch has one J,
            drawn with probability proportional to the J's total duration).
        out: output path without suffix (e.g. ``models/f0-choir``).
        model_args: :class:`SourceFilterModel` keyword arguments (ignored with ``init``).
        lr_final: cosine decay from ``lr`` to this rate over ``steps`` (None: constant ``lr``).
        checkpoint: file to write every ``checkpoint_seconds`` (model, optimiser, step, losses,
            CPU time) and to resume from when it exists.
        max_cpu_seconds: stop once this process has used that much CPU time (s), counting the
            time before a resume.
        deadline: stop at this ``time.time()`` (s since the epoch).
        description, training_info: the card's description and extra ``[training]`` entries.

    Returns:
        a summary dict (steps, first/last mean loss, CPU and wall seconds, files).
    """
    from separate.registry.checksum import sha256_file
    from separate.registry.weights import save_weights

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = init if init is not None else SourceFilterModel(**(model_args or {}))
    items = load_items(data, voices, model.sample_rate)
    prepare_items(items, model)
    groups: dict[int, list[Item]] = {}
    for it in items:
        groups.setdefault(it.voices, []).append(it)
    js = sorted(groups)
    weights_j = np.array([sum(len(it.audio) for it in groups[j]) for j in js], dtype=float)
    weights_j /= weights_j.sum()
    segment = int(round(segment_seconds * model.sample_rate / model.hop)) * model.hop
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    step0, cpu_before = 0, 0.0
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt is not None and ckpt.is_file():
        from separate.training.checkpoint import load_checkpoint

        state = load_checkpoint(ckpt, migrate=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step0, losses, cpu_before = state["step"], state["losses"], state["cpu_seconds"]
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
    model.train()
    t0, cpu0, last_ckpt = time.time(), time.process_time(), time.time()
    stopped = "steps"
    step = step0

    def cpu_used() -> float:
        return cpu_before + time.process_time() - cpu0

    def state_dict() -> dict:
        return {
            "model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
            "losses": losses, "cpu_seconds": cpu_used(), "rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }

    while step < steps:
        if max_cpu_seconds is not None and cpu_used() >= max_cpu_seconds:
            stopped = "cpu budget"
            break
        if deadline is not None and time.time() >= deadline:
            stopped = "deadline"
            break
        if lr_final is not None:
            rate = lr_final + 0.5 * (lr - lr_final) * (1 + math.cos(math.pi * step / steps))
            for g in opt.param_groups:
                g["lr"] = rate
        j = js[int(rng.choice(len(js), p=weights_j))]
        mix, f0, harm = sample_batch(groups[j], model, batch, segment, rng)
        est = model(mix, f0, harm)
        loss = multiscale_spectral_loss(est.sum(dim=1), mix)
        opt.zero_grad()
        if torch.isfinite(loss):  # a non-finite batch is skipped, never applied
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        losses.append(float(loss.detach()))
        step += 1
        if progress:
            progress(step, steps, losses[-1])
        if ckpt is not None and time.time() - last_ckpt >= checkpoint_seconds:
            _save_checkpoint(ckpt, state_dict())
            last_ckpt = time.time()
    if ckpt is not None:
        _save_checkpoint(ckpt, state_dict())
    model.eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    weights = out.with_suffix(".safetensors")
    save_weights(model.state_dict(), weights)
    sha = sha256_file(weights)
    k = max(1, min(50, len(losses) // 5))
    summary = {
        "steps": step,
        "steps_planned": steps,
        "stopped_by": stopped,
        "batch": batch,
        "lr": lr,
        "segment_seconds": segment / model.sample_rate,
        "voices": list(js),
        "items": len(items),
        "items_per_voices": {str(j): len(groups[j]) for j in js},
        "hours": round(sum(len(it.audio) for it in items) / model.sample_rate / 3600, 3),
        "data": [str(d) for d in ([data] if isinstance(data, (str, Path)) else data)],
        "loss_first": float(np.nanmean(losses[:k])) if losses else None,
        "loss_last": float(np.nanmean(losses[-k:])) if losses else None,
        "skipped_steps": int(np.isnan(losses).sum()),
        "cpu_seconds": round(cpu_used(), 1),
        "seconds": round(time.time() - t0, 1),
        "weights": str(weights),
    }
    if lr_final is not None:
        summary["lr_final"] = lr_final
    write_card(out.with_suffix(".toml"), model, weights.name, sha, max(js),
               {**{k: v for k, v in summary.items() if v is not None and k != "weights"},
                **(training_info or {})}, description)
    summary["card"] = str(out.with_suffix(".toml"))
    return summary


def write_card(
    card: Path, model: SourceFilterModel, weights_name: str, sha256: str, voices: int,
    training: dict, description: str | None = None, metrics: dict | None = None,
) -> None:
    """Write the model card of a source-filter model (temp file, then rename).

    ``sources`` lists ``voices`` names (voice1..voiceJ); the model itself serves any J."""
    from separate.registry.card import write_card as write_model_card

    data = {
        "name": card.stem,
        "description": description
        or "Source-filter model for F0-informed voice separation (Schulze-Forster et al.), "
        "trained unsupervised on mixtures",
        "arch": ARCH,
        "sources": [f"voice{j + 1}" for j in range(voices)],
        "sample_rate": model.sample_rate,
        "audio_channels": 1,
        "license": "MIT",
        "args": _model_args(model),
        "weights": {"embedded": weights_name, "sha256": sha256},
        "training": training,
    }
    if metrics:
        data["metrics"] = metrics
    write_model_card(card, data, subcommand="f0 split")
