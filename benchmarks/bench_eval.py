"""Benchmark `separate eval --fast` against museval on the real clips in ../shared/data.

For every clip, two kinds of estimates are scored by museval (``museval.metrics.bss_eval``,
v4, 1 s windows, the default path of ``separate eval``) and by the fast path, in this process,
one after the other:

* ``leak``: each reference plus 30 % of the other sources (interference) plus white noise at
  -20 dB (artefacts), i.e. a plausible separation;
* ``dummy``: the mixture scaled to each source's level (the "dummy separator" of
  Schulze-Forster et al. 2023, Sec. V-B) plus white noise at -40 dB. (Without the noise every
  estimate lies exactly in the span of the delayed references, the artefact term is rounding
  noise, and SAR is ~250 dB in both implementations with digits that mean nothing.)

Printed: per clip the seconds each path took (wall and CPU of this process), the speed ratio,
and the largest |Δ| (dB) over all sources, windows and the four metrics; then the totals. The
acceptance target is a ratio >= 20 and |Δ| <= 0.01 dB. Each time is the best of ``--repeat`` runs.

    .venv/bin/python benchmarks/bench_eval.py            # all clips (~1-2 min idle)
    .venv/bin/python benchmarks/bench_eval.py --quick    # the 80s Rock clip only
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"


def clips(quick: bool) -> list[tuple[str, list[np.ndarray], int]]:
    """``(name, [source [channels, time]], sample_rate)`` for the real multitrack clips."""
    out = []
    rock = DATA / "musdb18-7" / "Music Delta - 80s Rock"
    srcs = [sf.read(rock / f"{s}.flac", always_2d=True) for s in ("vocals", "drums", "bass",
                                                                  "other")]
    out.append(("musdb 80s Rock (4 stereo stems, 44.1 kHz)", [x.T for x, _ in srcs], srcs[0][1]))
    if quick:
        return out
    for d in sorted(glob.glob(str(DATA / "medleydb-jazz" / "*"))):
        parts = [sf.read(f, always_2d=True) for f in sorted(glob.glob(f"{d}/*.flac"))]
        out.append((f"medleydb {Path(d).name} (target+accomp, mono 22 kHz)",
                    [x.T for x, _ in parts], parts[0][1]))
    for group in ("Group02-P3H", "Group04-P4H"):
        files = sorted(glob.glob(str(DATA / "bach10-ass" / "Originals" / group / "*_Mix01_S*")))
        parts = [sf.read(f, always_2d=True) for f in files]
        n = min(x.shape[0] for x, _ in parts)
        out.append((f"bach10 {group} Mix01 ({len(parts)} mono sources, 44.1 kHz)",
                    [x[:n].T for x, _ in parts], parts[0][1]))
    csd = DATA / "csd-nino-dios" / "audio_16kHz"
    names = ["nino_Soprano_105", "nino_ContraAlt_107", "nino_tenor1-06-2", "nino_Bajos_104"]
    parts = [sf.read(csd / f"{n}.flac", always_2d=True, frames=20 * 16000) for n in names]
    n = min(x.shape[0] for x, _ in parts)
    out.append(("CSD SATB first 20 s (4 mono voices, 16 kHz)", [x[:n].T for x, _ in parts],
                parts[0][1]))
    return out


def estimates(refs: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """``[nsrc, channels, time]`` estimates of the given kind (see the module doc)."""
    mix = refs.sum(axis=0)
    if kind == "leak":
        est = refs + 0.3 * (mix[None] - refs)
        level = np.sqrt(np.mean(refs**2, axis=(1, 2), keepdims=True))
        return est + 0.1 * level * rng.standard_normal(refs.shape)
    gain = np.sqrt(np.mean(refs**2, axis=(1, 2), keepdims=True) / np.mean(mix**2))
    est = gain * mix[None]
    level = np.sqrt(np.mean(est**2, axis=(1, 2), keepdims=True))
    return est + 0.01 * level * rng.standard_normal(refs.shape)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the 80s Rock clip")
    ap.add_argument("--repeat", type=int, default=3, help="runs per clip; the best one counts")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"real data not found: {DATA}")
    import museval.metrics

    from separate.evaluation import fast_bsseval

    rng = np.random.default_rng(0)
    # warm-up (imports, FFT plans) so neither path pays one-time costs in the timings
    warm = rng.standard_normal((2, 44100 * 2, 2))
    fast_bsseval.bss_eval(warm, warm + rng.standard_normal(warm.shape), 44100, 44100)
    museval.metrics.bss_eval(warm[:, :8000], warm[:, :8000] + 1.0, 4000, 4000)

    print(f"{'clip':58s} {'est':5s} {'audio s':>7s} {'museval s':>9s} {'fast s':>7s} "
          f"{'ratio':>6s} {'cpu ratio':>9s} {'max |Δ| dB':>10s}")
    tot = {"audio": 0.0, "mw": 0.0, "fw": 0.0, "mc": 0.0, "fc": 0.0, "delta": 0.0}
    for name, sources, sr in clips(args.quick):
        refs = np.stack(sources).astype(np.float64)  # [nsrc, ch, time]
        for kind in ("leak", "dummy"):
            est = estimates(refs, kind, rng)
            r, e = refs.transpose(0, 2, 1), est.transpose(0, 2, 1)  # museval layout
            # best of --repeat runs of each (timeit's rule: the minimum is the least disturbed
            # by other processes, BLAS threads still spinning after museval, first-touch pages)
            ms, mc, fs, fc = np.inf, np.inf, np.inf, np.inf
            for _ in range(args.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                slow = museval.metrics.bss_eval(r, e, window=sr, hop=sr)
                t1, c1 = time.perf_counter(), time.process_time()
                quick = fast_bsseval.bss_eval(r, e, window=sr, hop=sr)
                t2, c2 = time.perf_counter(), time.process_time()
                ms, mc = min(ms, t1 - t0), min(mc, c1 - c0)
                fs, fc = min(fs, t2 - t1), min(fc, c2 - c1)
            a, b = np.array(slow[:4]), np.array(quick[:4])
            if not np.array_equal(np.isnan(a), np.isnan(b)):
                raise SystemExit(f"{name}: NaN windows differ")
            fin = np.isfinite(a)
            delta = float(np.max(np.abs(a[fin] - b[fin]))) if fin.any() else 0.0
            audio = refs.shape[-1] / sr * refs.shape[0] * refs.shape[1] / 8  # 4-stem-stereo s
            print(f"{name[:58]:58s} {kind:5s} {refs.shape[-1] / sr:7.1f} {ms:9.2f} "
                  f"{fs:7.3f} {ms / fs:6.1f} {mc / fc:9.1f} "
                  f"{delta:10.2e}", flush=True)
            tot["audio"] += audio
            tot["mw"] += ms
            tot["fw"] += fs
            tot["mc"] += mc
            tot["fc"] += fc
            tot["delta"] = max(tot["delta"], delta)
    print()
    print(f"total: museval {tot['mw']:.1f} s, fast {tot['fw']:.2f} s -> speed ratio "
          f"{tot['mw'] / tot['fw']:.1f}x (wall), {tot['mc'] / tot['fc']:.1f}x (CPU); "
          f"largest |Δ| {tot['delta']:.2e} dB")
    print(f"museval: {tot['mw'] / tot['audio']:.2f} s per second of 4-stem stereo audio; "
          f"fast: {tot['fw'] / tot['audio']:.3f} s  (threads: "
          f"{os.environ.get('OMP_NUM_THREADS', 'default')}; load avg {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
