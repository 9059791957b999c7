"""Speed of `separate adapt`: 10 epochs on a 3-minute stereo track (target: <= 5 minutes).

The track is the real MUSDB18 clip (``../shared/data/musdb18-7``) repeated to the requested
length (or a synthetic tone-and-noise mix when the clip is absent), with marks that silence each
source in one quarter. The adaptation loop (:func:`separate.adapt.loop.adapt_model`, the paper's
defaults: 4 s segments, batch 1, Ranger, L3:D) is timed, then the separation of the whole track
with the adapted model through the engine.

    nice -n 19 .venv/bin/python benchmarks/bench_adapt.py -m default            # the real figure
    nice -n 19 .venv/bin/python benchmarks/bench_adapt.py -m CARD --seconds 20 --epochs 1

A run shorter than the target's (``--seconds``/``--epochs`` smaller) prints the measured time
per step and, clearly labelled, the time the full run would take at that rate.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from separate.adapt.loop import AdaptConfig, adapt_model, segment_starts  # noqa: E402
from separate.adapt.run import separate_mixture, to_model_format  # noqa: E402
from separate.registry import load_model  # noqa: E402

CLIP = REPO.parent / "shared" / "data" / "musdb18-7" / "Music Delta - 80s Rock" / "mixture.flac"
TARGET_SECONDS = 300.0
FULL_TRACK, FULL_EPOCHS = 180.0, 10


def make_track(seconds: float, sr: int) -> tuple[np.ndarray, str]:
    """``[2, seconds * sr]`` float32 and a description of where it came from."""
    n = int(seconds * sr)
    if CLIP.is_file():
        from separate.audio.io import read_audio

        x, rate = read_audio(CLIP)
        x = to_model_format(x, rate, _Rate(sr))
        reps = int(np.ceil(n / x.shape[-1]))
        return np.tile(x, (1, reps))[:, :n], f"{CLIP.parent.name} repeated to {seconds:.0f} s"
    t = np.arange(n) / sr
    rng = np.random.default_rng(0)
    x = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)
    return np.stack([x, x]).astype(np.float32), f"synthetic tone + noise, {seconds:.0f} s"


class _Rate:
    """Stand-in with the two attributes ``to_model_format`` reads."""

    def __init__(self, sr: int):
        self.sample_rate, self.audio_channels = sr, 2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", default="default")
    ap.add_argument("--seconds", type=float, default=FULL_TRACK)
    ap.add_argument("--epochs", type=int, default=FULL_EPOCHS)
    ap.add_argument("--layers", default="L3:D")
    ap.add_argument("--segment", type=float, default=4.0)
    ap.add_argument("--hop", type=float, default=None)
    ap.add_argument("--optimizer", default="ranger")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-separate", action="store_true", help="time the adaptation only")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    model = load_model(args.model)
    sr = int(model.sample_rate)
    mix, origin = make_track(args.seconds, sr)
    mix = to_model_format(mix, sr, model)
    h = torch.ones(len(model.sources), mix.shape[-1])
    q = mix.shape[-1] // 4
    for i in range(len(model.sources)):
        h[i, (i % 4) * q : (i % 4 + 1) * q] = 0
    cfg = AdaptConfig(layers=args.layers, epochs=args.epochs, segment=args.segment, hop=args.hop,
                      optimizer=args.optimizer)
    hop = None if args.hop is None else int(args.hop * sr)
    n_segments = len(segment_starts(mix.shape[-1], int(args.segment * sr), hop))
    cpu0 = time.process_time()
    result = adapt_model(model, torch.from_numpy(mix), h, cfg)
    cpu = time.process_time() - cpu0
    steps = result.steps
    per_step = result.train_seconds / max(steps, 1)
    eval_per_segment = (result.seconds - result.train_seconds) / (2 * n_segments)
    print(f"model {args.model}; track: {origin}; {args.threads} thread(s); layers {args.layers} "
          f"({result.trainable_parameters:,} trainable parameters)")
    print(f"adaptation: {args.epochs} epoch(s) x {n_segments} segment(s) = {steps} steps, "
          f"{result.seconds:.1f} s in all: {result.train_seconds:.1f} s of steps "
          f"({per_step:.3f} s/step) + {result.seconds - result.train_seconds:.1f} s for the "
          f"loss before/after; loss {result.initial_loss:.5f} -> {result.final_loss:.5f}")
    print(f"CPU time of the adaptation: {cpu:.1f} s (on a loaded machine, CPU time / threads is "
          f"a better guide to the idle wall time than the wall time)")
    if not args.no_separate:
        t0 = time.perf_counter()
        separate_mixture(model.eval(), mix, sr)
        print(f"separation of the {args.seconds:.0f} s track: {time.perf_counter() - t0:.1f} s")
    full = args.seconds == FULL_TRACK and args.epochs == FULL_EPOCHS
    if full:
        verdict = "meets" if result.seconds <= TARGET_SECONDS else "misses"
        print(f"target: 10 epochs on 3 minutes <= {TARGET_SECONDS:.0f} s -> {verdict} "
              f"({result.seconds:.1f} s)")
    else:
        segs = len(segment_starts(int(FULL_TRACK * sr), int(args.segment * sr), hop))
        est = FULL_EPOCHS * segs * per_step + 2 * segs * eval_per_segment
        print(f"ESTIMATE (not measured): the full run ({FULL_EPOCHS * segs} steps) would take "
              f"about {est:.0f} s at these rates (target {TARGET_SECONDS:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
