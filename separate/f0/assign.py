"""F0-to-voice assignment: the heuristic of Schulze-Forster et al., Sec. IV-B.

A multiple-F0 estimator gives, at every frame, a set of ``x`` F0 values with no voice labels.
:func:`assign_voices` turns them into ``J`` voice tracks:

1. frames with exactly ``x = J`` values are processed first: the values are sorted and assigned to
   the voices assuming they do not cross (voice 1 = highest, as in SATB order);
2. every remaining frame is then processed in time order: each value goes to the voice whose F0 in
   the nearest previous or subsequent already-assigned frame is closest (pitch continuity, distance
   in semitones); voices that get no value are silent (0 Hz);
3. when ``x > J`` the ``J`` values that best continue the voices are kept (same matching, which
   leaves the worst-fitting values out).

The matching of step 2/3 is a minimum-cost assignment (``scipy.optimize.linear_sum_assignment``)
rather than a greedy loop, so two values never claim the same voice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

# cost (semitones) of giving a value to a voice that has no reference F0 nearby: larger than any
# plausible continuation, so a voice with a reference wins when one is close.
_NO_REFERENCE_COST = 48.0


def _semitones(f: np.ndarray) -> np.ndarray:
    return 12.0 * np.log2(np.maximum(f, 1e-6) / 440.0)


def assign_voices(
    candidates: Sequence[Sequence[float]], n_voices: int, max_search: int = 200
) -> np.ndarray:
    """Assign unlabelled per-frame F0 values to ``n_voices`` voices (Sec. IV-B).

    Args:
        candidates: one sequence per frame of the F0 values (Hz, > 0) found in that frame; values
            <= 0 or NaN are ignored (unvoiced).
        n_voices: J, the number of voices (>= 1).
        max_search: how many frames before/after to look for a voice's reference F0.

    Returns:
        ``float64 [n_voices, frames]`` F0 in Hz, 0 where a voice is silent; voice 0 is the highest
        when all voices sound (voices are ordered by pitch in the frames with exactly J values).

    Raises:
        ValueError: ``n_voices < 1``.
    """
    if n_voices < 1:
        raise ValueError("n_voices must be >= 1")
    frames = [
        np.asarray([v for v in np.asarray(c, dtype=float).ravel() if np.isfinite(v) and v > 0])
        for c in candidates
    ]
    n_frames = len(frames)
    out = np.zeros((n_voices, n_frames))
    done = np.zeros(n_frames, dtype=bool)

    # Step 1: frames with exactly J values, sorted high to low (no voice crossing).
    for t, vals in enumerate(frames):
        if len(vals) == n_voices:
            out[:, t] = np.sort(vals)[::-1]
            done[t] = True
        elif len(vals) == 0:
            done[t] = True  # all voices silent

    # Step 2/3: the others, in time order, by pitch continuity.
    for t in np.flatnonzero(~done):
        vals = frames[t]
        ref = _references(out, done, t, max_search)  # [J] Hz, 0 = none
        cost = np.full((len(vals), n_voices), _NO_REFERENCE_COST)
        has_ref = ref > 0
        if has_ref.any():
            cost[:, has_ref] = np.abs(_semitones(vals)[:, None] - _semitones(ref[has_ref])[None, :])
        if not has_ref.any() or (~has_ref).any():
            # tie-break among voices without reference: keep the pitch order (higher value ->
            # lower voice index) with a tiny cost gradient.
            order = np.argsort(np.argsort(-vals))
            cost[:, ~has_ref] += 1e-3 * np.abs(
                order[:, None] - np.flatnonzero(~has_ref)[None, :]
            )
        rows, cols = linear_sum_assignment(cost)
        out[cols, t] = vals[rows]
        done[t] = True
    return out


def _references(out: np.ndarray, done: np.ndarray, t: int, max_search: int) -> np.ndarray:
    """Per voice, its F0 in the nearest assigned frame (before or after ``t``) where it sounds."""
    n_voices, n_frames = out.shape
    ref = np.zeros(n_voices)
    lo, hi = max(0, t - max_search), min(n_frames, t + max_search + 1)
    for j in range(n_voices):
        best = None
        for d in range(1, max_search + 1):
            for u in (t - d, t + d):
                if lo <= u < hi and done[u] and out[j, u] > 0:
                    best = out[j, u]
                    break
            if best is not None:
                break
        if best is not None:
            ref[j] = best
    return ref
