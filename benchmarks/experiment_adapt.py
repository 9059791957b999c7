"""The adaptation experiment: Cantisani et al. (2021), Table 1, on our data.

For every test track (the real MUSDB18 clip in ``../shared/data/musdb18-7`` and the first N
synthetic test tracks):

1. build the silence-quarters item (Sec. 4: each source silenced in one random quarter, STFT
   domain) with ``separate.activations.from_stems.silence_quarters`` — stems, mixture,
   activations from the envelope method (Eq. 2);
2. separate its mixture with the model as is (**B0**), and after adaptation from each stage
   start ``Lx`` to ``D`` with the reconstruction-only loss (**B-Lx:D**) and with Eq. 1
   (**P-Lx:D**) — a fresh copy of the model for every configuration;
3. gate every model's outputs with the activations (Sec. 5: "the binary activations were applied
   to the outputs of all models including the baselines");
4. score with BSS-Eval v4 (1 s windows) on *active frames only*: a source is active in a window
   when the marks say so for at least half of the window's frames and its reference's energy
   there is above -60 dB of its median window energy; consecutive windows with the same set of
   active sources are scored together with only those sources, so the silenced quarter of a
   source never enters its scores and does not void the other sources' windows;
5. print a Table-1-like table: median over tracks of the per-track median over active windows of
   SDR / SIR / SAR / ISR per stem, and the number of trained parameters (#TP).

Usage (``nice -n 19``; the defaults are the paper's)::

    .venv/bin/python benchmarks/experiment_adapt.py -m default --synth ../corpus/test --tracks 5 \
        --stages L1,L2,L3,L4,L5,L6,M --markdown docs/adapt-experiment.md

``--quick`` runs a short smoke version (2 epochs, stages L5 and M, at most one synthetic track).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from separate.activations.formats import frames_to_samples, load_activations, num_frames_for  # noqa: E402
from separate.activations.from_stems import read_stems, silence_quarters  # noqa: E402
from separate.adapt.loop import AdaptConfig, adapt_model  # noqa: E402
from separate.adapt.run import separate_mixture, to_model_format  # noqa: E402
from separate.audio.io import read_audio  # noqa: E402
from separate.evaluation.activity import pool_activity  # noqa: E402
from separate.evaluation.fast_bsseval import bss_eval  # noqa: E402
from separate.registry import load_model  # noqa: E402

REAL_CLIP = REPO.parent / "shared" / "data" / "musdb18-7" / "Music Delta - 80s Rock"
METRICS = ("SDR", "SIR", "SAR", "ISR")
SILENT_DB = -60.0


def active_windows(refs: np.ndarray, win: int) -> np.ndarray:
    """``bool [sources, windows]``: the reference is non-silent in the 1 s window (see doc)."""
    nwin = refs.shape[-1] // win
    if nwin == 0:
        return np.zeros((refs.shape[0], 0), dtype=bool)
    e = (refs[..., : nwin * win] ** 2).reshape(refs.shape[0], refs.shape[1], nwin, win)
    energy = e.sum(axis=(1, 3))  # [S, W]
    out = np.zeros_like(energy, dtype=bool)
    for i in range(len(energy)):
        positive = energy[i][energy[i] > 0]
        if positive.size:
            out[i] = energy[i] > np.median(positive) * 10 ** (SILENT_DB / 10)
    return out


def score_active(
    refs: np.ndarray, ests: np.ndarray, sample_rate: int,
    h: np.ndarray | None = None, frame_rate: float | None = None,
) -> dict[str, np.ndarray]:
    """BSS-Eval v4 with 1 s windows on active frames only (module doc, step 4).

    Args:
        refs, ests: ``[sources, channels, time]``.
        h, frame_rate: the marks ``bool [sources, frames]``; when given, a window also needs the
            source marked active on at least half of its frames
            (``separate.evaluation.activity.pool_activity``, as ``separate eval --activations``).

    Returns:
        ``{metric: float [sources, windows]}`` with NaN where a source is silent (or where
        BSS-Eval is undefined, e.g. an estimate gated to all zeros).
    """
    win = int(sample_rate)
    act = active_windows(refs, win)
    nsrc, nwin = act.shape
    if h is not None and nwin:
        windows = [slice(t * win, (t + 1) * win) for t in range(nwin)]
        act &= pool_activity(np.asarray(h, dtype=bool), frame_rate, windows, sample_rate)
    out = {m: np.full((nsrc, nwin), np.nan) for m in METRICS}
    w = 0
    while w < nwin:
        v = w
        while v + 1 < nwin and np.array_equal(act[:, v + 1], act[:, w]):
            v += 1
        idx = np.flatnonzero(act[:, w])
        if idx.size:
            seg = slice(w * win, (v + 1) * win)
            r = refs[idx][..., seg].transpose(0, 2, 1)
            e = ests[idx][..., seg].transpose(0, 2, 1)
            try:
                sdr, isr, sir, sar, _ = bss_eval(r, e, window=win, hop=win)
            except ValueError:  # an estimate silent over the whole segment
                sdr = isr = sir = sar = None
            if sdr is not None:
                for name, val in zip(METRICS, (sdr, sir, sar, isr), strict=True):
                    out[name][idx, w : v + 1] = val[:, : v + 1 - w]
        w = v + 1
    return out


def run_config(
    base: torch.nn.Module, mix: np.ndarray, sr: int, h: torch.Tensor, frame_rate: float,
    cfg: AdaptConfig | None,
) -> tuple[dict[str, np.ndarray], int, float]:
    """Adapt a fresh copy (``cfg`` None = B0), separate, gate. Returns stems, #TP, seconds."""
    model = copy.deepcopy(base)
    tp, seconds = 0, 0.0
    if cfg is not None:
        x = to_model_format(mix, sr, model)
        hs = frames_to_samples(h, x.shape[-1], model.sample_rate, frame_rate)
        r = adapt_model(model, torch.from_numpy(x), hs, cfg)
        tp, seconds = r.trainable_parameters, r.seconds
    stems = separate_mixture(model.eval(), mix, sr)
    hm = frames_to_samples(h, mix.shape[-1], sr, frame_rate).numpy().astype(np.float32)
    gated = {n: s * hm[i][None] for i, (n, s) in enumerate(stems.items())}
    return gated, tp, seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--model", default="default")
    ap.add_argument("--synth", type=Path, help="folder of synthetic test tracks (stems folders)")
    ap.add_argument("--tracks", type=int, default=5, help="number of synthetic tracks")
    ap.add_argument("--no-real", action="store_true", help="skip the real MUSDB18 clip")
    ap.add_argument("--stages", default=None,
                    help="stage starts x of Lx:D (default L1,L2,L3,L4,L5,L6,M)")
    ap.add_argument("--end", default="D", help="last trained stage (D, M, ...)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--lam", type=float, default=1.0)
    ap.add_argument("--segment", type=float, default=4.0)
    ap.add_argument("--hop", type=float, default=None, help="segment hop (s); default segment")
    ap.add_argument("--optimizer", default="ranger")
    ap.add_argument("--max-seconds", type=float, default=None, help="crop tracks (s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write all per-track results here")
    ap.add_argument("--markdown", type=Path, help="write the table as markdown here")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2 epochs, stages L5,M unless given, at most 1 synth track")
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs, args.tracks = 2, min(args.tracks, 1)
        args.stages = args.stages or "L5,M"
    args.stages = args.stages or "L1,L2,L3,L4,L5,L6,M"
    torch.set_num_threads(args.threads)

    base = load_model(args.model)
    sources = list(base.sources)
    tracks: list[Path] = []
    if not args.no_real:
        if REAL_CLIP.is_dir():
            tracks.append(REAL_CLIP)
        else:
            print(f"note: {REAL_CLIP} absent, real clip skipped", file=sys.stderr)
    if args.synth is not None and args.tracks > 0:
        tracks += sorted(p for p in args.synth.iterdir() if p.is_dir())[: args.tracks]
    if not tracks:
        ap.error("no tracks (the real clip is absent and no --synth folder given)")

    configs: list[tuple[str, AdaptConfig | None]] = [("B0", None)]
    for x in [s.strip() for s in args.stages.split(",") if s.strip()]:
        for tag, loss in (("B", "reconstruction"), ("P", "activations")):
            configs.append((f"{tag}-{x}:{args.end}", AdaptConfig(
                layers=f"{x}:{args.end}", epochs=args.epochs, lr=args.lr, lam=args.lam,
                segment=args.segment, hop=args.hop, optimizer=args.optimizer, loss=loss,
                seed=args.seed,
            )))

    results: dict[str, dict] = {name: {"tp": 0, "tracks": {}} for name, _ in configs}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="adapt-exp-") as tmp:
        for k, track in enumerate(tracks):
            item = Path(tmp) / f"item{k}"
            src_dir = track
            if args.max_seconds:
                src_dir = crop_stems(track, Path(tmp) / f"crop{k}", args.max_seconds)
            silence_quarters(src_dir, item, seed=args.seed + k, plot=False)
            stems = read_stems(item)
            if sorted(stems.names) != sorted(sources):
                print(f"skip {track.name}: stems {stems.names} ≠ model sources {sources}",
                      file=sys.stderr)
                continue
            mix, sr = read_audio(item / "mixture.wav")
            frame_rate = sr / 512
            h = load_activations(item / "activations.csv", sources,
                                 num_frames_for(mix.shape[-1], sr, frame_rate), frame_rate,
                                 duration=mix.shape[-1] / sr)
            refs = np.stack([stems.audio[stems.names.index(s)] for s in sources])
            for name, cfg in configs:
                ests, tp, secs = run_config(base, mix, sr, h, frame_rate, cfg)
                est = np.stack([ests[s] for s in sources])
                scores = score_active(refs, est, sr, h.numpy(), frame_rate)
                med = {m: [float(np.nanmedian(scores[m][i])) if np.isfinite(scores[m][i]).any()
                           else float("nan") for i in range(len(sources))] for m in METRICS}
                results[name]["tp"] = tp
                results[name]["tracks"][track.name] = {"median": med, "seconds": secs}
                sdr = ", ".join(f"{s} {v:.2f}" for s, v in zip(sources, med["SDR"], strict=True))
                print(f"[{time.perf_counter() - t_start:7.1f} s] {track.name} {name}: SDR {sdr}"
                      f" (adapt {secs:.1f} s)", file=sys.stderr, flush=True)

    table = render_table(results, sources, configs)
    print(table)
    header = (f"model `{args.model}`, {len(tracks)} track(s), epochs {args.epochs}, lr {args.lr},"
              f" λ {args.lam}, segment {args.segment} s, hop {args.hop or args.segment} s,"
              f" {args.optimizer}, seed {args.seed}")
    print(header)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(f"{header}\n\n{table}\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


def crop_stems(track: Path, out: Path, seconds: float) -> Path:
    """Copy the first ``seconds`` of every stem of ``track`` to ``out`` (float WAV)."""
    from separate.audio.io import write_audio

    stems = read_stems(track)
    n = int(seconds * stems.sample_rate)
    for name, audio in zip(stems.names, stems.audio, strict=True):
        write_audio(out / f"{name}.wav", audio[:, :n], stems.sample_rate)
    return out


def render_table(results: dict, sources: list[str], configs: list) -> str:
    """Markdown table: rows = configurations, columns = #TP and metric per stem (medians)."""
    cols = ["config", "#TP"] + [f"{s} {m}" for s in sources for m in METRICS] + ["mean SDR"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, _ in configs:
        r = results[name]
        per_track = list(r["tracks"].values())
        if not per_track:
            continue
        cells = [name, f"{r['tp'] / 1e6:.3f}M" if r["tp"] else "-"]
        sdrs = []
        for i, _s in enumerate(sources):
            for m in METRICS:
                v = float(np.nanmedian([t["median"][m][i] for t in per_track]))
                cells.append(f"{v:.2f}")
                if m == "SDR":
                    sdrs.append(v)
        cells.append(f"{np.nanmean(sdrs):.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
