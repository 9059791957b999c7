"""Unsupervised training of the source-filter model on mixtures and their F0 (Sec. III-C).

No isolated sources are read: the loss compares the sum of the synthesised voices with the
mixture (multi-scale spectral loss, Eqs. 13-14). Training data are folders of mixtures with F0:

- ``<track>/mixture.wav`` + ``<track>/f0/<voice>.csv`` (the synthetic corpus of ``separate
  synth``; one ``time,f0`` file per monophonic voice, voices in file-name order), or
- ``<name>.wav|.flac`` + ``<name>.f0.csv`` (``time,f0_1..f0_N``, e.g. from ``separate f0 track``).

Only items with exactly ``voices`` F0 tracks are used. Excerpts of ``segment`` seconds are drawn
at random (Sec. IV-A: 4 s), batches of ``batch`` (16), Adam with ``lr`` (1e-4). The result is a
safetensors file and a model card beside it (``arch = "source_filter"``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
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
    """One training mixture: mono audio at the model rate and its voices' F0."""

    name: str
    audio: np.ndarray  # float32 [T]
    f0: F0Track


def _merge_tracks(tracks: list[F0Track]) -> F0Track:
    times = tracks[0].times
    return F0Track(times=times, f0=np.concatenate([t.at(times) for t in tracks]))


def find_items(root: str | Path, voices: int) -> list[tuple[Path, list[Path]]]:
    """Mixture files under ``root`` with exactly ``voices`` F0 tracks: ``[(audio, [csv...])]``."""
    root = Path(root)
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
        if n == voices:
            out.append((audio, csvs))
    return out


def load_items(root: str | Path, voices: int, sample_rate: int) -> list[Item]:
    """Read every usable mixture under ``root`` (see module docstring), resampled to
    ``sample_rate``.

    Raises:
        UsageError: nothing usable found.
    """
    pairs = find_items(root, voices)
    if not pairs:
        raise UsageError(
            f"{root}: no mixtures with {voices} F0 tracks (expected <track>/mixture.wav + "
            "<track>/f0/*.csv, or <name>.wav + <name>.f0.csv)"
        )
    items = []
    for audio, csvs in pairs:
        x, sr = read_mono(audio)
        f0 = _merge_tracks([read_f0_csv(c) for c in csvs])
        items.append(Item(str(audio), resample(x, sr, sample_rate), f0))
    return items


def sample_batch(
    items: list[Item], model: SourceFilterModel, batch: int, segment: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random excerpts: ``mix [batch, segment]`` and ``f0 [batch, J, frames]`` (Hz).

    Excerpts whose RMS is below -50 dBFS are redrawn (up to 20 times)."""
    mixes, f0s = [], []
    n = model.frame_count(segment)
    for _ in range(batch):
        for _attempt in range(20):
            it = items[rng.integers(len(items))]
            start = int(rng.integers(0, max(1, len(it.audio) - segment)))
            x = it.audio[start : start + segment]
            x = np.pad(x, (0, segment - len(x)))
            if np.sqrt(np.mean(x**2)) > 10 ** (-50 / 20):
                break
        times = (start + np.arange(n) * model.hop) / model.sample_rate
        mixes.append(x)
        f0s.append(it.f0.at(times))
    return torch.from_numpy(np.stack(mixes)), torch.from_numpy(np.stack(f0s)).float()


Progress = Callable[[int, int, float], None]  # (step, total, loss)


def train(
    data: str | Path,
    voices: int,
    out: str | Path,
    steps: int = 1000,
    batch: int = 16,
    lr: float = 1e-4,
    segment_seconds: float = 4.0,
    model_args: dict | None = None,
    init: SourceFilterModel | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict:
    """Train (or continue training ``init``) and write ``out.safetensors`` + ``out.toml``.

    Args:
        data: folder of mixtures with F0 (module docstring).
        voices: J, the number of voices per mixture.
        out: output path without suffix (e.g. ``models/f0-choir``).
        model_args: :class:`SourceFilterModel` keyword arguments (ignored with ``init``).

    Returns:
        a summary dict (steps, first/last mean loss, seconds, files).
    """
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = init if init is not None else SourceFilterModel(**(model_args or {}))
    items = load_items(data, voices, model.sample_rate)
    segment = int(round(segment_seconds * model.sample_rate / model.hop)) * model.hop
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses: list[float] = []
    t0 = time.time()
    for step in range(steps):
        mix, f0 = sample_batch(items, model, batch, segment, rng)
        est = model(mix, f0)
        loss = multiscale_spectral_loss(est.sum(dim=1), mix)
        opt.zero_grad()
        if torch.isfinite(loss):  # a non-finite batch is skipped, never applied
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        losses.append(float(loss.detach()))
        if progress:
            progress(step + 1, steps, losses[-1])
    model.eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    weights = out.with_suffix(".safetensors")
    tmp = weights.with_name(weights.name + ".part")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(weights)
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    k = max(1, min(20, len(losses) // 5))
    summary = {
        "steps": steps,
        "batch": batch,
        "lr": lr,
        "segment_seconds": segment / model.sample_rate,
        "voices": voices,
        "items": len(items),
        "data": str(data),
        "loss_first": float(np.nanmean(losses[:k])) if losses else None,
        "loss_last": float(np.nanmean(losses[-k:])) if losses else None,
        "skipped_steps": int(np.isnan(losses).sum()),
        "seconds": round(time.time() - t0, 1),
        "weights": str(weights),
    }
    args = {
        "n_fft": model.n_fft,
        "hop": model.hop,
        "hidden": model.enc_gru.hidden_size,
        "lpc_order": model.lpc_order,
        "n_harmonics": model.n_harmonics,
        "noise_bands": model.head_noise.out_features,
        "alpha_max": model.alpha_max,
        "gain_max": model.gain_max,
    }
    card = out.with_suffix(".toml")
    lines = [
        f'name = "{out.name}"',
        'description = "Source-filter model for F0-informed voice separation '
        '(Schulze-Forster et al.), trained unsupervised on mixtures"',
        f'arch = "{ARCH}"',
        f"sources = {json.dumps([f'voice{j + 1}' for j in range(voices)])}",
        f"sample_rate = {model.sample_rate}",
        "audio_channels = 1",
        'license = "MIT"',
        "",
        "[args]",
        *[f"{key} = {json.dumps(v)}" for key, v in args.items()],
        "",
        "[weights]",
        f'embedded = "{weights.name}"',
        f'sha256 = "{sha}"',
        "",
        "[training]",
        *[
            f"{key} = {json.dumps(v)}"
            for key, v in summary.items()
            if v is not None and key != "weights"
        ],
        "",
    ]
    tmp_card = card.with_name(card.name + ".part")
    tmp_card.write_text("\n".join(lines), encoding="utf-8")
    tmp_card.replace(card)
    summary["card"] = str(card)
    return summary
