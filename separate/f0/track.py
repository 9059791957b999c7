"""Pitch tracking of N monophonic voices: pYIN (librosa) and a harmonic-sum multi-F0 tracker.

``track_f0`` returns frame times and an ``[N, frames]`` array of F0 in Hz (0 = unvoiced), the
format of the ``f0.csv`` files (:func:`write_f0_csv` / :func:`read_f0_csv`): a header
``time,f0_1,...,f0_N`` then one row per frame, time in seconds.

One voice: pYIN. Several voices (a mixture of monophonic voices), two stand-ins for a multi-F0
estimator, whose per-frame values are assigned to voices with the heuristic of Sec. IV-B
(:func:`separate.f0.assign.assign_voices`):

- ``hsum``: harmonic-sum salience with iterative spectral cancellation (after
  Klapuri 2006), :func:`harmonic_sum_track`;
- ``pyin``: pYIN run iteratively: track the predominant F0, cancel its harmonics in the STFT,
  resynthesise the residual, track again; sub-harmonic errors (F0/2, F0/3) are corrected
  (:func:`fix_subharmonics`). Much weaker on 4 voices: pYIN's voicing rejects the residuals.

- ``salience``: the pitch-salience U-Net of Jansson Ch. 5 (after Bittner et al.'s Deep
  Salience), :func:`separate.f0.salience.salience_track`: the peaks of a learned salience map,
  assigned with the same heuristic. The only method trained on polyphonic data.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from separate.errors import InputError
from separate.f0.assign import assign_voices
from separate.f0.f0track import F0Track

METHODS = ("auto", "pyin", "hsum", "salience")
FMIN_HZ = 65.0  # C2
FMAX_HZ = 1047.0  # C6


def _frame_params(sample_rate: int) -> tuple[int, int]:
    """pYIN frame length (~64 ms, power of two, >= 2 periods of FMIN) and hop (1/4 of it)."""
    n = 1 << int(np.ceil(np.log2(0.064 * sample_rate)))
    n = max(n, 1 << int(np.ceil(np.log2(2.2 * sample_rate / FMIN_HZ))))
    return n, n // 4


def pyin_track(
    audio: np.ndarray, sample_rate: int, fmin: float = FMIN_HZ, fmax: float = FMAX_HZ
) -> F0Track:
    """Monophonic pYIN (librosa.pyin) on mono ``audio: float [time]`` at ``sample_rate`` Hz.

    Returns an :class:`F0Track` with one voice; unvoiced frames are 0 Hz.
    """
    import librosa

    frame_length, hop = _frame_params(sample_rate)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size < frame_length:
        audio = np.pad(audio, (0, frame_length - audio.size))
    f0, voiced, _ = librosa.pyin(
        audio,
        fmin=fmin,
        fmax=fmax,
        sr=sample_rate,
        frame_length=frame_length,
        hop_length=hop,
        center=True,
    )
    f0 = np.where(voiced & np.isfinite(f0), f0, 0.0)
    times = librosa.frames_to_time(np.arange(len(f0)), sr=sample_rate, hop_length=hop)
    return F0Track(times=times, f0=f0[None, :].astype(np.float64))


def cancel_harmonics(
    audio: np.ndarray, sample_rate: int, f0: np.ndarray, width_semitones: float = 0.5
) -> np.ndarray:
    """Remove the harmonics of ``f0`` (Hz per pYIN frame, 0 = none) from mono ``audio``.

    STFT with pYIN's frame/hop, zero the bins within ``width_semitones/2`` (at least 1.5 bins) of
    every multiple of F0, inverse STFT. Returns ``float32 [time]``.
    """
    import librosa

    n_fft, hop = _frame_params(sample_rate)
    spec = librosa.stft(audio, n_fft=n_fft, hop_length=hop, center=True)
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft)
    bin_hz = sample_rate / n_fft
    n = min(spec.shape[1], len(f0))
    for t in range(n):
        if f0[t] <= 0:
            continue
        harm = f0[t] * np.arange(1, int(sample_rate / 2 / f0[t]) + 1)
        half = np.maximum(harm * (2 ** (width_semitones / 24) - 1), 1.5 * bin_hz)
        near = np.abs(freqs[:, None] - harm[None, :]) <= half[None, :]
        spec[near.any(axis=1), t] = 0
    return librosa.istft(spec, hop_length=hop, n_fft=n_fft, length=len(audio)).astype(np.float32)


def fix_subharmonics(
    audio: np.ndarray, sample_rate: int, f0: np.ndarray, ratio: float = 0.1
) -> np.ndarray:
    """Undo pYIN's sub-harmonic errors in mixtures: multiply F0 by ``d`` in {2, 3} where only
    every ``d``-th of its harmonics carries energy.

    In a chord, pYIN often reports F0/2 or F0/3 of a voice (a period that fits the voice and,
    loosely, the others). Per frame, the STFT energy (4x longer FFT than pYIN's frame, so that
    neighbouring voices' partials stay apart) at the multiples ``k f0``, ``k = 1..2d``, that are
    not divisible by ``d`` is compared with that at the multiples of ``d``; when the former carry
    less than ``ratio`` of the latter, F0 becomes ``d f0``. Repeated while it fires (at most
    twice). Returns the corrected copy (Hz per pYIN frame).
    """
    import librosa

    frame, hop = _frame_params(sample_rate)
    n_fft = 4 * frame
    audio = np.asarray(audio, np.float32)
    mag = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop)) ** 2
    out = np.array(f0, dtype=np.float64, copy=True)
    for t in range(min(mag.shape[1], len(out))):
        for _ in range(2):
            f = out[t]
            fired = False
            for d in (2, 3):
                k = np.arange(1, 2 * d + 1)
                if f <= 0 or k[-1] * f >= sample_rate / 2:
                    continue
                e = mag[np.rint(f * k * n_fft / sample_rate).astype(int), t]
                if e[k % d != 0].sum() < ratio * e[k % d == 0].sum():
                    out[t] = d * f
                    fired = True
                    break
            if not fired:
                break
    return out


def track_f0(
    audio: np.ndarray,
    sample_rate: int,
    voices: int = 1,
    method: str = "auto",
    fmin: float = FMIN_HZ,
    fmax: float = FMAX_HZ,
    model=None,
    threshold: float | None = None,
) -> F0Track:
    """F0 of ``voices`` monophonic voices in mono ``audio: float [time]``.

    Methods: ``pyin`` (one voice: pYIN; several: pYIN iterated with harmonic cancellation and
    sub-harmonic correction), ``hsum`` (harmonic-sum salience with iterative cancellation,
    :func:`harmonic_sum_track`), ``salience`` (the salience U-Net: ``model`` is a card name/path
    or a loaded network, default the shipped ``f0-salience``; ``threshold`` its voicing
    threshold), ``auto`` (pyin for one voice, salience for several). For several voices the
    per-frame values are assigned with the heuristic of Sec. IV-B.

    Raises:
        ValueError: unknown ``method`` or ``voices < 1``.
        ModelError: ``salience`` with a missing or broken model card.
    """
    if method not in METHODS:
        raise ValueError(f"unknown F0 method {method!r} (available: {', '.join(METHODS)})")
    if voices < 1:
        raise ValueError("voices must be >= 1")
    audio = np.asarray(audio, dtype=np.float32)
    if method == "auto":
        # salience for several voices: on held-out CSD mixtures its F0 raised the trained
        # separator from 3.84 to 9.98 dB (J = 2) and from -4.62 to 0.41 dB (J = 4) over hsum
        # (docs/f0-experiment.md); multi-F0 accuracy 0.71 vs 0.55 (docs/f0-pitch.md)
        method = "pyin" if voices == 1 else "salience"
    if method == "salience":
        from separate.f0.salience import DEFAULT_THRESHOLD, load_salience_model, salience_track

        if model is None or isinstance(model, (str, Path)):
            model = load_salience_model(model)
        return salience_track(
            audio, sample_rate, voices, model,
            DEFAULT_THRESHOLD if threshold is None else threshold, fmin, fmax,
        )
    if method == "hsum":
        candidates = harmonic_sum_track(audio, sample_rate, voices, fmin, fmax)
        _, hop = _frame_params(sample_rate)
        times = np.arange(len(candidates)) * hop / sample_rate
        return F0Track(times=times, f0=assign_voices(candidates, voices))
    first = pyin_track(audio, sample_rate, fmin, fmax)
    if voices == 1:
        return first
    found = [fix_subharmonics(audio, sample_rate, first.f0[0])]
    residual = audio
    for _ in range(voices - 1):
        residual = cancel_harmonics(residual, sample_rate, found[-1])
        f = pyin_track(residual, sample_rate, fmin, fmax).f0[0]
        found.append(fix_subharmonics(residual, sample_rate, f))
    n = min(len(f) for f in found)
    stacked = np.stack([f[:n] for f in found])  # [voices, frames], unlabelled
    candidates = [_dedupe(stacked[:, t]) for t in range(n)]
    return F0Track(times=first.times[:n], f0=assign_voices(candidates, voices))


def harmonic_sum_track(
    audio: np.ndarray,
    sample_rate: int,
    voices: int,
    fmin: float = FMIN_HZ,
    fmax: float = FMAX_HZ,
    n_harmonics: int = 10,
    rel_threshold: float = 0.2,
    silence_db: float = -50.0,
) -> list[list[float]]:
    """Per-frame multi-F0 candidates by harmonic summation with iterative cancellation.

    After Klapuri (2006): the salience of a candidate F0 ``f`` (grid of 10 cents) is
    ``sum_h g(f, h) |X(h f)|`` with ``g = (f + 27) / (h f + 320)`` (weights that disfavour
    sub-harmonics), ``|X|`` the STFT magnitude (4x pYIN's frame, max over +/- 1 bin). Per frame
    the most salient F0 is taken, its harmonics are removed from the spectrum (+/- a quarter
    tone), and the search repeats, up to ``voices`` times or until the salience falls below
    ``rel_threshold`` of the first peak. Frames quieter than ``silence_db`` (dBFS RMS) have none.

    Returns:
        one list of F0 values (Hz) per pYIN-hop frame.
    """
    import librosa
    from scipy.ndimage import maximum_filter1d
    from scipy.sparse import csr_matrix

    frame, hop = _frame_params(sample_rate)
    n_fft = 4 * frame
    audio = np.asarray(audio, np.float32)
    mag = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop))
    rms = librosa.feature.rms(y=audio, frame_length=frame, hop_length=hop)[0]
    n_frames = min(mag.shape[1], len(rms))
    cand = fmin * 2 ** (np.arange(0, 1200 * np.log2(fmax / fmin), 10) / 1200)
    rows, cols, vals = [], [], []
    for i, f in enumerate(cand):
        for h in range(1, n_harmonics + 1):
            b = int(round(h * f * n_fft / sample_rate))
            if b >= mag.shape[0]:
                break
            rows.append(i)
            cols.append(b)
            vals.append((f + 27.0) / (h * f + 320.0))
    weights = csr_matrix((vals, (rows, cols)), shape=(len(cand), mag.shape[0]))
    freqs = np.arange(mag.shape[0]) * sample_rate / n_fft
    out: list[list[float]] = []
    for t in range(n_frames):
        if 20 * np.log10(rms[t] + 1e-12) < silence_db:
            out.append([])
            continue
        spec = mag[:, t].copy()
        found: list[float] = []
        first = None
        for _ in range(voices):
            sal = weights @ maximum_filter1d(spec, 3)
            i = int(np.argmax(sal))
            if first is None:
                first = sal[i]
            if sal[i] <= 0 or sal[i] < rel_threshold * first:
                break
            f = float(cand[i])
            found.append(f)
            harm = f * np.arange(1, int(sample_rate / 2 / f) + 1)
            half = np.maximum(harm * (2 ** (1 / 24) - 1), 1.5 * sample_rate / n_fft)
            spec[(np.abs(freqs[:, None] - harm[None, :]) <= half[None, :]).any(axis=1)] = 0.0
        out.append(found)
    return out


def _dedupe(vals: np.ndarray, tol_semitones: float = 0.5) -> list[float]:
    """Drop zero values and values within ``tol_semitones`` of one already kept."""
    kept: list[float] = []
    for v in vals:
        if v > 0 and all(abs(12 * np.log2(v / k)) > tol_semitones for k in kept):
            kept.append(float(v))
    return kept


def write_f0_csv(path: str | Path, track: F0Track) -> None:
    """Write ``time,f0_1..f0_N`` (s, Hz; 0 = unvoiced) to ``path`` (temp file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["time", *[f"f0_{j + 1}" for j in range(track.voices)]])
        for t, col in zip(track.times, track.f0.T, strict=True):
            w.writerow([f"{t:.4f}", *[f"{v:.2f}" for v in col]])
    tmp.replace(path)


def read_f0_csv(path: str | Path) -> F0Track:
    """Read an ``f0.csv`` (header ``time,f0_1..``; also accepts headerless numeric rows).

    Empty cells and NaN count as 0 Hz (unvoiced).

    Raises:
        InputError: unreadable file, fewer than 2 columns, or non-numeric cells.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except OSError as exc:
        raise InputError(path, f"cannot read F0 file ({exc.strerror})") from None
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]
    if not rows or min(len(r) for r in rows) < 2:
        raise InputError(path, "F0 file needs a time column and at least one F0 column")
    width = min(len(r) for r in rows)
    try:
        data = np.array([[float(c) if c.strip() else 0.0 for c in r[:width]] for r in rows])
    except ValueError:
        raise InputError(path, "F0 file has non-numeric cells") from None
    data = np.nan_to_num(data, nan=0.0)
    return F0Track(times=data[:, 0], f0=np.maximum(data[:, 1:].T, 0.0))


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def plot_f0(path: str | Path, audio: np.ndarray, sample_rate: int, track: F0Track) -> None:
    """Save a PNG: the tracks over the salience map (``track.salience``, method ``salience``)
    or over a log-frequency spectrogram of mono ``audio`` (other methods)."""
    import librosa
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    if track.salience is not None:
        from separate.f0.salience import BINS_PER_OCTAVE, bin_frequencies

        freqs = bin_frequencies()
        edges = freqs[0] * 2.0 ** ((np.arange(len(freqs) + 1) - 0.5) / BINS_PER_OCTAVE)
        t = track.times
        dt = t[1] - t[0] if len(t) > 1 else 0.01
        t_edges = np.concatenate([t - dt / 2, [t[-1] + dt / 2]]) if len(t) else np.zeros(1)
        mesh = ax.pcolormesh(t_edges, edges, track.salience, shading="flat", cmap="magma",
                             vmin=0, vmax=1)
        fig.colorbar(mesh, ax=ax, label="salience", pad=0.01)
        ax.set_ylim(max(FMIN_HZ * 0.8, freqs[0]), freqs[-1])
    else:
        n_fft, hop = _frame_params(sample_rate)
        db = librosa.amplitude_to_db(
            np.abs(librosa.stft(np.asarray(audio, np.float32), n_fft=n_fft, hop_length=hop)),
            ref=np.max,
        )
        t = librosa.frames_to_time(np.arange(db.shape[1]), sr=sample_rate, hop_length=hop)
        freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft)
        ax.pcolormesh(t, freqs[1:], db[1:], shading="auto", cmap="magma", vmin=-80, vmax=0)
        ax.set_ylim(FMIN_HZ * 0.8, min(sample_rate / 2, 4000))
    ax.set_yscale("log")
    for j in range(track.voices):
        f = np.where(track.f0[j] > 0, track.f0[j], np.nan)
        ax.plot(track.times, f, lw=1.0, label=f"f0_{j + 1}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
