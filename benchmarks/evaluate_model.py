"""Measure a 4-stem model for its card: BSS-Eval SDR per stem against the 'mixture as estimate'
baseline, on a synthetic test split and on the real 4-stem clip in ../shared/data/musdb18-7.

SDR is BSS-Eval v4 on 1 s frames, median over frames per track, then median over tracks (SiSEC
2018). The synthetic split uses the vectorised path (``--fast``, museval's numbers within 1e-5 dB)
unless ``--museval``; the real clip always uses museval itself. Estimates are what `separate
split` writes (the model's residual added to `other`).

Usage:
    python benchmarks/evaluate_model.py --model default --synthetic /path/to/synth-band/test \
        [--max-tracks N] [--update-card models/default.toml]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from separate import Separator
from separate.evaluation import aggregate, evaluate

STEMS = ["vocals", "drums", "bass", "other"]
ROCK = Path(__file__).resolve().parents[1].parent / "shared/data/musdb18-7/Music Delta - 80s Rock"


def read(path: Path) -> np.ndarray:
    x, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return x.T


def track_dirs(root: Path) -> list[Path]:
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                  and all((d / f"{s}.wav").exists() or (d / f"{s}.flac").exists()
                          for s in STEMS))


def load_track(d: Path) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
    ext = ".wav" if (d / "mixture.wav").exists() else ".flac"
    refs = {s: read(d / f"{s}{ext}") for s in STEMS}
    mix = read(d / f"mixture{ext}")
    return mix, refs, sf.info(str(d / f"mixture{ext}")).samplerate


def all_frames(tracks: list) -> list:
    """The same scores with every frame counted (``skip_silent`` only marks frames inactive:
    the BSS-Eval values of both views are the same numbers, computed once)."""
    out = []
    for t in tracks:
        c = copy.copy(t)
        c.active = {k: np.ones_like(v) for k, v in t.active.items()}
        out.append(c)
    return out


def score(sep: Separator, dirs: list[Path], fast: bool,
          skip_silent: bool = False) -> tuple[dict, dict, float, float, dict | None, dict | None]:
    """Model and mixture-baseline aggregates over ``dirs`` (all frames), the audio duration
    (s) and separation time (s), and with ``skip_silent`` also both aggregates over non-silent
    frames only (from the same separation and BSS-Eval pass)."""
    model_tracks, base_tracks = [], []
    audio = spent = 0.0
    two = sep.sources == ["vocals", "accompaniment"]
    for i, d in enumerate(dirs):
        mix, refs, sr = load_track(d)
        if two:
            refs = {"vocals": refs["vocals"],
                    "accompaniment": refs["drums"] + refs["bass"] + refs["other"]}
        t = time.perf_counter()
        est = {k: v.numpy() for k, v in
               sep.separate_tensor(mix, sr, stems="2" if two else "4").items()}
        spent += time.perf_counter() - t
        audio += mix.shape[1] / sr
        model_tracks.append(evaluate(est, refs, sr, name=d.name, fast=fast, sisdr=False,
                                     skip_silent=skip_silent))
        base_tracks.append(evaluate({s: mix for s in refs}, refs, sr, name=d.name, fast=fast,
                                    sisdr=False, skip_silent=skip_silent))
        print(f"  [{i + 1}/{len(dirs)}] {d.name}", file=sys.stderr, flush=True)
    active = (aggregate(model_tracks), aggregate(base_tracks)) if skip_silent else (None, None)
    return (aggregate(all_frames(model_tracks)), aggregate(all_frames(base_tracks)), audio, spent,
            *active)


def table(title: str, model: dict, base: dict) -> dict[str, dict[str, float]]:
    print(f"\n{title}\n{'stem':<8} {'model SDR':>10} {'mixture SDR':>12}")
    out: dict[str, dict[str, float]] = {}
    stems = list(model)
    for s in stems:
        m, b = model[s]["SDR"]["median"], base[s]["SDR"]["median"]
        out[s] = {"sdr": round(m, 2), "mixture_sdr": round(b, 2)}
        print(f"{s:<8} {m:>10.2f} {b:>12.2f}")
    avg_m = float(np.mean([out[s]["sdr"] for s in stems]))
    avg_b = float(np.mean([out[s]["mixture_sdr"] for s in stems]))
    print(f"{'average':<8} {avg_m:>10.2f} {avg_b:>12.2f}")
    out["average"] = {"sdr": round(avg_m, 2), "mixture_sdr": round(avg_b, 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--synthetic", type=Path, help="synthetic test split (track folders)")
    ap.add_argument("--max-tracks", type=int, default=0)
    ap.add_argument("--museval", action="store_true", help="museval on the synthetic split too")
    ap.add_argument("--update-card", type=Path, help="write the numbers into this card")
    ap.add_argument("--skip-silent", action="store_true",
                    help="also score the synthetic split on non-silent frames only (the frames "
                    "`separate eval --skip-silent` keeps; Schulze-Forster et al. Sec. V-A)")
    a = ap.parse_args()
    sep = Separator(a.model, device="cpu")
    metrics: dict[str, object] = {}
    if a.synthetic:
        dirs = track_dirs(a.synthetic)
        if a.max_tracks:
            dirs = dirs[: a.max_tracks]
        m, b, audio, spent, m_act, b_act = score(sep, dirs, fast=not a.museval,
                                                 skip_silent=a.skip_silent)
        metrics["synthetic_test"] = {
            "tracks": len(dirs), "hours": round(audio / 3600, 3),
            "method": "BSS-Eval v4 SDR, 1 s frames, median over frames then tracks; "
                      + ("museval" if a.museval else "separate eval --fast (museval-equivalent)"),
            "sdr_db": table(f"synthetic test split: {len(dirs)} tracks, {audio / 60:.1f} min",
                            m, b),
            "realtime_factor": round(audio / spent, 1)}
        if a.skip_silent:
            m, b = m_act, b_act
            metrics["synthetic_test_active_frames"] = {
                "method": "as synthetic_test, frames whose reference energy is below the "
                          "`separate eval --skip-silent` threshold left out",
                "sdr_db": table("synthetic test split, non-silent frames only", m, b)}
    if ROCK.is_dir():
        m, b, audio, spent, _, _ = score(sep, [ROCK], fast=False)
        metrics["musdb18_7_80s_rock"] = {
            "method": "museval v4 SDR, 1 s frames, median over frames",
            "sdr_db": table("real clip: MUSDB18 'Music Delta - 80s Rock' (7 s)", m, b)}
    cmd = "python benchmarks/evaluate_model.py " + " ".join(sys.argv[1:])
    metrics["command"] = cmd
    print(json.dumps(metrics, indent=1))
    if a.update_card:
        import tomli_w
        import tomllib

        card = tomllib.loads(a.update_card.read_text())
        if "synthetic_test" in metrics:
            metrics["sdr"] = metrics["synthetic_test"]["sdr_db"]["average"]["sdr"]
            metrics["sdr_note"] = ("headline: mean over stems of the median SDR (dB), "
                                   "synthetic test split, all frames")
        # what this script measures is replaced; the rest (e.g. [metrics.speed]) is kept
        card["metrics"] = {**card.get("metrics", {}), **metrics}
        if not a.skip_silent:
            card["metrics"].pop("synthetic_test_active_frames", None)
        a.update_card.write_text(tomli_w.dumps(card))
        print(f"updated {a.update_card}", file=sys.stderr)


if __name__ == "__main__":
    main()
