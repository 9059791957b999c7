"""Activations from isolated stems, and the paper's controlled "silence quarters" test item.

- :func:`marks_from_stems`: the MedleyDB envelope method with the logistic of Eq. 2
  (:mod:`separate.activations.envelope`, the project's one implementation) on each stem of a folder,
  written as an intervals CSV (:func:`separate.activations.formats.write_intervals`), optionally
  plotted over the mixture's waveform.
- :func:`silence_quarters`: Cantisani et al. (2021), Sec. 4. The track is cut into four equal
  segments; each source is assigned one at random and set to zero there *in the STFT domain*, so
  the windowed overlap-add of the inverse STFT gives smooth transitions; the new stems, their sum
  (the mixture) and their activations (envelope method) are written.

A *stems folder* holds one audio file per source, named after the source (``vocals.wav``,
``bass.flac``...); a file named ``mixture.*`` is the mixture and not a source. All stems must
have the same sample rate and length.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from separate.activations.formats import write_intervals
from separate.audio.stft import istft, stft
from separate.errors import InputError, UsageError

MIXTURE_NAMES = ("mixture", "mix")

#: STFT used to silence a quarter (Sec. 4): 4096-sample Hann window, hop 1024 (at 44.1 kHz the
#: transition between silent and playing takes ~93 ms).
QUARTER_N_FFT = 4096
QUARTER_HOP = 1024


@dataclass
class Stems:
    """The stems of one track.

    Attributes:
        names: source names (file stems), sorted.
        audio: ``float32 [sources, channels, time]``.
        sample_rate: Hz.
        mixture: ``float32 [channels, time]``, the folder's mixture file or the sum of the stems.
        paths: the stem files, in ``names`` order.
    """

    names: list[str]
    audio: np.ndarray
    sample_rate: int
    mixture: np.ndarray
    paths: list[Path]


def _stem_name(p: Path) -> str:
    name = p.name
    for suffix in (".stem.mp4",):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return p.stem


def read_stems(folder: str | os.PathLike[str]) -> Stems:
    """Read a stems folder (see the module doc).

    Raises:
        UsageError: not a folder, or no stems in it.
        InputError: an unreadable stem, or stems of different rates / lengths / channel counts.
    """
    from separate.audio.io import AUDIO_EXTENSIONS, read_audio

    d = Path(folder)
    if not d.is_dir():
        raise UsageError(f"{d}: not a folder of stems")
    files = sorted(
        p for p in d.iterdir()
        if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".")
    )
    mixture_files = [p for p in files if _stem_name(p).lower() in MIXTURE_NAMES]
    stem_files = [p for p in files if p not in mixture_files]
    if not stem_files:
        raise UsageError(f"{d}: no stems found (one audio file per source, e.g. vocals.wav)")
    audio, rate, length = [], None, None
    for p in stem_files:
        x, sr = read_audio(p)
        if rate is None:
            rate, length = sr, x.shape[-1]
        if sr != rate:
            raise InputError(p, f"sample rate {sr} Hz differs from the other stems' {rate} Hz")
        if x.shape[-1] != length:
            raise InputError(p, f"{x.shape[-1]} samples; the other stems have {length}")
        audio.append(x)
    channels = max(x.shape[0] for x in audio)
    audio = [np.repeat(x, channels, axis=0) if x.shape[0] == 1 else x for x in audio]
    if len({x.shape[0] for x in audio}) != 1:
        raise InputError(d, "stems have different channel counts")
    stack = np.stack(audio).astype(np.float32)
    mixture = stack.sum(axis=0)
    if mixture_files:
        m, sr = read_audio(mixture_files[0])
        if sr == rate and m.shape[-1] == length:
            mixture = np.repeat(m, channels, axis=0) if m.shape[0] < channels else m
    assert rate is not None
    return Stems([_stem_name(p) for p in stem_files], stack, rate, mixture, stem_files)


def stem_activations(
    audio: np.ndarray, sample_rate: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Binary activations of stems ``[sources, channels, time]`` by the envelope method.

    Returns:
        ``(times, h, frame_rate)``: frame times (s), ``bool [sources, frames]``, frames per
        second (frame ``k`` at ``k / frame_rate``, the grid of
        :mod:`separate.activations.formats`).
    """
    from separate.activations import envelope

    times, h = envelope.activations_from_stems(list(audio), sample_rate)
    hop = max(1, int(round(envelope.HOP_SECONDS * sample_rate)))  # the envelope's integer hop
    return times, np.asarray(h, dtype=bool), sample_rate / hop


def marks_from_stems(
    folder: str | os.PathLike[str],
    out_csv: str | os.PathLike[str],
    plot: str | os.PathLike[str] | None = None,
) -> tuple[list[str], np.ndarray, float]:
    """``separate marks``: activations of a stems folder, written as intervals.

    Args:
        folder: stems folder.
        out_csv: intervals CSV to write (``source,start,end``).
        plot: optional PNG: the activations drawn over the mixture's waveform.

    Returns:
        ``(names, h bool [sources, frames], frame_rate)``.

    Raises:
        UsageError / InputError: as :func:`read_stems`.
    """
    stems = read_stems(folder)
    _, h, frame_rate = stem_activations(stems.audio, stems.sample_rate)
    duration = stems.audio.shape[-1] / stems.sample_rate
    write_intervals(out_csv, h, stems.names, frame_rate, duration)
    if plot is not None:
        plot_marks(plot, stems.mixture, stems.sample_rate, h, stems.names, frame_rate)
    return stems.names, h, frame_rate


def plot_marks(
    path: str | os.PathLike[str],
    mixture: np.ndarray,
    sample_rate: int,
    h: np.ndarray,
    names: list[str],
    frame_rate: float,
    title: str | None = None,
) -> Path:
    """Draw activations ``h [sources, frames]`` as bars under/over the mixture waveform (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from separate.activations.formats import frames_to_intervals

    mono = np.asarray(mixture, dtype=np.float32).mean(axis=0)
    duration = len(mono) / sample_rate
    step = max(1, len(mono) // 3000)  # a min/max envelope per pixel-ish block
    n = len(mono) // step * step
    blocks = mono[:n].reshape(-1, step) if n else np.zeros((1, 1), np.float32)
    t = np.arange(blocks.shape[0]) * step / sample_rate
    fig, ax = plt.subplots(figsize=(12, 1.5 + 0.5 * len(names)))
    peak = float(np.abs(mono).max()) or 1.0
    ax.fill_between(t, blocks.min(1) / peak, blocks.max(1) / peak, color="0.55", lw=0.3,
                    label="mixture")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, name in enumerate(names):
        y = -1.3 - 0.6 * i
        spans = [(s, e - s) for _, s, e in frames_to_intervals(h[i : i + 1], [name], frame_rate)]
        ax.broken_barh(spans, (y - 0.22, 0.44), color=colors[i % len(colors)])
        ax.text(-0.005 * duration, y, name, ha="right", va="center", fontsize=9)
    ax.set_xlim(0, duration)
    ax.set_ylim(-1.3 - 0.6 * len(names), 1.05)
    ax.set_yticks([])
    ax.set_xlabel("time (s)")
    ax.set_title(title or "activations (envelope method, Eq. 2) over the mixture")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def quarter_assignment(num_sources: int, seed: int) -> list[int]:
    """The quarter (0-3) each source is silenced in: a random permutation of the four quarters
    for the first four sources, so every quarter silences a different source (Sec. 4, step 2);
    further sources draw a quarter at random."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(4).tolist()
    extra = rng.integers(0, 4, size=max(0, num_sources - 4)).tolist()
    return (perm + extra)[:num_sources]


def silence_in_stft(
    audio: np.ndarray, sample_rate: int, start: float, end: float,
    n_fft: int = QUARTER_N_FFT, hop: int = QUARTER_HOP,
) -> np.ndarray:
    """Zero ``audio [channels, time]`` between ``start`` and ``end`` seconds in the STFT domain
    (Sec. 4): STFT frames centred in ``[start, end)`` are set to zero and the signal is rebuilt by
    the inverse STFT, whose windowed overlap-add makes the fade in/out smooth (~``n_fft``
    samples)."""
    x = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    spec = stft(x, n_fft, hop)
    centres = torch.arange(spec.shape[-1]) * hop / sample_rate
    spec[..., (centres >= start) & (centres < end)] = 0
    y = istft(spec, n_fft, hop, x.shape[-1])
    return y.numpy().astype(np.float32)


def silence_quarters(
    folder: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    seed: int,
    plot: bool = True,
) -> dict:
    """``separate marks --silence-quarters``: the paper's controlled test item (Sec. 4).

    Writes to ``out_dir``: ``<source>.wav`` (the silenced stems, float WAV), ``mixture.wav``
    (their sum), ``activations.csv`` (intervals from the envelope method on the new stems),
    ``quarters.json`` (which quarter each source lost, in seconds) and ``activations.png``.

    Returns:
        The content of ``quarters.json``: ``{"seed", "sample_rate", "duration",
        "quarters": {source: [start_s, end_s]}}``.
    """
    from separate.audio.io import write_audio

    stems = read_stems(folder)
    sr = stems.sample_rate
    duration = stems.audio.shape[-1] / sr
    assignment = quarter_assignment(len(stems.names), seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    new = np.empty_like(stems.audio)
    quarters = {}
    for i, name in enumerate(stems.names):
        q = assignment[i]
        start, end = q * duration / 4, (q + 1) * duration / 4
        new[i] = silence_in_stft(stems.audio[i], sr, start, end)
        quarters[name] = [start, end]
    mixture = new.sum(axis=0)
    for i, name in enumerate(stems.names):
        write_audio(out / f"{name}.wav", new[i], sr, bit_depth="float")
    write_audio(out / "mixture.wav", mixture, sr, bit_depth="float")
    _, h, frame_rate = stem_activations(new, sr)
    write_intervals(out / "activations.csv", h, stems.names, frame_rate, duration)
    info = {"seed": seed, "sample_rate": sr, "duration": duration, "quarters": quarters}
    (out / "quarters.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    if plot:
        plot_marks(out / "activations.png", mixture, sr, h, stems.names, frame_rate,
                   title=f"silence quarters (seed {seed}): activations over the mixture")
    return info
