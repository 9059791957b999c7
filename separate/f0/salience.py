"""Polyphonic pitch salience (Jansson 2019, Ch. 5; Bittner et al. 2017, "Deep Salience").

A small U-Net (:class:`separate.nets.salience.SalienceUNet`) maps a harmonic constant-Q
transform (HCQT) of the audio to a salience map over time x pitch; the peaks of each frame are the
multi-F0 estimate, assigned to ``N`` voices with the heuristic of Schulze-Forster et al., Sec. IV-B
(:func:`separate.f0.assign.assign_voices`).

Grid (Bittner et al.): audio at 22 050 Hz, hop 256 samples (11.6 ms); 360 pitch bins of 20 cents
from C1 (32.7 Hz) to B6 (~2 090 Hz); harmonics 0.5, 1, 2, 3, 4, 5.

Deviation: the HCQT is one CQT from C0 (16.35 Hz = C1 / 2) up to 5 x B6, and harmonic ``h`` is its
slice shifted by ``round(60 log2(2 h))`` bins (Bittner et al. compute one CQT per harmonic); the
shift is exact for h = 0.5, 1, 2, 4 and within 10 cents for h = 3, 5 (a sixth of the CQT cost).

Public functions:

- :func:`hcqt`: audio -> ``float32 [6, 360, frames]`` network input;
- :func:`salience_targets`: exact F0 (Hz) -> Gaussian-blurred ``[360, frames]`` training target;
- :func:`salience_map`: audio + model -> times, ``[360, frames]`` salience in [0, 1];
- :func:`pick_peaks`: salience -> per-frame F0 candidates (Hz);
- :func:`salience_track`: audio -> :class:`separate.f0.f0track.F0Track` of ``N`` voices;
- :func:`load_salience_model`: the default card ``models/f0-salience.toml`` or another card.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
HOP = 256
BINS_PER_OCTAVE = 60  # 20 cents
N_BINS = 360  # 6 octaves
FMIN_HZ = 32.703195662574829  # C1
HARMONICS = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
DB_RANGE = 80.0
ARCH = "salience_unet"
DEFAULT_MODEL = "f0-salience"
DEFAULT_THRESHOLD = 0.3


def bin_frequencies() -> np.ndarray:
    """Centre frequency (Hz) of each of the ``N_BINS`` pitch bins: ``C1 * 2 ** (k / 60)``."""
    return FMIN_HZ * 2.0 ** (np.arange(N_BINS) / BINS_PER_OCTAVE)


def hz_to_bin(f0: np.ndarray) -> np.ndarray:
    """Fractional pitch-bin index of ``f0`` (Hz, any shape); NaN where ``f0 <= 0``."""
    f0 = np.asarray(f0, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f0 > 0, BINS_PER_OCTAVE * np.log2(f0 / FMIN_HZ), np.nan)


def bin_to_hz(b: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_bin` (fractional bins -> Hz)."""
    return FMIN_HZ * 2.0 ** (np.asarray(b, dtype=np.float64) / BINS_PER_OCTAVE)


def frame_times(n_frames: int) -> np.ndarray:
    """Centre (s) of each HCQT frame: ``k * HOP / SAMPLE_RATE``."""
    return np.arange(n_frames) * HOP / SAMPLE_RATE


def _harmonic_offsets() -> list[int]:
    return [int(round(BINS_PER_OCTAVE * np.log2(h / HARMONICS[0]))) for h in HARMONICS]


def log_cqt(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """One wide CQT of mono ``audio: float [time]`` at ``sample_rate`` Hz (resampled to
    22 050 Hz), log-magnitude scaled to [0, 1]: ``(dB re. the file's maximum + 80) / 80``.

    Returns ``float32 [N_BINS + offset of the 5th harmonic, frames]`` from C0 = C1 / 2; the HCQT
    channels are slices of it (:func:`hcqt_from_log_cqt`).
    """
    import librosa

    from separate.audio.resample import resample

    x = resample(np.asarray(audio, dtype=np.float32), sample_rate, SAMPLE_RATE)
    if x.size < 4 * HOP:
        x = np.pad(x, (0, 4 * HOP - x.size))
    n_bins = N_BINS + _harmonic_offsets()[-1]
    with warnings.catch_warnings():  # librosa warns about n_fft on short inputs' low octaves
        warnings.simplefilter("ignore", UserWarning)
        c = np.abs(
            librosa.cqt(
                x, sr=SAMPLE_RATE, hop_length=HOP, fmin=FMIN_HZ * HARMONICS[0], n_bins=n_bins,
                bins_per_octave=BINS_PER_OCTAVE, res_type="soxr_hq",
            )
        )
    db = librosa.amplitude_to_db(c, ref=np.max, top_db=DB_RANGE)
    return ((db + DB_RANGE) / DB_RANGE).astype(np.float32)


def hcqt_from_log_cqt(wide: np.ndarray) -> np.ndarray:
    """``[bins_wide, frames]`` from :func:`log_cqt` -> HCQT ``[6, N_BINS, frames]``: channel
    ``i`` is the CQT shifted up by ``round(60 log2(h_i / 0.5))`` bins (see the module note)."""
    return np.stack([wide[o : o + N_BINS] for o in _harmonic_offsets()])


def hcqt(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """HCQT network input of mono ``audio``: ``float32 [6, 360, frames]`` in [0, 1]."""
    return hcqt_from_log_cqt(log_cqt(audio, sample_rate))


def salience_targets(f0: np.ndarray, sigma_bins: float = 1.0) -> np.ndarray:
    """Training target from exact F0: ``f0: [voices, frames]`` Hz (0 = silent) ->
    ``float32 [N_BINS, frames]``.

    Each sounding F0 contributes a Gaussian in pitch, ``exp(-(k - b)^2 / (2 sigma^2))`` with
    ``b`` its fractional bin and ``sigma`` in bins (1 bin = 20 cents), as Bittner et al.'s
    blurred labels; overlapping voices take the maximum, so the target stays in [0, 1] and equals
    1 at an F0 that falls on a bin centre. F0 outside the grid is ignored.
    """
    f0 = np.atleast_2d(np.asarray(f0, dtype=np.float64))
    b = hz_to_bin(f0)  # [V, T]
    k = np.arange(N_BINS, dtype=np.float64)[:, None, None]  # [K, 1, 1]
    ok = np.isfinite(b) & (b > -0.5) & (b < N_BINS - 0.5)
    d = np.where(ok[None], k - np.where(ok, b, 0.0)[None], np.inf)
    g = np.exp(-0.5 * (d / sigma_bins) ** 2)  # [K, V, T]
    return g.max(axis=1).astype(np.float32) if f0.shape[0] else np.zeros((N_BINS, f0.shape[1]),
                                                                          np.float32)


def pick_peaks(
    salience: np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    max_peaks: int | None = None,
    fmin: float = 0.0,
    fmax: float = np.inf,
    min_distance: int = 3,
) -> list[list[float]]:
    """Per-frame F0 candidates from a salience map ``[N_BINS, frames]`` (values in [0, 1]).

    A candidate is a local maximum in pitch (``scipy.signal.find_peaks``, at least
    ``min_distance`` bins apart) whose salience is >= ``threshold``, refined by a parabola through
    the peak and its two neighbours; at most ``max_peaks`` per frame (the most salient), only
    within ``[fmin, fmax]`` Hz.

    Returns:
        one list per frame of F0 values (Hz), most salient first.
    """
    from scipy.signal import find_peaks

    sal = np.asarray(salience, dtype=np.float64)
    lo = max(int(np.floor(np.nan_to_num(hz_to_bin(max(fmin, 1e-3)), nan=0.0))), 0)
    hi = min(int(np.ceil(hz_to_bin(fmax))) if np.isfinite(fmax) else N_BINS, N_BINS)
    out: list[list[float]] = []
    padded = np.pad(sal, ((1, 1), (0, 0)))  # so that edge bins can be peaks
    for t in range(sal.shape[1]):
        col = padded[:, t]
        idx, props = find_peaks(col, height=threshold, distance=min_distance)
        idx = idx - 1
        keep = (idx >= lo) & (idx < hi)
        idx, h = idx[keep], props["peak_heights"][keep]
        order = np.argsort(-h)
        if max_peaks is not None:
            order = order[:max_peaks]
        vals = []
        for i in idx[order]:
            y0, y1, y2 = col[i], col[i + 1], col[i + 2]  # padded indices of i-1, i, i+1
            den = y0 - 2 * y1 + y2
            delta = 0.5 * (y0 - y2) / den if den < 0 else 0.0
            vals.append(float(bin_to_hz(i + np.clip(delta, -0.5, 0.5))))
        out.append(vals)
    return out


def load_salience_model(spec: str | Path | None = None):
    """The salience network of a card: ``None`` = the shipped ``models/f0-salience.toml``
    (embedded weights, no network access), or a card name / ``.toml`` path.

    Returns a :class:`separate.nets.salience.SalienceUNet` in eval mode (its card on ``.card``).

    Raises:
        ModelError: no such card, a card of another subcommand, missing or corrupt weights
            (:func:`separate.registry.load_model`).
    """
    from separate.registry import load_model

    return load_model(DEFAULT_MODEL if spec is None else spec, "cpu",
                      subcommand="f0 track --method salience")


def salience_map(
    audio: np.ndarray, sample_rate: int, model=None, chunk_frames: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Salience of mono ``audio: float [time]`` at ``sample_rate`` Hz.

    The HCQT is cut into chunks of ``chunk_frames`` frames (with 32 frames of context each side)
    to bound memory. ``model`` defaults to :func:`load_salience_model`.

    Returns:
        ``times: float64 [frames]`` (s), ``salience: float32 [N_BINS, frames]`` in [0, 1].
    """
    import torch

    model = model if model is not None else load_salience_model()
    x = hcqt(audio, sample_rate)
    n = x.shape[-1]
    ctx = 32
    out = np.zeros((N_BINS, n), np.float32)
    with torch.inference_mode():
        for s in range(0, n, chunk_frames):
            a, b = max(0, s - ctx), min(n, s + chunk_frames + ctx)
            logits = model(torch.from_numpy(x[None, :, :, a:b]))[0]
            e = min(s + chunk_frames, n)
            out[:, s:e] = torch.sigmoid(logits).numpy()[:, s - a : e - a]
    return frame_times(n), out


def salience_track(
    audio: np.ndarray,
    sample_rate: int,
    voices: int = 1,
    model=None,
    threshold: float = DEFAULT_THRESHOLD,
    fmin: float = FMIN_HZ,
    fmax: float = 2093.0,
):
    """F0 of ``voices`` voices from the salience map's peaks (Jansson Ch. 5 / Bittner et al.).

    One voice: per frame the most salient bin if >= ``threshold`` (Jansson Sec. 5.3 fixes the
    voicing threshold at 0.4 for his L2-trained model; ours, BCE-trained, uses 0.3), else
    unvoiced. Several voices: the ``voices`` most salient peaks per frame (:func:`pick_peaks`),
    assigned to voices by the heuristic of Sec. IV-B (sort when there are N values, pitch
    continuity otherwise, 0 Hz for silent voices).

    Returns:
        :class:`separate.f0.f0track.F0Track` (``times`` every 11.6 ms; ``.salience`` holds the map
        ``[N_BINS, frames]`` for plotting).
    """
    from separate.f0.assign import assign_voices
    from separate.f0.f0track import F0Track

    times, sal = salience_map(audio, sample_rate, model)
    cands = pick_peaks(sal, threshold, max_peaks=voices, fmin=fmin, fmax=fmax)
    if voices == 1:
        f0 = np.array([[c[0] if c else 0.0 for c in cands]])
    else:
        f0 = assign_voices(cands, voices)
    return F0Track(times=times, f0=f0, salience=sal)
