"""Spectrograms of a rendered track's stems, with the F0 tracks and activations drawn on top.

    python -m separate.synth.plot OUT/train/<track> track.png [--start S --end S]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["plot_track"]


def _stems_of(track: Path) -> list[str]:
    meta = json.loads((track / "stems.json").read_text())
    if "voices" in meta:
        return [v["voice"] for v in meta["voices"]]
    return list(("vocals", "drums", "bass", "other"))


def _read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path) as f:
        rows = list(csv.reader(f))
    return rows[0], np.array(rows[1:], dtype=float)


def plot_track(track: str | Path, out_png: str | Path, start: float = 0.0,
               end: float | None = None) -> Path:
    """Draw mixture and stems of ``track`` (log-frequency spectrograms, dB re. each panel's
    maximum), the exact F0 tracks (cyan) and the activation confidence (white line, right
    axis 0-1) into ``out_png``.

    Raises:
        FileNotFoundError: the track folder or one of its files is missing.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import stft

    track = Path(track)
    stems = _stems_of(track)
    meta = json.loads((track / "stems.json").read_text())
    header, act = _read_csv(track / "activations.csv")
    names = ["mixture", *stems]
    fig, axes = plt.subplots(len(names), 1, figsize=(13, 2.1 * len(names)), sharex=True)
    for ax, name in zip(axes, names, strict=True):
        x, sr = sf.read(track / f"{name}.wav", dtype="float32")
        x = x.mean(axis=1)
        a = int(start * sr)
        b = int(end * sr) if end else len(x)
        f, t, z = stft(x[a:b], sr, nperseg=4096, noverlap=4096 - 512)
        db = 20 * np.log10(np.abs(z) + 1e-9)
        db -= db.max()
        sel = (f >= 30) & (f <= 16000)
        ax.pcolormesh(t + start, f[sel], db[sel], vmin=-80, vmax=0, cmap="magma",
                      shading="auto", rasterized=True)
        ax.set_yscale("log")
        ax.set_ylim(30, 16000)
        ax.set_ylabel("Hz")
        label = name
        if name != "mixture":
            if "voices" in meta:
                v = next(v for v in meta["voices"] if v["voice"] == name)
                label += f" — {v['class']} ({v.get('preset_name') or v.get('singer_voice')})"
            else:
                parts = meta["stems"][name]["parts"]
                label += " — " + ", ".join(
                    (p.get("preset_name") or f"singer, {p.get('voice')}") for p in parts)
            f0_path = track / "f0" / f"{name}.csv"
            if f0_path.exists():
                _, f0 = _read_csv(f0_path)
                keep = (f0[:, 0] >= start) & ((f0[:, 0] <= end) if end else True)
                hz = np.where(f0[keep, 1] > 0, f0[keep, 1], np.nan)
                ax.plot(f0[keep, 0], hz, color="cyan", lw=0.8)
            if name in header:
                k = header.index(name)
                keep = (act[:, 0] >= start) & ((act[:, 0] <= end) if end else True)
                ax2 = ax.twinx()
                ax2.plot(act[keep, 0], act[keep, k], color="white", lw=1.0)
                ax2.set_ylim(-0.05, 1.6)
                ax2.set_yticks([0, 1])
        ax.set_title(label, fontsize=9, loc="left")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"{meta['track']} ({meta['kind']}, {meta['split']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_png, dpi=64)
    plt.close(fig)
    return Path(out_png)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("track")
    ap.add_argument("png")
    ap.add_argument("--start", type=float, default=0.0)
    ap.add_argument("--end", type=float, default=None)
    a = ap.parse_args()
    plot_track(a.track, a.png, a.start, a.end)


if __name__ == "__main__":
    main()
