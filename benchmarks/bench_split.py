"""Benchmark of `separate split`: peak memory against track length, and speed against htdemucs.

Prints, in one run on this machine:
1. peak RSS of `separate split` (a fresh process each) on generated 5-minute and 60-minute stereo
   44.1 kHz inputs, and their ratio (target: 60-min peak <= 1.2x the 5-min peak and <= 1.5 GB);
2. the real-time factor of the model (default `default`) on a 30 s excerpt of generated music-like
   audio, that of htdemucs (random weights, demucs' own `apply_model` with its defaults) on the same
   input, and their ratio (target: default >= 10x real time).

Usage: python benchmarks/bench_split.py [--model default] [--skip-memory] [--skip-demucs]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

SR = 44100


def write_long_input(path: Path, minutes: float, seed: int = 0) -> None:
    """Stereo 16-bit WAV of tones and noise bursts, written block by block (bounded memory)."""
    rng = np.random.default_rng(seed)
    block = SR * 10
    total = int(minutes * 60 * SR)
    with sf.SoundFile(str(path), "w", SR, 2, subtype="PCM_16") as f:
        done = 0
        while done < total:
            n = min(block, total - done)
            t = (done + np.arange(n)) / SR
            f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
            x = 0.2 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.standard_normal(n)
            f.write(np.stack([x, np.roll(x, 7)], 1).astype(np.float32))
            done += n


def peak_rss_mb(args: list[str]) -> tuple[float, float]:
    """Run a command; return (peak RSS in MB of that process, wall seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{proc.stderr.read().decode()}")
    return usage.ru_maxrss / 1024, wall


def memory(model: str, tmp: Path) -> None:
    sep = str(Path(sys.executable).parent / "separate")
    rows = []
    for minutes in (5, 60):
        path = tmp / f"input_{minutes}min.wav"
        write_long_input(path, minutes)
        rss, wall = peak_rss_mb([sep, "split", str(path), "-o", str(tmp / "out"), "-m", model])
        rows.append((minutes, rss, wall))
        print(f"  {minutes:>2}-minute input: peak RSS {rss:7.1f} MB, {wall:6.1f} s wall "
              f"({minutes * 60 / wall:.1f}x real time incl. start-up)", flush=True)
        path.unlink()
    ratio = rows[1][1] / rows[0][1]
    print(f"  60-min / 5-min peak RSS ratio: {ratio:.3f} (target <= 1.2); "
          f"60-min peak {rows[1][1] / 1024:.2f} GB (target <= 1.5 GB)")


def speed(model: str, tmp: Path, demucs: bool) -> None:
    from separate import Separator

    path = tmp / "excerpt.wav"
    write_long_input(path, 0.5, seed=1)
    mix, _ = sf.read(str(path), dtype="float32", always_2d=True)
    x = torch.from_numpy(mix.T.copy())
    sep = Separator(model, device="cpu")
    sep.separate_tensor(x[:, : SR * 2], SR)  # warm-up
    t = time.perf_counter()
    sep.separate_tensor(x, SR)
    ours = 30 / (time.perf_counter() - t)
    print(f"  {model}: {ours:.1f}x real time on 30 s stereo 44.1 kHz ({torch.get_num_threads()} "
          "threads)")
    if not demucs:
        return
    try:
        from demucs.apply import apply_model
        from demucs.htdemucs import HTDemucs
    except ImportError:
        print("  htdemucs: demucs not installed (pip install 'separate[demucs]')")
        return
    torch.manual_seed(0)
    ht = HTDemucs(sources=["drums", "bass", "other", "vocals"]).eval()
    t = time.perf_counter()
    with torch.inference_mode():
        apply_model(ht, x[None], device="cpu", progress=False)
    theirs = 30 / (time.perf_counter() - t)
    print(f"  htdemucs (random weights, apply_model defaults): {theirs:.2f}x real time")
    print(f"  ratio {model} / htdemucs: {ours / theirs:.1f}x faster")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-demucs", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print("speed:")
        speed(a.model, tmp, not a.skip_demucs)
        if not a.skip_memory:
            print("memory:")
            memory(a.model, tmp)


if __name__ == "__main__":
    main()
