"""Frame-wise scores of tracks, their SiSEC-style aggregation, and the files they are saved as.

Aggregation (Stöter, Liutkus, Ito 2018, "The 2018 Signal Separation Evaluation Campaign",
Sec. 4; Cantisani et al. 2021, Table 1): per track and stem, the **median over frames**; then
over tracks, the **median of those medians** (SiSEC's headline number). Means are given too: the
mean over tracks of each track's frame mean. Frames that are NaN (silent windows, museval's
rule) or marked inactive (``--activations``/``--skip-silent``) are left out of every statistic.

Files: ``<track>.json`` in museval's own format (``targets -> frames -> metrics SDR/SIR/SAR/ISR``,
values rounded to 5 decimals, NaN for undefined or excluded frames, which museval's own
``nanmedian`` aggregation then skips too), and ``frames.csv`` with every frame of every track,
its raw values, and whether it was counted.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from separate.evaluation.metrics import ALL_METRICS, BSS_METRICS

MUSEVAL_VERSION = "0.4.1"  # the museval JSON format version written


@dataclass
class TrackScores:
    """Frame-wise scores of one track.

    Attributes:
        name: track name.
        sample_rate: Hz.
        win, hop: evaluation window and hop (s).
        starts: ``[nwin]`` window start times (s).
        values: ``{target: {metric: [nwin] dB}}`` (metrics among SDR, SIR, SAR, ISR, SI-SDR).
        active: ``{target: [nwin] bool}`` frames counted in the statistics.
    """

    name: str
    sample_rate: int
    win: float
    hop: float
    starts: np.ndarray
    values: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    active: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def targets(self) -> list[str]:
        return list(self.values)

    @property
    def metrics(self) -> list[str]:
        found = {m for v in self.values.values() for m in v}
        return [m for m in ALL_METRICS if m in found]

    def counted(self, target: str, metric: str) -> np.ndarray:
        """The values that enter statistics: active frames, NaN elsewhere; +inf kept."""
        v = np.asarray(self.values[target][metric], dtype=float)
        return np.where(self.active.get(target, np.ones(v.shape, bool)), v, np.nan)

    def median(self, target: str, metric: str) -> float:
        """Median over counted frames (NaN if none)."""
        return _nanstat(np.nanmedian, self.counted(target, metric))

    def mean(self, target: str, metric: str) -> float:
        """Mean over counted frames (NaN if none)."""
        return _nanstat(np.nanmean, self.counted(target, metric))

    def to_museval(self) -> dict:
        """museval's JSON structure (``museval.TrackStore.scores``) for the BSS-Eval metrics."""
        targets = []
        for target in self.targets:
            frames = []
            for i, t0 in enumerate(self.starts):
                metrics = {}
                for m in BSS_METRICS:
                    if m in self.values[target]:
                        metrics[m] = _q(self.counted(target, m)[i])
                frames.append({"time": float(t0), "duration": self.win, "metrics": metrics})
            targets.append({"name": target, "frames": frames})
        return {"targets": targets, "museval_version": MUSEVAL_VERSION}

    def frame_rows(self) -> Iterable[dict]:
        """One dict per (target, frame): track, target, time, duration, active, metrics."""
        for target in self.targets:
            act = self.active.get(target)
            for i, t0 in enumerate(self.starts):
                row = {
                    "track": self.name,
                    "target": target,
                    "time": round(float(t0), 6),
                    "duration": self.win,
                    "active": bool(act[i]) if act is not None else True,
                }
                for m in self.metrics:
                    if m in self.values[target]:
                        row[m] = float(self.values[target][m][i])
                yield row


def _nanstat(fn, v: np.ndarray) -> float:
    if v.size == 0 or np.all(np.isnan(v)):
        return math.nan
    return float(fn(v))


def _q(x: float) -> float:
    """museval's quantisation: 5 decimals; inf becomes NaN (``TrackStore._q``)."""
    if not np.isfinite(x):
        return math.nan
    return round(float(x), 5)


def aggregate(tracks: Sequence[TrackScores]) -> dict[str, dict[str, dict[str, float]]]:
    """SiSEC aggregation over tracks.

    Returns:
        ``{target: {metric: {"median": median over tracks of the per-track frame medians,
        "mean": mean over tracks of the per-track frame means, "tracks": tracks with a value,
        "frames": counted frames}}}``, targets in first-seen order.
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    targets: list[str] = []
    for tr in tracks:
        targets += [t for t in tr.targets if t not in targets]
    for target in targets:
        out[target] = {}
        for metric in ALL_METRICS:
            meds, means, frames = [], [], 0
            for tr in tracks:
                if target not in tr.values or metric not in tr.values[target]:
                    continue
                c = tr.counted(target, metric)
                frames += int(np.sum(~np.isnan(c)))
                meds.append(tr.median(target, metric))
                means.append(tr.mean(target, metric))
            if not meds:
                continue
            out[target][metric] = {
                "median": _nanstat(np.nanmedian, np.array(meds)),
                "mean": _nanstat(np.nanmean, np.array(means)),
                "tracks": int(np.sum(~np.isnan(np.array(meds)))),
                "frames": frames,
            }
    return out


def _json_default(o):
    raise TypeError(f"not JSON serialisable: {type(o)}")


def dumps(obj) -> str:
    """JSON text; NaN/inf written as museval does (``NaN``, ``Infinity``)."""
    return json.dumps(obj, indent=2, allow_nan=True, default=_json_default)


def json_safe(obj):
    """Copy of ``obj`` with NaN/inf floats replaced by ``None`` (strict JSON for ``--json``)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_track_json(scores: TrackScores, out_dir: str | os.PathLike[str]) -> str:
    """Write ``out_dir/<track>.json`` (museval format) atomically; returns the path."""
    path = os.path.join(out_dir, f"{scores.name}.json")
    _atomic_write(path, dumps(scores.to_museval()))
    return path


def write_frames_csv(tracks: Sequence[TrackScores], path: str | os.PathLike[str]) -> None:
    """Write every frame of every track (``track,target,time,duration,active,<metrics>``)."""
    metrics = [m for m in ALL_METRICS if any(m in tr.metrics for tr in tracks)]
    cols = ["track", "target", "time", "duration", "active", *metrics]
    tmp = f"{path}.part"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, restval="")
        w.writeheader()
        for tr in tracks:
            for row in tr.frame_rows():
                w.writerow({k: (f"{v:.5f}" if isinstance(v, float) and k in metrics else v)
                            for k, v in row.items()})
    os.replace(tmp, path)


def read_track_json(path: str | os.PathLike[str]) -> dict:
    """Read a museval-format JSON (ours or museval's)."""
    with open(path) as f:
        return json.load(f)


def _atomic_write(path: str, text: str) -> None:
    tmp = f"{path}.part"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
