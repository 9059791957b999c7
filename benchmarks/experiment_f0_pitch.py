"""Experiment (issue 8, parts 1 and 3): pitch accuracy of `separate f0 track` and `f0 melody`.

Four measurements, none on training data:

1. **Monophonic melody** (``mir_eval.melody``: raw pitch accuracy RPA and overall accuracy OA,
   50 cents): `f0 track --method pyin` and `--method salience` (one voice) on vocadito (33 s
   solo voice, manual F0) and on the Dagstuhl ChoirSet fixture (1 s per singer and microphone,
   manual F0 on the larynx-microphone track, which the fixture annotates on 5 frames only) in
   ``../shared/data/mirdata-fixtures``. The estimate is interpolated at the reference's frame
   times (``mir_eval.melody.to_cent_voicing`` with ``hop=None``).
2. **Multi-F0** (``mir_eval.multipitch``: accuracy, precision, recall, 50 cents) of
   `f0 track --method salience` vs `--method hsum` with ``--voices N`` on the *test* splits of
   the synthetic ensembles and choirs (exact F0; the salience network saw train/valid only).
3. **Vocal melody of a song**: `f0 melody` (the `default` model's vocals, then pYIN) on the
   MUSDB18 80s Rock clip in ``../shared/data/musdb18-7``, against pYIN on the isolated vocals as
   the reference (the clip has no F0 annotation); compared with pYIN and the salience network
   run directly on the mixture.

Prints markdown tables and writes them, with the commands, to ``--out`` (plus ``.json``).

Example::

    nice -n 19 .venv/bin/python benchmarks/experiment_f0_pitch.py --max-tracks 4 --seconds 20 \
        --out docs/f0-pitch.md --plot docs/f0-pitch-salience.png
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from separate.f0.io import read_mono
from separate.f0.track import read_f0_csv, track_f0

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
FIX = SHARED / "mirdata-fixtures"
ROCK = SHARED / "musdb18-7" / "Music Delta - 80s Rock"
SYNTH = [Path("/work/data/synth-ensemble/test"), Path("/work/data/synth-choir/test")]


def melody_scores(ref_t, ref_f, est_t, est_f) -> dict[str, float]:
    """RPA / RCA / OA / voicing recall and false alarm (``mir_eval.melody``) at the reference
    frame times; 0 Hz = unvoiced on both sides."""
    import mir_eval

    est_f = np.asarray(est_f, dtype=float)
    rv, rc, ev, ec = mir_eval.melody.to_cent_voicing(
        np.asarray(ref_t, float), np.asarray(ref_f, float), np.asarray(est_t, float), est_f,
        hop=None,
    )
    vr, vfa = mir_eval.melody.voicing_measures(rv, ev)
    return {
        "rpa": float(mir_eval.melody.raw_pitch_accuracy(rv, rc, ev, ec)),
        "rca": float(mir_eval.melody.raw_chroma_accuracy(rv, rc, ev, ec)),
        "oa": float(mir_eval.melody.overall_accuracy(rv, rc, ev, ec)),
        "voicing_recall": float(vr),
        "voicing_false_alarm": float(vfa),
        "ref_voiced_frames": int((rv > 0).sum()),
        "frames": len(rv),
    }


def _timed(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` and the process CPU seconds it took."""
    t0 = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - t0


def monophonic(methods: list[str], model) -> list[dict]:
    rows = []
    items = []
    voc = FIX / "vocadito"
    if voc.exists():
        ref = np.loadtxt(voc / "Annotations" / "F0" / "vocadito_1_f0.csv", delimiter=",")
        items.append(("vocadito_1", voc / "Audio" / "vocadito_1.wav", ref))
    dcs = FIX / "dagstuhl_choirset"
    if dcs.exists():
        for ann in sorted((dcs / "annotations_csv_F0_manual").glob("*.csv")):
            ref = np.atleast_2d(np.loadtxt(ann, delimiter=","))
            singer = ann.stem.split("_")[-2]  # S1, A2, T2, B2
            for mic in ("LRX", "DYN", "HSM"):
                wav = dcs / "audio_wav_22050_mono" / f"DCS_LI_QuartetB_Take04_{singer}_{mic}.wav"
                if wav.exists():
                    items.append((f"Dagstuhl {singer} {mic}", wav, ref))
    for name, wav, ref in items:
        audio, sr = read_mono(wav)
        for m in methods:
            tr, cpu = _timed(track_f0, audio, sr, 1, m,
                             model=model if m == "salience" else None)
            s = melody_scores(ref[:, 0], ref[:, 1], tr.times, tr.f0[0])
            rows.append({"item": name, "method": m, "cpu_s": round(cpu, 1), **s})
            print(f"  {name:24s} {m:9s} RPA {s['rpa']:.3f} OA {s['oa']:.3f} "
                  f"({s['ref_voiced_frames']} voiced ref frames)", flush=True)
    return rows


def _f0_rows(track_dir: Path, times: np.ndarray) -> list[np.ndarray]:
    names = json.loads((track_dir / "stems.json").read_text())["f0"]
    f0 = np.stack([read_f0_csv(track_dir / "f0" / f"{v}.csv").at(times)[0] for v in names])
    return [col[col > 0] for col in f0.T]


def multipitch(dirs: list[Path], methods: list[str], model, max_tracks: int, seconds: float,
               plot: Path | None) -> list[dict]:
    import mir_eval

    rows = []
    plotted = False
    for d in dirs:
        if not d.exists():
            print(f"  (skipped: {d} not found)", flush=True)
            continue
        tracks = sorted(p.parent for p in d.glob("*/stems.json"))[:max_tracks]
        for tdir in tracks:
            mix, sr = read_mono(tdir / "mixture.wav")
            mix = mix[: int(seconds * sr)]
            n_voices = len(json.loads((tdir / "stems.json").read_text())["f0"])
            ref_t = np.arange(0, len(mix) / sr, 0.01)
            ref = _f0_rows(tdir, ref_t)
            for m in methods:
                tr, cpu = _timed(track_f0, mix, sr, n_voices, m,
                                 model=model if m == "salience" else None)
                est = [col[col > 0] for col in tr.f0.T]
                s = mir_eval.multipitch.evaluate(ref_t, ref, tr.times, est)
                row = {"split": f"{d.parent.name}/{d.name}", "track": tdir.name, "voices": n_voices,
                       "method": m, "cpu_s": round(cpu, 1), "seconds": round(len(mix) / sr, 1),
                       "accuracy": float(s["Accuracy"]), "precision": float(s["Precision"]),
                       "recall": float(s["Recall"]), "chroma_accuracy": float(s["Chroma Accuracy"])}
                rows.append(row)
                print(f"  {tdir.name:18s} N={n_voices} {m:9s} acc {row['accuracy']:.3f} "
                      f"P {row['precision']:.3f} R {row['recall']:.3f} cpu {cpu:.0f}s", flush=True)
                if plot is not None and m == "salience" and not plotted:
                    _plot(plot, tr, ref_t, ref, tdir.name)
                    plotted = True
    return rows


CSD = SHARED / "csd-nino-dios" / "audio_16kHz"
CSD_SETS = {
    "J=4 set 1": ["nino_Soprano_105", "nino_ContraAlt_107", "nino_tenor1-06-2", "nino_Bajos_104"],
    "J=4 set 2": ["nino_Soprano_205", "nino_ContraAlt_207", "nino_tenor2-06-2", "nino_Bajos_204"],
    "J=2 set 1": ["nino_Soprano_105", "nino_ContraAlt_107"],
    "J=2 set 2": ["nino_Soprano_205", "nino_ContraAlt_207"],
}


def csd_multipitch(methods: list[str], model, start: float, seconds: float) -> list[dict]:
    """Multi-F0 on real choir mixtures: CSD singers summed (one per part), reference = pYIN on
    each isolated singer (the same 'oracle' as benchmarks/experiment_f0.py)."""
    import mir_eval

    from separate.f0.track import pyin_track

    if not CSD.exists():
        print(f"  (skipped: {CSD} not found)", flush=True)
        return []
    rows = []
    for name, singers in CSD_SETS.items():
        voices = []
        for n in singers:
            a, sr = read_mono(CSD / f"{n}.flac")
            voices.append(a[int(start * sr) : int((start + seconds) * sr)])
        mix = np.sum(voices, axis=0)
        refs = [pyin_track(v, sr) for v in voices]
        ref_t = refs[0].times
        ref = [col[col > 0] for col in np.stack([r.at(ref_t)[0] for r in refs]).T]
        for m in methods:
            tr, cpu = _timed(track_f0, mix, sr, len(singers), m,
                             model=model if m == "salience" else None)
            est = [col[col > 0] for col in tr.f0.T]
            sc = mir_eval.multipitch.evaluate(ref_t, ref, tr.times, est)
            row = {"split": "csd-nino-dios", "track": name, "voices": len(singers), "method": m,
                   "cpu_s": round(cpu, 1), "seconds": seconds,
                   "accuracy": float(sc["Accuracy"]), "precision": float(sc["Precision"]),
                   "recall": float(sc["Recall"]), "chroma_accuracy": float(sc["Chroma Accuracy"])}
            rows.append(row)
            print(f"  CSD {name:10s} {m:9s} acc {row['accuracy']:.3f} P {row['precision']:.3f} "
                  f"R {row['recall']:.3f}", flush=True)
    return rows


def tune_threshold(dirs: list[Path], model, thresholds: list[float], max_tracks: int,
                   seconds: float) -> list[dict]:
    """Multi-F0 accuracy of the salience tracker per voicing threshold on *valid* splits (one
    salience map per track, peaks re-picked per threshold)."""
    import mir_eval

    from separate.f0.assign import assign_voices
    from separate.f0.salience import pick_peaks, salience_map

    acc: dict[float, list[float]] = {t: [] for t in thresholds}
    for d in dirs:
        for tdir in sorted(p.parent for p in d.glob("*/stems.json"))[:max_tracks]:
            mix, sr = read_mono(tdir / "mixture.wav")
            mix = mix[: int(seconds * sr)]
            n = len(json.loads((tdir / "stems.json").read_text())["f0"])
            ref_t = np.arange(0, len(mix) / sr, 0.01)
            ref = _f0_rows(tdir, ref_t)
            times, sal = salience_map(mix, sr, model)
            for th in thresholds:
                f0 = assign_voices(pick_peaks(sal, th, max_peaks=n, fmin=65.0, fmax=1047.0), n)
                est = [col[col > 0] for col in f0.T]
                acc[th].append(float(mir_eval.multipitch.evaluate(ref_t, ref, times, est)
                                     ["Accuracy"]))
    rows = [{"threshold": th, "tracks": len(v), "mean_accuracy": float(np.mean(v))}
            for th, v in acc.items()]
    for r in rows:
        print(f"  threshold {r['threshold']:.2f}: mean accuracy {r['mean_accuracy']:.3f} "
              f"({r['tracks']} valid tracks)", flush=True)
    return rows


def _plot(path: Path, tr, ref_t, ref, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from separate.f0.salience import BINS_PER_OCTAVE, bin_frequencies

    keep = tr.times <= 10.0
    f = bin_frequencies()
    edges = f[0] * 2.0 ** ((np.arange(len(f) + 1) - 0.5) / BINS_PER_OCTAVE)
    t = tr.times[keep]
    dt = t[1] - t[0]
    fig, ax = plt.subplots(figsize=(11, 4.2))
    mesh = ax.pcolormesh(np.concatenate([t - dt / 2, [t[-1] + dt / 2]]), edges,
                         tr.salience[:, keep], shading="flat", cmap="magma", vmin=0, vmax=1)
    fig.colorbar(mesh, ax=ax, label="salience", pad=0.01)
    rk = ref_t <= 10.0
    for i, (ti, vals) in enumerate(zip(ref_t[rk], ref, strict=False)):
        ax.plot([ti] * len(vals), vals, "c.", ms=1.5, label="reference F0" if i == 0 else None)
    for j in range(tr.voices):
        y = np.where(tr.f0[j][keep] > 0, tr.f0[j][keep], np.nan)
        ax.plot(t, y, lw=0.9, label=f"f0_{j + 1}")
    ax.set_yscale("log")
    ax.set_ylim(60, 1100)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("Hz")
    ax.set_title(f"f0 track --method salience on synthetic test track {name} (first 10 s)")
    ax.legend(loc="upper right", fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


SONG_METHODS = ("melody", "melody-salience", "melody-vocals", "melody-vocals-salience",
                "pyin-mix", "salience-mix", "salience-vocals")


def song_melody(model, methods: list[str]) -> list[dict]:
    from separate.f0.melody import track_melody_file
    from separate.f0.track import pyin_track

    if not ROCK.exists():
        print(f"  (skipped: {ROCK} not found)", flush=True)
        return []
    voc, sr = read_mono(ROCK / "vocals.flac")
    ref = pyin_track(voc, sr)
    mix, _ = read_mono(ROCK / "mixture.flac")
    runs = {
        "melody": ("f0 melody (default vocals -> pYIN)", lambda: track_melody_file(
            ROCK / "mixture.flac", model="default").track),
        "melody-salience": ("f0 melody --method salience (default vocals -> salience)",
                            lambda: track_melody_file(ROCK / "mixture.flac", model="default",
                                                      method="salience").track),
        "melody-vocals": ("f0 melody -m vocals (2-stem model's vocals -> pYIN)",
                          lambda: track_melody_file(ROCK / "mixture.flac", model="vocals").track),
        "melody-vocals-salience": ("f0 melody -m vocals --method salience",
                                   lambda: track_melody_file(ROCK / "mixture.flac", model="vocals",
                                                             method="salience").track),
        "pyin-mix": ("pYIN on the mixture", lambda: pyin_track(mix, sr)),
        "salience-mix": ("salience on the mixture (1 voice)",
                         lambda: track_f0(mix, sr, 1, "salience", model=model)),
        "salience-vocals": ("salience on the isolated vocals (1 voice)",
                            lambda: track_f0(voc, sr, 1, "salience", model=model)),
    }
    rows = []
    for key in methods:
        name, fn = runs[key]
        tr, cpu = _timed(fn)
        s = melody_scores(ref.times, ref.f0[0], tr.times, tr.f0[0])
        rows.append({"method": name, "cpu_s": round(cpu, 1), **s})
        print(f"  {name:58s} RPA {s['rpa']:.3f} OA {s['oa']:.3f}", flush=True)
    return rows


def _mono_table(rows: list[dict]) -> str:
    lines = ["| item | method | RPA | RCA | OA | voicing recall | voicing false alarm | "
             "voiced ref frames | CPU (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['item']} | {r['method']} | {r['rpa']:.3f} | {r['rca']:.3f} | "
                     f"{r['oa']:.3f} | {r['voicing_recall']:.3f} | "
                     f"{r['voicing_false_alarm']:.3f} | {r['ref_voiced_frames']} | {r['cpu_s']} |")
    return "\n".join(lines)


def _multi_tables(rows: list[dict]) -> str:
    lines = ["| track | N | method | accuracy | precision | recall | chroma acc. | CPU (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['split']}/{r['track']} | {r['voices']} | {r['method']} | "
                     f"{r['accuracy']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['chroma_accuracy']:.3f} | {r['cpu_s']} |")
    summary = ["| split | method | tracks | mean accuracy | mean precision | mean recall |",
               "|---|---|---|---|---|---|"]
    for split in dict.fromkeys(r["split"] for r in rows):
        for m in dict.fromkeys(r["method"] for r in rows):
            sel = [r for r in rows if r["split"] == split and r["method"] == m]
            if sel:
                summary.append(
                    f"| {split} | {m} | {len(sel)} | "
                    f"{np.mean([r['accuracy'] for r in sel]):.3f} | "
                    f"{np.mean([r['precision'] for r in sel]):.3f} | "
                    f"{np.mean([r['recall'] for r in sel]):.3f} |")
    return "\n".join(summary) + "\n\nPer track:\n\n" + "\n".join(lines)


def _song_table(rows: list[dict]) -> str:
    lines = ["| method | RPA | RCA | OA | voicing recall | voicing false alarm | CPU (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['rpa']:.3f} | {r['rca']:.3f} | {r['oa']:.3f} | "
                     f"{r['voicing_recall']:.3f} | {r['voicing_false_alarm']:.3f} | "
                     f"{r['cpu_s']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="mono,multi,song",
                    help="which measurements to run: mono, multi, song, csd (real choir "
                    "mixtures), tune (threshold sweep on --valid)")
    ap.add_argument("--csd-start", type=float, default=30.0, help="CSD excerpt start (s)")
    ap.add_argument("--csd-seconds", type=float, default=20.0, help="CSD excerpt length (s)")
    ap.add_argument("--valid", type=Path, nargs="*",
                    default=[p.parent / "valid" for p in SYNTH],
                    help="valid-split folders for --parts tune")
    ap.add_argument("--thresholds", default="0.1,0.2,0.3,0.4,0.5")
    ap.add_argument("--mono-methods", default="pyin,salience")
    ap.add_argument("--multi-methods", default="salience,hsum")
    ap.add_argument("--song-methods", default=",".join(SONG_METHODS))
    ap.add_argument("--synthetic", type=Path, nargs="*", default=SYNTH,
                    help="test-split folders of separate synth (never train/valid)")
    ap.add_argument("--max-tracks", type=int, default=4, help="tracks per synthetic folder")
    ap.add_argument("--seconds", type=float, default=20.0, help="first seconds of each track")
    ap.add_argument("--model", default=None, help="salience card (default: f0-salience)")
    ap.add_argument("--out", type=Path, default=None, help="markdown report (+ .json beside)")
    ap.add_argument("--plot", type=Path, default=None, help="PNG of one salience map")
    a = ap.parse_args(argv)
    for d in a.synthetic:
        if d.name in ("train", "valid"):
            ap.error(f"{d}: the salience network was trained/validated on this split")
    from separate.f0.salience import load_salience_model

    parts = a.parts.split(",")
    wanted = f"{a.mono_methods},{a.multi_methods},{a.song_methods},{a.parts}"
    model = load_salience_model(a.model) if "salience" in wanted or "tune" in parts else None
    res: dict = {"command": "python " + " ".join(shlex.quote(x) for x in sys.argv),
                 "model": str(getattr(getattr(model, "card", None), "path", ""))}
    if "tune" in parts:
        print("salience threshold on the valid splits (mir_eval.multipitch accuracy):", flush=True)
        res["tune"] = tune_threshold(a.valid, model, [float(t) for t in a.thresholds.split(",")],
                                     a.max_tracks, a.seconds)
    if "mono" in parts:
        print("monophonic melody (mir_eval.melody):", flush=True)
        res["mono"] = monophonic(a.mono_methods.split(","), model)
    if "multi" in parts:
        print("multi-F0 (mir_eval.multipitch):", flush=True)
        res["multi"] = multipitch(a.synthetic, a.multi_methods.split(","), model, a.max_tracks,
                                  a.seconds, a.plot)
    if "csd" in parts:
        print("multi-F0 on CSD choir mixtures (reference: pYIN per singer):", flush=True)
        res["csd"] = csd_multipitch(a.multi_methods.split(","), model, a.csd_start,
                                    a.csd_seconds)
    if "song" in parts:
        print("vocal melody of a song:", flush=True)
        res["song"] = song_melody(model, a.song_methods.split(","))
    md = []
    if "tune" in res:
        md += ["### Salience voicing threshold (valid splits, multi-F0 accuracy)", "",
               "| threshold | valid tracks | mean accuracy |", "|---|---|---|",
               *[f"| {r['threshold']:.2f} | {r['tracks']} | {r['mean_accuracy']:.3f} |"
                 for r in res["tune"]], ""]
    if "mono" in res:
        md += ["### Monophonic melody: vocadito and Dagstuhl ChoirSet fixtures", "",
               _mono_table(res["mono"]), ""]
    if "multi" in res:
        md += [f"### Multi-F0 on the synthetic test splits (first {a.seconds:g} s of "
               f"{a.max_tracks} tracks per split)", "", _multi_tables(res["multi"]), ""]
    if res.get("csd"):
        md += [f"### Multi-F0 on CSD choir mixtures ({a.csd_start:g}-"
               f"{a.csd_start + a.csd_seconds:g} s; reference: pYIN on each singer)", "",
               _multi_tables(res["csd"]), ""]
    if "song" in res:
        md += ["### Vocal melody of MUSDB18 '80s Rock' (7 s; reference: pYIN on the isolated "
               "vocals)", "", _song_table(res["song"]), ""]
    text = "\n".join(md)
    print(text)
    if a.out is not None:
        a.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
        a.out.write_text(text)


if __name__ == "__main__":
    main()
