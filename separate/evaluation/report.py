"""Human-facing reports: rich tables of the aggregate, and box plots per stem (PNG).

The box plots show the distribution of counted frames (every track's 1 s windows) of one metric,
one panel per stem and one box per estimate set, with the SiSEC median of medians printed over
each box, so several systems (``--estimates A --estimates B``) compare side by side.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
from rich.table import Table

from separate.evaluation.metrics import ALL_METRICS
from separate.evaluation.scores import TrackScores


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:.2f}"


def aggregate_table(agg: Mapping[str, Mapping[str, Mapping[str, float]]], title: str) -> Table:
    """One row per stem, one column per metric: the median (SiSEC: median over frames, then
    over tracks) above the mean (grey), in dB."""
    metrics = [m for m in ALL_METRICS if any(m in v for v in agg.values())]
    table = Table(title=title, title_justify="left", caption="median / [dim]mean[/dim] (dB)",
                  caption_justify="left")
    table.add_column("stem", style="bold")
    for m in metrics:
        table.add_column(m, justify="right")
    table.add_column("tracks\nframes", justify="right", style="dim")
    for target, per in agg.items():
        cells = []
        for m in metrics:
            s = per.get(m, {})
            cells.append(f"{_fmt(s.get('median', math.nan))}\n[dim]{_fmt(s.get('mean', math.nan))}"
                         "[/dim]")
        first = next(iter(per.values()), {})
        cells.append(f"{first.get('tracks', 0)}\n{first.get('frames', 0)}")
        table.add_row(target, *cells)
    return table


def tracks_table(tracks: Sequence[TrackScores], metric: str = "SDR") -> Table:
    """Per-track frame medians of one metric (rows: tracks, columns: stems)."""
    targets: list[str] = []
    for tr in tracks:
        targets += [t for t in tr.targets if t not in targets]
    table = Table(title=f"{metric} per track (median over frames, dB)", title_justify="left")
    table.add_column("track")
    for t in targets:
        table.add_column(t, justify="right")
    for tr in tracks:
        row = [
            _fmt(tr.median(t, metric)) if t in tr.values and metric in tr.values[t] else "—"
            for t in targets
        ]
        table.add_row(tr.name, *row)
    return table


def box_plot(
    sets: Mapping[str, Sequence[TrackScores]],
    path: str | os.PathLike[str],
    metric: str = "SDR",
) -> str:
    """Write box plots of ``metric`` per stem, one box per estimate set, to a PNG.

    Args:
        sets: ``{label: tracks}`` (one entry per ``--estimates`` folder).
        path: PNG file written (atomically).
        metric: SDR, SIR, SAR, ISR or SI-SDR.

    Returns:
        the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets: list[str] = []
    for tracks in sets.values():
        for tr in tracks:
            targets += [t for t in tr.targets if t not in targets]
    labels = list(sets)
    fig, axes = plt.subplots(
        1, max(1, len(targets)), figsize=(2.2 + 1.1 * len(labels) * len(targets), 4.2),
        squeeze=False, sharey=True,
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, target in zip(axes[0], targets, strict=True):
        data, meds = [], []
        for label in labels:
            vals = [
                tr.counted(target, metric)
                for tr in sets[label]
                if target in tr.values and metric in tr.values[target]
            ]
            v = np.concatenate(vals) if vals else np.array([])
            v = v[np.isfinite(v)]
            data.append(v)
            per_track = [
                tr.median(target, metric) for tr in sets[label]
                if target in tr.values and metric in tr.values[target]
            ]
            meds.append(np.nanmedian(per_track) if per_track else math.nan)
        bp = ax.boxplot(
            [d if d.size else [np.nan] for d in data], patch_artist=True, widths=0.6,
            showfliers=True, flierprops={"markersize": 2, "alpha": 0.4},
        )
        ax.set_xticks(range(1, len(labels) + 1), labels, rotation=20, ha="right")
        for i, box in enumerate(bp["boxes"]):
            box.set_facecolor(colors[i % len(colors)])
            box.set_alpha(0.6)
        for i, m in enumerate(meds):
            if np.isfinite(m):
                ax.annotate(f"{m:.2f}", (i + 1, 1.0), xycoords=("data", "axes fraction"),
                            ha="center", va="bottom", fontsize=8)
        ax.set_title(target, pad=14)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(f"{metric} (dB, per frame)")
    fig.suptitle(f"{metric} per frame; numbers: median over tracks of frame medians", fontsize=9)
    fig.tight_layout()
    path = str(path)
    tmp = f"{path}.part.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
