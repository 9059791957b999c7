"""``evaluate``: score one track's estimates against its references, in memory.

This is what ``separate eval`` runs per track and what experiments call directly::

    from separate.evaluation import evaluate
    scores = evaluate({"vocals": est_v, "drums": est_d}, {"vocals": ref_v, "drums": ref_d}, 44100)
    scores.median("vocals", "SDR")        # median over 1 s frames, dB

Grouping follows ``museval.eval_mus_track`` so that MUSDB numbers are museval's: the targets
present on both sides are evaluated together (BSS-Eval's interference depends on which other
references are in the set); when both ``vocals`` and ``accompaniment`` are given, the
vocals/accompaniment pair is evaluated as its own two-source scenario (that pair gives both
their numbers) and the other targets are evaluated together with ``vocals``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

import numpy as np

from separate.errors import InputError
from separate.evaluation import activity as _activity
from separate.evaluation.metrics import BSS_METRICS, bss_eval, frame_slices, si_sdr
from separate.evaluation.scores import TrackScores


def as_audio(x, name: str) -> np.ndarray:
    """``[channels, time]`` float64 from an ndarray/tensor (``[time]`` is mono).

    Raises:
        ValueError: more than 2 dimensions, or an array that looks like ``[time, channels]``.
    """
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2:
        raise ValueError(f"{name}: expected [channels, time], got shape {a.shape}")
    if a.shape[0] > 16 and a.shape[1] <= 16:
        raise ValueError(
            f"{name}: shape {a.shape} looks like [time, channels]; pass [channels, time] "
            "(transpose it)"
        )
    return a


def _fit_length(est: np.ndarray, n: int) -> np.ndarray:
    """museval's ``pad_or_truncate``: zero-pad or cut the estimate to the reference length."""
    if est.shape[1] >= n:
        return est[:, :n]
    return np.pad(est, ((0, 0), (0, n - est.shape[1])))


#: Largest length mismatch between an estimate and its reference that is fitted (zero-padded
#: or cut, as museval's ``pad_or_truncate``) rather than refused: 1 % of the reference, at
#: least 0.1 s (resamplers and codecs change lengths by a few samples to a few frames).
LENGTH_TOLERANCE = (0.01, 0.1)


def _check_length(name: str, source: str, got: int, n: int, sample_rate: float) -> None:
    """Warn about a small estimate/reference length mismatch; refuse a large one (a wrong file
    scored as a cut-down estimate, e.g. SDR ∞ against a 10 ms reference).

    Raises:
        InputError: the lengths differ by more than :data:`LENGTH_TOLERANCE`.
    """
    rel, seconds = LENGTH_TOLERANCE
    diff = abs(got - n)
    if diff > max(rel * n, seconds * sample_rate):
        raise InputError(name, f"estimate '{source}' is {got / sample_rate:.3f} s long, its "
                               f"reference {n / sample_rate:.3f} s: not the same track")
    warnings.warn(f"{name}: estimate '{source}' {'zero-padded' if got < n else 'cut'} by "
                  f"{diff} samples to the reference length", stacklevel=3)


def scenarios(targets: list[str]) -> list[tuple[list[str], list[str]]]:
    """museval's grouping: ``[(evaluated together, whose results are kept)]``."""
    has_acc = "vocals" in targets and "accompaniment" in targets
    groups = []
    rest = [t for t in targets if not (has_acc and t == "accompaniment")]
    if len(rest) >= 2 or (len(rest) == 1 and not has_acc):
        keep = [t for t in rest if not (has_acc and t == "vocals")]
        groups.append((rest, keep))
    if has_acc:
        groups.append((["vocals", "accompaniment"], ["vocals", "accompaniment"]))
    return groups


def evaluate(
    estimates: Mapping[str, object],
    references: Mapping[str, object],
    sample_rate: int,
    *,
    name: str = "track",
    win: float = 1.0,
    hop: float = 1.0,
    fast: bool = False,
    mode: str = "v4",
    bss: bool = True,
    sisdr: bool = True,
    activity: Mapping[str, object] | None = None,
    activity_rate: float | None = None,
    activations: str | os.PathLike[str] | None = None,
    skip_silent: bool = False,
    silence_threshold: float = _activity.SILENCE_THRESHOLD,
) -> TrackScores:
    """Frame-wise BSS-Eval (SDR, SIR, SAR, ISR) and SI-SDR of one track.

    Args:
        estimates: ``{source: [channels, time] or [time]}`` (ndarray or tensor).
        references: same keys (at least the estimated ones); same channels. Sources on only
            one side are ignored. Estimates are zero-padded/cut to the reference length (with a
            warning) when they differ by at most :data:`LENGTH_TOLERANCE`.
        sample_rate: Hz (both sides).
        name: track name (JSON file name, tables).
        win, hop: evaluation window and hop (s); museval's default is 1 s / 1 s.
        fast: vectorised BSS-Eval (museval's numbers within 3e-4 dB; 16-20x faster on 4-stem
            stereo, 3-9x on mono/2-source material) instead of museval.
        mode: ``"v4"`` (SiSEC 2018, filters over the whole track) or ``"v3"`` (per window).
        bss, sisdr: which metric families to compute.
        activity: optional ``{source: bool[frames]}``: frames where the source plays. Windows
            where it does not are excluded from statistics (Cantisani et al. 2021, Sec. 5).
        activity_rate: frames per second of ``activity``; ``None``: one value per window.
        activations: an activations file instead of ``activity`` (formats of
            :mod:`separate.activations.formats`).
        skip_silent: exclude windows whose reference sum of squares is below
            ``silence_threshold`` (Schulze-Forster et al. 2023, Sec. V-A: 10).

    Returns:
        :class:`TrackScores` (``values[target][metric]`` per window, ``active`` masks).
        A reference or estimate that is all zeros over the whole track cannot be evaluated by
        BSS-Eval: its BSS metrics are NaN and the others are evaluated without it (warning).

    Raises:
        InputError: no source in common, channel-count mismatch, an estimate whose length
            differs from its reference's by more than :data:`LENGTH_TOLERANCE`, bad activations
            file.
        ValueError: bad array shapes.
    """
    common = [s for s in references if s in estimates]
    if not common:
        raise InputError(
            name,
            f"no estimated source matches a reference (estimates: {', '.join(estimates) or '-'};"
            f" references: {', '.join(references) or '-'})",
        )
    refs = {s: as_audio(references[s], f"reference {s}") for s in common}
    n = max(r.shape[1] for r in refs.values())
    for s in common:
        if refs[s].shape[1] != n:
            raise InputError(name, f"reference '{s}' has {refs[s].shape[1]} samples, not {n}")
    ests = {}
    for s in common:
        e = as_audio(estimates[s], f"estimate {s}")
        if e.shape[0] != refs[s].shape[0]:
            raise InputError(
                name, f"'{s}': estimate has {e.shape[0]} channels, reference {refs[s].shape[0]}"
            )
        if e.shape[1] != n:
            _check_length(name, s, e.shape[1], n, sample_rate)
        ests[s] = _fit_length(e, n)
    win_n = int(win * sample_rate)
    hop_n = int(hop * sample_rate)
    windows = frame_slices(n, win_n, hop_n)
    starts = np.array([w.start / sample_rate for w in windows])
    scores = TrackScores(name, sample_rate, float(win), float(hop), starts)
    for s in common:
        scores.values[s] = {}
    nwin = len(windows)

    if bss:
        if len({r.shape[0] for r in refs.values()}) > 1:
            raise InputError(name, "BSS-Eval needs every reference with the same channel count")
        usable = []
        for s in common:
            if not np.any(refs[s].sum(axis=0) != 0) or not np.any(ests[s].sum(axis=0) != 0):
                side = "reference" if not np.any(refs[s].sum(axis=0) != 0) else "estimate"
                warnings.warn(
                    f"{name}: the {side} of '{s}' is all zeros; BSS-Eval is undefined for it "
                    "(NaN) and it is left out of the others' evaluation",
                    stacklevel=2,
                )
                for m in BSS_METRICS:
                    scores.values[s][m] = np.full(nwin, np.nan)
            else:
                usable.append(s)
        for group, keep in scenarios(usable):
            ref_arr = np.stack([refs[s] for s in group])
            est_arr = np.stack([ests[s] for s in group])
            res = bss_eval(ref_arr, est_arr, win_n, hop_n, fast=fast, mode=mode)
            for i, s in enumerate(group):
                if s in keep:
                    for m in BSS_METRICS:
                        scores.values[s][m] = np.asarray(res[m][i], dtype=float)
    if sisdr:
        for s in common:
            scores.values[s]["SI-SDR"] = si_sdr(refs[s][None], ests[s][None], win_n, hop_n)[0]

    active = np.ones((len(common), nwin), dtype=bool)
    if skip_silent:
        for i, s in enumerate(common):
            active[i] &= _activity.energy_activity(refs[s][None], windows, silence_threshold)[0]
    if activations is not None:
        active &= _activity.activations_from_file(activations, common, n, sample_rate, windows)
    if activity is not None:
        for i, s in enumerate(common):
            if s not in activity:
                continue
            h = activity[s]
            h = np.asarray(h.detach().cpu().numpy() if hasattr(h, "detach") else h, dtype=bool)
            if activity_rate is None:
                if h.shape[-1] != nwin:
                    raise ValueError(f"activity[{s!r}]: {h.shape[-1]} values for {nwin} windows")
                active[i] &= h
            else:
                pooled = _activity.pool_activity(h[None], activity_rate, windows, sample_rate)
                active[i] &= pooled[0]
    for i, s in enumerate(common):
        scores.active[s] = active[i]
    return scores
