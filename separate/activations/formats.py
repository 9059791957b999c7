"""Activations ("marks"): when each source plays, as one boolean tensor ``h[source, frame]``.

This is the user's input to ``separate adapt`` (Cantisani et al. 2021, Sec. 3.2: the binary
activations ``h_{i,n}`` of Eq. 1) and to ``separate eval --activations``. Three file formats are
read, whatever the frame grid they were written on:

(a) **intervals** (CSV), one row per stretch where a source plays; many rows per source::

        source,start,end          # optional header; times in seconds; `#` starts a comment
        vocals,12.5,30.0
        vocals,41.0,55.2

(b) **Audacity label track** (File ▸ Export ▸ Labels), ``start<TAB>end<TAB>label`` with the
    source name as label (spectral-selection lines starting with ``\\`` are skipped);

(c) **frame-wise confidences** (MedleyDB style): a CSV whose header is ``time,<source>,...`` and
    whose rows give, at each time stamp (s), a confidence in [0, 1] per source; a source is active
    where its confidence is >= 0.5 (MedleyDB and Cantisani et al., Sec. 4).

**The frame grid.** Frame ``k`` sits at time ``k / frame_rate`` (seconds). An interval
``[start, end)`` marks the frames whose time lies in it; a frame-wise file is resampled to the grid
by taking, for each frame, the row with the nearest time stamp. A sample ``n`` at ``sample_rate``
belongs to frame ``floor(n * frame_rate / sample_rate)`` (:func:`frames_to_samples`).

**Unmarked sources.** A source of the model that the file does not mention is unconstrained:
active on every frame (docs/ARCHITECTURE.md, "The contracts": activations). A source the
file mentions is silent outside its intervals; a zero-length interval (``vocals,0,0``) marks a
source that never plays.

Errors are :class:`separate.errors.InputError` naming the file and the line: unknown source names
(the message lists the model's sources), unparsable or NaN numbers, ``end < start``, negative
times, times beyond the end of the track, confidences outside [0, 1].
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from separate.errors import InputError

#: Confidence at or above which a frame-wise source counts as active (MedleyDB; paper Sec. 4).
ACTIVE_THRESHOLD = 0.5

#: Times may pass the end of the track by this much (s) or one frame, whichever is larger:
#: frame-based tools round the last frame up (MedleyDB's hop is 46 ms, the envelope's 93 ms).
END_TOLERANCE = 0.25

#: Times within this fraction of a frame of a frame's time count as on it (absorbs rounding).
FRAME_TOLERANCE = 1e-3

FORMATS = ("auto", "intervals", "audacity", "framewise")


def load_activations(
    path: str | os.PathLike[str],
    sources: Sequence[str],
    num_frames: int,
    frame_rate: float,
    *,
    duration: float | None = None,
    format: str = "auto",
) -> torch.Tensor:
    """Read an activations file into ``h: BoolTensor[len(sources), num_frames]``.

    Args:
        path: the file (intervals CSV, Audacity labels, or frame-wise CSV; see the module doc).
        sources: the model's source names, in the model's order (row ``i`` of ``h`` is
            ``sources[i]``). Names in the file match case-insensitively.
        num_frames: frames in the grid.
        frame_rate: frames per second (frame ``k`` at ``k / frame_rate`` s).
        duration: length of the track in seconds (default ``num_frames / frame_rate``). Times
            beyond it by more than ``END_TOLERANCE`` (0.25 s) or one frame are errors.
        format: ``auto`` (guessed from the content), ``intervals``, ``audacity`` or ``framewise``.

    Returns:
        ``h[i, k]`` True where source ``i`` plays at frame ``k``; all True for sources the file
        does not mention.

    Raises:
        InputError: unreadable file, no marks at all (empty, or a header only), unknown
            source, bad number, NaN, ``end < start``, negative time, time beyond the track,
            confidence outside [0, 1] (file and line named).
        ValueError: bad ``num_frames``/``frame_rate``/``format`` (programming errors).
    """
    if num_frames < 0 or not frame_rate > 0:
        raise ValueError("num_frames must be >= 0 and frame_rate > 0")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read activations ({exc})") from None
    if duration is None:
        duration = num_frames / frame_rate
    fmt = detect_format(text) if format == "auto" else format
    if fmt == "framewise":
        return _parse_framewise(text, path, sources, num_frames, frame_rate, duration)
    rows = _parse_audacity(text, path) if fmt == "audacity" else _parse_intervals(text, path)
    if not rows:
        raise InputError(path, "no marks in this file (every source would be unconstrained; "
                         "to adapt without marks use --loss reconstruction)")
    return _intervals_to_frames(rows, path, sources, num_frames, frame_rate, duration)


def detect_format(text: str) -> str:
    """Guess the format of an activations file's text: ``intervals``, ``audacity``,
    ``framewise``. Tab-separated rows are Audacity labels; a CSV whose first field of the first
    row is ``time`` is frame-wise; anything else is intervals."""
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if "\t" in line:
            return "audacity"
        first = s.split(",", 1)[0].strip().lower()
        return "framewise" if first == "time" else "intervals"
    return "intervals"


# ---------------------------------------------------------------------------------------------
# Parsers: each returns rows (lineno, source, start, end) in seconds, checked for NaN / order.


def _number(text: str, path: Path, lineno: int, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, f"line {lineno}: {what} {text.strip()!r} is not a number") from None
    if math.isnan(value) or math.isinf(value):
        raise InputError(path, f"line {lineno}: {what} is {text.strip()} (must be a finite number)")
    return value


def _interval(
    path: Path, lineno: int, source: str, start_s: str, end_s: str
) -> tuple[int, str, float, float]:
    source = source.strip()
    if not source:
        raise InputError(path, f"line {lineno}: empty source name")
    start = _number(start_s, path, lineno, "start")
    end = _number(end_s, path, lineno, "end")
    if start < 0:
        raise InputError(path, f"line {lineno}: start {start} s is negative")
    if end < start:
        raise InputError(path, f"line {lineno}: end {end} s is before start {start} s")
    return lineno, source, start, end


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """Non-empty, non-comment CSV rows with their 1-based line numbers."""
    out = []
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        lineno = reader.line_num
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        out.append((lineno, row))
    return out


def _parse_intervals(text: str, path: Path) -> list[tuple[int, str, float, float]]:
    rows = []
    for i, (lineno, row) in enumerate(_csv_rows(text)):
        cells = [c.strip() for c in row]
        if i == 0 and [c.lower() for c in cells[:3]] == ["source", "start", "end"]:
            continue  # header
        if len(cells) != 3:
            raise InputError(
                path, f"line {lineno}: expected 3 fields `source,start,end`, got {len(cells)}"
            )
        rows.append(_interval(path, lineno, *cells))
    return rows


def _parse_audacity(text: str, path: Path) -> list[tuple[int, str, float, float]]:
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#") or line.startswith("\\"):
            continue  # blank, comment, or Audacity's spectral-selection line `\tf0\tf1`
        cells = line.split("\t")
        if len(cells) < 3:
            raise InputError(
                path,
                f"line {lineno}: expected `start<TAB>end<TAB>label`, got {len(cells)} field(s)",
            )
        label = "\t".join(cells[2:])
        rows.append(_interval(path, lineno, label, cells[0], cells[1]))
    return rows


def _resolve(name: str, sources: Sequence[str], path: Path, lineno: int) -> int:
    lowered = [s.lower() for s in sources]
    try:
        return lowered.index(name.lower())
    except ValueError:
        raise InputError(
            path,
            f"line {lineno}: unknown source {name!r}; the model's sources are "
            f"{', '.join(sources)}",
        ) from None


def _check_time(t: float, path: Path, lineno: int, duration: float, frame_rate: float) -> None:
    if t > duration + max(1.0 / frame_rate, END_TOLERANCE):
        raise InputError(
            path, f"line {lineno}: time {t} s is beyond the end of the track ({duration:.3f} s)"
        )


def _intervals_to_frames(
    rows: list[tuple[int, str, float, float]],
    path: Path,
    sources: Sequence[str],
    num_frames: int,
    frame_rate: float,
    duration: float,
) -> torch.Tensor:
    h = np.ones((len(sources), num_frames), dtype=bool)
    marked = np.zeros(len(sources), dtype=bool)
    active = np.zeros((len(sources), num_frames), dtype=bool)
    for lineno, name, start, end in rows:
        i = _resolve(name, sources, path, lineno)
        _check_time(end, path, lineno, duration, frame_rate)
        marked[i] = True
        # frames k with start <= k / frame_rate < end, to within 1/1000 of a frame (which
        # absorbs the rounding of times written with a few decimals)
        k0 = max(0, math.ceil(start * frame_rate - FRAME_TOLERANCE))
        k1 = min(num_frames, math.ceil(end * frame_rate - FRAME_TOLERANCE))
        if k1 > k0:
            active[i, k0:k1] = True
    h[marked] = active[marked]
    return torch.from_numpy(h)


def _parse_framewise(
    text: str,
    path: Path,
    sources: Sequence[str],
    num_frames: int,
    frame_rate: float,
    duration: float,
) -> torch.Tensor:
    rows = _csv_rows(text)
    if not rows:
        raise InputError(path, "empty frame-wise activations file")
    head_line, header = rows[0]
    header = [c.strip() for c in header]
    if header[0].lower() != "time" or len(header) < 2:
        raise InputError(path, f"line {head_line}: the header must be `time,<source>,...`")
    columns = [_resolve(name, sources, path, head_line) for name in header[1:]]
    if len(set(columns)) != len(columns):
        raise InputError(path, f"line {head_line}: a source appears twice in the header")
    times, conf = [], []
    for lineno, row in rows[1:]:
        if len(row) != len(header):
            raise InputError(
                path, f"line {lineno}: expected {len(header)} fields, got {len(row)}"
            )
        t = _number(row[0], path, lineno, "time")
        if t < 0:
            raise InputError(path, f"line {lineno}: time {t} s is negative")
        _check_time(t, path, lineno, duration, frame_rate)
        if times and t <= times[-1]:
            raise InputError(path, f"line {lineno}: time {t} s does not increase")
        values = [_number(c, path, lineno, "confidence") for c in row[1:]]
        bad = [v for v in values if not 0.0 <= v <= 1.0]
        if bad:
            raise InputError(path, f"line {lineno}: confidence {bad[0]} is outside [0, 1]")
        times.append(t)
        conf.append(values)
    h = np.ones((len(sources), num_frames), dtype=bool)
    if not times:
        raise InputError(path, "frame-wise activations file has a header but no rows")
    t_arr = np.asarray(times)
    c_arr = np.asarray(conf)  # [rows, marked sources]
    grid = np.arange(num_frames) / frame_rate
    # nearest row for every frame of the grid
    idx = np.clip(np.searchsorted(t_arr, grid), 1, len(t_arr) - 1) if len(t_arr) > 1 else None
    if idx is None:
        nearest = np.zeros(num_frames, dtype=int)
    else:
        left = t_arr[idx - 1]
        right = t_arr[idx]
        nearest = np.where(grid - left <= right - grid, idx - 1, idx)
    for col, i in enumerate(columns):
        h[i] = c_arr[nearest, col] >= ACTIVE_THRESHOLD
    return torch.from_numpy(h)


# ---------------------------------------------------------------------------------------------
# Writing and converting


def frames_to_intervals(
    h: torch.Tensor | np.ndarray, sources: Sequence[str], frame_rate: float
) -> list[tuple[str, float, float]]:
    """Runs of active frames → ``(source, start_s, end_s)`` rows, source by source in order.

    A run of frames ``a .. b-1`` becomes ``[a / frame_rate, b / frame_rate)``, so that
    :func:`load_activations` on the written file gives back ``h`` exactly (on the same grid).
    """
    arr = np.asarray(h, dtype=bool)
    if arr.ndim != 2 or arr.shape[0] != len(sources):
        raise ValueError(f"h must be [{len(sources)}, frames], got {tuple(arr.shape)}")
    rows = []
    for i, name in enumerate(sources):
        padded = np.concatenate([[False], arr[i], [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            rows.append((name, a / frame_rate, b / frame_rate))
    return rows


def write_intervals(
    path: str | os.PathLike[str],
    h: torch.Tensor | np.ndarray,
    sources: Sequence[str],
    frame_rate: float,
    duration: float | None = None,
) -> None:
    """Write ``h[source, frame]`` as an intervals CSV (format (a), with a header).

    ``duration`` (s), when given, clips the intervals to the end of the track (the last frame of
    a grid usually reaches a little beyond it).

    Every source is written: one that never plays gets a single zero-length row
    ``source,0,0`` (marked, but active nowhere), so reading the file back gives ``h`` exactly.
    Times have 6 decimals. The file is written to a temporary name and renamed.
    """
    rows = frames_to_intervals(h, sources, frame_rate)
    if duration is not None:
        rows = [(n, s, min(e, duration)) for n, s, e in rows if s < duration]
    playing = {r[0] for r in rows}
    rows += [(name, 0.0, 0.0) for name in sources if name not in playing]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["source", "start", "end"])
    for name, start, end in rows:
        writer.writerow([name, f"{start:.6f}", f"{end:.6f}"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def frames_to_samples(
    h: torch.Tensor, num_samples: int, sample_rate: float, frame_rate: float
) -> torch.Tensor:
    """Upsample frame activations ``h[..., frames]`` to samples ``[..., num_samples]``.

    Sample ``n`` takes the value of frame ``floor(n * frame_rate / sample_rate)`` (clipped to
    the last frame), which is what Eq. 1 needs: ``h_{i,n}`` at every sample ``n``.
    """
    frames = h.shape[-1]
    if frames == 0:
        raise ValueError("no frames to upsample")
    n = torch.arange(num_samples, dtype=torch.float64)
    k = torch.floor(n * frame_rate / sample_rate).long().clamp_(max=frames - 1)
    return h[..., k]


def num_frames_for(num_samples: int, sample_rate: float, frame_rate: float) -> int:
    """Frames in the grid that covers ``num_samples`` samples: ``ceil(duration * frame_rate)``."""
    return max(1, math.ceil(num_samples * frame_rate / sample_rate - 1e-9))
