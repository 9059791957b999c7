"""Experiment: few-shot separation vs the class-conditioned baseline (Wang et al. 2022, Tables 1-3).

Synthetic test split (``separate synth OUT --kind ensemble``; every voice of every test track is a
target in turn, the mixture is the target plus the track's voices of *other* classes — one stem
per class, as the paper's MedleyDB sub-mixes):

* Table 1 / Table 2 — seen / unseen classes (unseen = classes absent from the train split, e.g.
  the corpus' test-only classes, or those a model was trained with ``--held-out``): mean SDR of
  the class-conditioned baseline and of the few-shot model with n = 1..5 examples, each drawn 10
  times (mean ± std of the per-draw means, as the paper); the mixture-as-estimate row is the
  floor.
* Table 3 — 5-shot with relaxed example constraints: same track (basic), examples from other test
  tracks of the same class, multi-source examples (each example mixed with one other instrument
  of its track with probability 0.5; basic model and, if given, the MS model), and the +Neg model
  with 5 negative examples (chunks of random non-target instruments of the mixture). A control
  row conditions on 5 examples of *other* classes: if it scores like the 5-shot row, the model
  ignores its conditioning.

Examples are 3 s chunks of the target's own stem where it plays (Sec. 3.3: drawn from the whole
track, which is also evaluated — the paper's protocol). SDR is BSS-Eval v4 (1 s windows, median
over the windows where the target plays; ``separate.evaluation``'s vectorised BSS-Eval, which
matches museval) of the target at 22.05 kHz mono.

Real data (development figures, ``../shared/data``):

* ``medleydb-jazz``: target = the melody instrument; 3 s examples from the first half of its
  isolated track, separation evaluated on the second half of the mixture; compared with the
  mixture as estimate.
* ``bach10-ass``: every source of every mixture as target, examples (up to 3 s) from the first
  half of its isolated track, evaluation on the second half. The tracks are 4.7 s long, so an
  example is the whole 2.3 s first half and n-shot repeats the same example.

Both real sets also get a control row: 5 examples of the *rest* of the mixture (mixture − target)
in place of the target's; a model that uses its conditioning scores lower there.

Usage::

    python benchmarks/experiment_fewshot.py --corpus CORPUS --model fewshot \\
        --baseline fewshot-class --neg-model fewshot-neg [--ms-model fewshot-ms] \\
        [--draws 10] [--shots 1,2,3,4,5] [--max-tracks N] [--seconds S] [--out docs/...md]
    python benchmarks/experiment_fewshot.py --tiny   # smoke run: toy corpus, models trained for
                                                     # a few steps; numbers are meaningless

Parallel runs: ``--shard K/N`` evaluates test items K, K+N, ... (``--real ''`` to leave out the
real sets, run them once separately); ``--json`` keeps per-item raw results and ``--merge A.json
B.json ...`` renders the tables of their union. ``--baseline-extra LABEL=MODEL`` adds another
baseline row. The measured tables are in docs/fewshot-results.md.

Models are registry names or card paths; a table row is skipped when its model is not given.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from separate.fewshot.api import fewshot_array, load_fewshot_model
from separate.fewshot.data import Track, activity, load_split

SR = 22050
SEG = 3 * SR
HOP_GRID = SR // 4
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


# -- metric -------------------------------------------------------------------------------------


SILENT_DB = -40.0  # windows this far below the target's loudest window are not scored


def target_sdr(target: np.ndarray, est: np.ndarray, mix: np.ndarray, sr: int) -> float:
    """BSS-Eval v4 SDR (dB) of ``est`` for ``target`` (mono ``[T]``), median over 1 s windows.

    The v4 SDR of a source, ``|s|² / |ŝ − s|²`` with 512-tap distortion filters, depends on its
    own reference only, so the target is evaluated alone (the mixture-as-estimate baseline would
    otherwise have a silent residual estimate). Windows where the target is more than 40 dB
    below its loudest window are skipped (a near-silent reference makes SDR meaningless: e.g.
    medleydb-jazz FusionJazz's melody rests at −105 dBFS for 6 s). NaN if nothing is scored.
    """
    from separate.evaluation.activity import energy_activity
    from separate.evaluation.metrics import bss_eval, frame_slices

    del mix
    ref = target[None, None].astype(np.float64)
    es = est[None, None].astype(np.float64)
    try:
        sdr = bss_eval(ref, es, sr, sr, fast=True)["SDR"][0]
    except ValueError:  # a silent reference or estimate
        return float("nan")
    wins = frame_slices(len(target), sr, sr)
    energy = np.array([np.sum(ref[..., w] ** 2) for w in wins])
    active = energy_activity(ref, wins, threshold=energy.max() * 10 ** (SILENT_DB / 10))[0]
    vals = sdr[: len(active)][active[: len(sdr)]]
    vals = vals[np.isfinite(vals)]
    return float(np.median(vals)) if len(vals) else float("nan")


# -- example drawing ----------------------------------------------------------------------------


def active_starts(audio: np.ndarray, seg: int = SEG, lo: int = 0, hi: int | None = None):
    """Starts (samples, on a 0.25 s grid) of active ``seg``-long chunks inside ``[lo, hi)``."""
    hi = len(audio) if hi is None else hi
    part = audio[lo:hi]
    act = activity(part, HOP_GRID, seg)
    starts = lo + np.flatnonzero(act) * HOP_GRID
    if len(starts) == 0 and len(part) >= seg:
        starts = np.array([lo])
    return starts


def chunks(rng, audio, n, seg=SEG, lo=0, hi=None) -> list[np.ndarray]:
    starts = active_starts(audio, seg, lo, hi)
    if len(starts) == 0:
        return []
    return [audio[s : s + seg].copy() for s in rng.choice(starts, size=n, replace=True)]


@dataclass
class Item:
    """One synthetic evaluation item: voice ``vi`` of ``track`` as the target."""

    track: Track
    vi: int

    @property
    def cls(self) -> str:
        return self.track.voices[self.vi].cls

    @property
    def target(self) -> np.ndarray:
        return self.track.voices[self.vi].audio

    @property
    def others(self) -> list:
        """The other voices of the mixture: one stem per class (voices of the target's class are
        left out, as the paper's MedleyDB sub-mixes)."""
        return [v for j, v in enumerate(self.track.voices) if j != self.vi and v.cls != self.cls]

    @property
    def mix(self) -> np.ndarray:
        return (self.target + sum(v.audio for v in self.others)).astype(np.float32)


def examples_for(item: Item, items: list[Item], rng, n: int, mode: str) -> list[np.ndarray]:
    """``mode``: ``same`` (own stem), ``other`` (other tracks, same class), ``ms`` (own stem,
    each example mixed with one other instrument of the track with probability 0.5), ``wrong``
    (a control: chunks of instruments of other classes)."""
    if mode == "wrong":
        pool = [it for it in items if it.cls != item.cls]
        if not pool:
            return []
        return [c for i in rng.choice(len(pool), size=n) for c in chunks(rng, pool[i].target, 1)]
    if mode == "other":
        pool = [it for it in items if it.cls == item.cls and it.track.name != item.track.name]
        if not pool:
            return []
        picks = rng.choice(len(pool), size=n, replace=len(pool) < n)
        return [c for i in picks for c in chunks(rng, pool[i].target, 1)]
    tv = item.target
    starts = active_starts(tv)
    out = []
    for s in rng.choice(starts, size=n, replace=True):
        ex = tv[s : s + SEG].copy()
        others = item.others
        if mode == "ms" and others and rng.random() < 0.5:
            ex += others[rng.integers(len(others))].audio[s : s + SEG]
        out.append(ex)
    return out


def negatives_for(item: Item, rng, m: int) -> list[np.ndarray]:
    others = item.others
    if not others:
        return []
    return [c for _ in range(m) for c in chunks(rng, others[rng.integers(len(others))].audio, 1)]


def run_fewshot(model, item_mix, target, pos, neg=()) -> float:
    model.condition([torch.from_numpy(p) for p in pos], [torch.from_numpy(x) for x in neg])
    est = fewshot_array(model, item_mix, SR)
    return target_sdr(target, est, item_mix, SR)


# -- synthetic tables ---------------------------------------------------------------------------


def train_classes(corpus: Path, max_tracks: int | None) -> set[str]:
    """Classes of the train split's voices (read from ``stems.json`` only, no audio)."""
    from separate.fewshot.data import read_stems_json

    dirs = sorted(p.parent for p in (Path(corpus) / "train").glob("*/stems.json"))
    return {c for d in dirs[:max_tracks] for c in read_stems_json(d / "stems.json").values()}


def synthetic(args, models: dict) -> dict:
    """Every (sharded) test item through every row; returns per-item SDRs (see :func:`rows_of`)."""
    tracks = load_split(args.corpus, "test", max_tracks=args.max_tracks)
    if args.seconds:
        n = int(args.seconds * SR)
        for t in tracks:
            for v in t.voices:
                v.audio = v.audio[:n]
    items = [Item(t, i) for t in tracks for i, v in enumerate(t.voices)
             if len(active_starts(v.audio)) > 0]
    seen_train = train_classes(args.corpus, args.max_tracks)
    held = set()
    for m in models.values():
        card = getattr(m, "card", None)
        held |= set((card.training.get("held_out") or []) if card else [])
    unseen = {it.cls for it in items if it.cls not in seen_train or it.cls in held}
    rng = np.random.default_rng(args.seed + 1000 * args.shard[0])
    # row -> item id -> per-draw SDRs (a draw of None: row not run for that draw)
    res: dict[str, dict[str, list[float | None]]] = {}
    classes: dict[str, str] = {}

    def add(row, it, draw, value):
        iid = f"{it.track.name}/{it.track.voices[it.vi].name}"
        classes[iid] = it.cls
        d = res.setdefault(row, {}).setdefault(iid, [])
        while len(d) <= draw:
            d.append(None)
        d[draw] = value

    t0 = time.time()
    k0, nsh = args.shard
    mine = items[k0::nsh]  # examples of other tracks/classes still come from all items
    for k, it in enumerate(mine):
        mix, tgt = it.mix, it.target
        add("mixture", it, 0, target_sdr(tgt, mix, mix, SR))
        for key in [k for k in models if k.startswith("baseline")]:
            b = models[key]
            if it.cls in b.classes:
                b.condition(it.cls)
                add(key, it, 0, target_sdr(tgt, fewshot_array(b, mix, SR), mix, SR))
        for d in range(args.draws):
            if "fewshot" in models:
                for n in args.shots:
                    pos = examples_for(it, items, rng, n, "same")
                    add(f"{n}-shot", it, d, run_fewshot(models["fewshot"], mix, tgt, pos))
                pos = examples_for(it, items, rng, 5, "other")
                if pos:
                    add("5-shot, other track", it, d,
                        run_fewshot(models["fewshot"], mix, tgt, pos))
                pos = examples_for(it, items, rng, 5, "ms")
                add("5-shot, multi-source examples", it, d,
                    run_fewshot(models["fewshot"], mix, tgt, pos))
                pos = examples_for(it, items, rng, 5, "wrong")
                if pos:
                    add("control: 5 examples of other classes", it, d,
                        run_fewshot(models["fewshot"], mix, tgt, pos))
            if "ms" in models:
                pos = examples_for(it, items, rng, 5, "ms")
                add("5-shot MS model, multi-source examples", it, d,
                    run_fewshot(models["ms"], mix, tgt, pos))
            if "neg" in models and it.others:
                pos = examples_for(it, items, rng, 5, "same")
                neg = negatives_for(it, rng, 5)
                add("5-shot +Neg", it, d, run_fewshot(models["neg"], mix, tgt, pos, neg))
        print(f"  item {k + 1}/{len(mine)} ({it.track.name}/{it.cls}) "
              f"{time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return {"per_item": res, "classes": classes, "unseen": sorted(unseen),
            "tracks": len(tracks), "seconds": time.time() - t0}


def rows_of(syn: dict) -> dict[str, dict[str, list[list[float]]]]:
    """Per-item results → ``row -> class -> draws -> item SDRs`` (what the tables average)."""
    res: dict[str, dict[str, list[list[float]]]] = {}
    for row, per_item in syn["per_item"].items():
        for iid, vals in per_item.items():
            d = res.setdefault(row, {}).setdefault(syn["classes"][iid], [])
            for k, v in enumerate(vals):
                while len(d) <= k:
                    d.append([])
                if v is not None:
                    d[k].append(v)
    return res


def merge_runs(runs: list[dict]) -> dict:
    """Union of several raw JSON results (shards, or a +Neg run after the main one): per item
    and row the later run wins; real-data sets are taken whole from the last run holding them."""
    out: dict = {}
    for r in runs:
        for key, val in r.items():
            if key != "synthetic":
                out[key] = val
                continue
            syn = out.setdefault("synthetic", {"per_item": {}, "classes": {}, "unseen": [],
                                               "tracks": 0, "seconds": 0.0})
            for row, items in val["per_item"].items():
                syn["per_item"].setdefault(row, {}).update(items)
            syn["classes"].update(val["classes"])
            syn["unseen"] = sorted(set(syn["unseen"]) | set(val["unseen"]))
            syn["tracks"] = max(syn["tracks"], val["tracks"])
            syn["seconds"] += val["seconds"]
    return out


def cell(per_draw: list[list[float]]) -> tuple[float, float, int]:
    """mean over draws of the mean over items (NaN-skipping), std over draws, items per draw."""
    means = [np.nanmean(d) for d in per_draw if np.isfinite(d).any()]
    if not means:
        return float("nan"), float("nan"), 0
    return float(np.mean(means)), float(np.std(means)), len(per_draw[0])


def fmt(per_draw) -> str:
    m, s, _ = cell(per_draw)
    if not np.isfinite(m):
        return "–"
    return f"{m:.2f}" if len(per_draw) == 1 else f"{m:.2f} ± {s:.2f}"


def merge(res_row: dict, classes: list[str]) -> list[list[float]]:
    """All items of ``classes`` pooled, per draw."""
    draws = max((len(res_row.get(c, [])) for c in classes), default=0)
    return [[x for c in classes for x in (res_row.get(c, [[]] * draws)[d]
                                           if d < len(res_row.get(c, [])) else [])]
            for d in range(draws)]


def table(res: dict, rows: list[str], classes: list[str], title: str) -> str:
    if not classes:
        return f"### {title}\n\n(no test item of these classes)\n"
    head = "| method | " + " | ".join(classes) + " | all |"
    lines = [f"### {title}", "", head, "|" + "---|" * (len(classes) + 2)]
    for r in rows:
        if r not in res:
            continue
        cells = [fmt(res[r][c]) if c in res[r] else "–" for c in classes]
        lines.append(f"| {r} | " + " | ".join(cells) + f" | {fmt(merge(res[r], classes))} |")
    return "\n".join(lines) + "\n"


# -- real data ----------------------------------------------------------------------------------


def _read_mono(path: Path) -> np.ndarray:
    from separate.fewshot.examples import read_audio_any, to_model_rate

    audio, sr = read_audio_any(path)
    return to_model_rate(audio, sr, SR)


def real_pairs(name: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``[(item name, target, mixture)]`` at 22.05 kHz mono."""
    out = []
    if name == "medleydb-jazz":
        for d in sorted((DATA / name).iterdir()):
            t = _read_mono(next(d.glob("*_target.flac")))
            a = _read_mono(next(d.glob("*_accomp.flac")))
            n = min(len(t), len(a))
            out.append((d.name, t[:n], (t[:n] + a[:n]).astype(np.float32)))
    elif name == "bach10-ass":
        for g in sorted((DATA / name / "Mixtures").iterdir()):
            for mf in sorted(g.glob("*.flac")):
                mix = _read_mono(mf)
                for sf_ in sorted((DATA / name / "Originals" / g.name).glob(f"{mf.stem}_S*.flac")):
                    s = _read_mono(sf_)
                    n = min(len(s), len(mix))
                    out.append((f"{g.name}/{sf_.stem}", s[:n], mix[:n]))
    return out


def real(args, model, name: str) -> dict:
    pairs = real_pairs(name)
    rng = np.random.default_rng(args.seed)
    rows: dict[str, list[list[float]]] = {"mixture": [[]]}
    per_item: dict[str, dict[str, float]] = {}
    for item, tgt, mix in pairs:
        half = len(mix) // 2
        m2, t2 = mix[half:], tgt[half:]
        sdr_mix = target_sdr(t2, m2, m2, SR)
        rows["mixture"][0].append(sdr_mix)
        per_item[item] = {"mixture": sdr_mix}
        seg = min(SEG, half)
        for n in args.shots:
            key = f"{n}-shot"
            rows.setdefault(key, [[] for _ in range(args.draws)])
            vals = []
            for d in range(args.draws):
                pos = chunks(rng, tgt, n, seg=seg, lo=0, hi=half)
                v = run_fewshot(model, m2, t2, pos) if pos else float("nan")
                rows[key][d].append(v)
                vals.append(v)
            per_item[item][key] = float(np.nanmean(vals))
        # control: examples of the rest of the mixture (mixture − target) instead of the target
        key = "control: 5 examples of the rest"
        rows.setdefault(key, [[] for _ in range(args.draws)])
        vals = []
        for d in range(args.draws):
            pos = chunks(rng, mix - tgt, 5, seg=seg, lo=0, hi=half)
            v = run_fewshot(model, m2, t2, pos) if pos else float("nan")
            rows[key][d].append(v)
            vals.append(v)
        per_item[item]["control"] = float(np.nanmean(vals))
    return {"rows": rows, "items": per_item}


def real_table(res: dict, title: str) -> str:
    lines = [f"### {title}", "", "| method | mean SDR (dB) | items |", "|---|---|---|"]
    for r, d in res["rows"].items():
        lines.append(f"| {r} | {fmt(d)} | {len(d[0])} |")
    lines += ["", "| item | " + " | ".join(next(iter(res["items"].values()))) + " |",
              "|---|" + "---|" * len(next(iter(res["items"].values())))]
    for item, v in res["items"].items():
        lines.append(f"| {item} | " + " | ".join(f"{x:.2f}" for x in v.values()) + " |")
    return "\n".join(lines) + "\n"


# -- tiny smoke setup ---------------------------------------------------------------------------


def tiny_setup(args) -> None:
    """Toy corpus (with a class absent from train) and three small models trained a few steps."""
    from separate.fewshot.toy import make_toy_corpus
    from separate.fewshot.train import TrainConfig, train

    root = Path(tempfile.mkdtemp(prefix="fewshot-tiny-"))
    make_toy_corpus(root / "corpus", tracks=(6, 2, 0), seconds=8.0,
                    classes=["strings", "mallets", "bass", "drums", "piano"], seed=0)
    make_toy_corpus(root / "test", tracks=(0, 0, 3), seconds=8.0, seed=1)  # + woodwinds
    (root / "test" / "test").rename(root / "corpus" / "test")
    small = dict(channels=[4, 8, 16, 16, 16, 16], filters=8, n_mels=32, steps=args.tiny_steps,
                 batch_size=4, valid_every=args.tiny_steps, valid_batches=1, max_shots=5)
    for key, kw in {"fewshot": {}, "neg": {"negatives": 5}, "baseline": {"kind": "class"}}.items():
        out = root / f"{key}.safetensors"
        train(TrainConfig(corpus=str(root / "corpus"), out=str(out), **kw, **small))
        setattr(args, {"fewshot": "model", "neg": "neg_model", "baseline": "baseline"}[key],
                str(out.with_suffix(".toml")))
    args.corpus = root / "corpus"


def render(raw: dict, header: list[str]) -> str:
    """The markdown tables of a (merged) raw result."""
    out = list(header)
    if "synthetic" in raw:
        syn = raw["synthetic"]
        res = rows_of(syn)
        classes = sorted({c for r in res.values() for c in r})
        seen = [c for c in classes if c not in syn["unseen"]]
        unseen = [c for c in classes if c in syn["unseen"]]
        shots = sorted((r for r in res if r.endswith("-shot") and r[:-5].isdigit()),
                       key=lambda r: int(r[:-5]))
        rows1 = ["mixture", *sorted(r for r in res if r.startswith("baseline")), *shots]
        draws = max((len(v) for r in syn["per_item"].values() for v in r.values()), default=0)
        out += [f"Synthetic test split: {syn['tracks']} tracks, {len(syn['classes'])} target "
                f"voices ({len(seen)} seen, {len(unseen)} unseen classes), up to {draws} draws "
                f"of examples ({syn['seconds']:.0f} s of wall time).", ""]
        out.append(table(res, rows1, seen, "Table 1: seen classes, SDR (dB)"))
        out.append(table(res, rows1, unseen, "Table 2: unseen classes, SDR (dB)"))
        rows3 = ["5-shot", "5-shot, other track", "5-shot, multi-source examples",
                 "5-shot MS model, multi-source examples", "5-shot +Neg",
                 "control: 5 examples of other classes"]
        out.append(table(res, rows3, seen, "Table 3: 5-shot, example constraints (seen classes)"))
        out.append(table(res, rows3, unseen, "Table 3b: the same on unseen classes"))
    for name in ("medleydb-jazz", "bach10-ass"):
        if name in raw:
            out.append(real_table(raw[name], f"{name}: examples from the first half, evaluation "
                                             "on the second half, SDR (dB)"))
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, help="synthetic corpus root (with test/ and train/)")
    ap.add_argument("--model", help="few-shot model (registry name or card path)")
    ap.add_argument("--baseline", help="class-conditioned baseline model")
    ap.add_argument("--baseline-extra", action="append", default=[], metavar="LABEL=MODEL",
                    help="another baseline, shown as the row 'baseline (LABEL)' (repeatable)")
    ap.add_argument("--neg-model", help="few-shot model trained with negatives (+Neg)")
    ap.add_argument("--ms-model", help="few-shot model trained with multi-source examples (MS)")
    ap.add_argument("--draws", type=int, default=10, help="random draws of examples (10)")
    ap.add_argument("--shots", default="1,2,3,4,5", help="numbers of examples (1,2,3,4,5)")
    ap.add_argument("--max-tracks", type=int, help="at most N test (and train) tracks")
    ap.add_argument("--seconds", type=float, help="crop test tracks to S seconds")
    ap.add_argument("--shard", default="0/1", metavar="K/N",
                    help="run only test items K, K+N, K+2N, ... (parallel runs; see --merge)")
    ap.add_argument("--real", default="medleydb-jazz,bach10-ass",
                    help="real datasets under ../shared/data ('' for none)")
    ap.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                    help="render the tables of earlier --json results (shards, a +Neg run) "
                         "instead of running anything")
    ap.add_argument("--out", type=Path, help="write the tables (markdown) here")
    ap.add_argument("--json", type=Path, help="write the raw results (JSON) here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tiny", action="store_true", help="smoke run on a toy corpus")
    ap.add_argument("--tiny-steps", type=int, default=20)
    args = ap.parse_args()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    header = [f"## Few-shot separation experiment ({when})", "",
              "Command: `" + " ".join(sys.argv) + "`", ""]
    if args.merge:
        raw = merge_runs([json.loads(p.read_text()) for p in args.merge])
        _emit(render(raw, header), raw, args)
        return
    k, _, n = args.shard.partition("/")
    try:
        args.shard = (int(k), int(n))
        assert 0 <= args.shard[0] < args.shard[1]
    except (ValueError, AssertionError):
        ap.error(f"--shard needs K/N with 0 <= K < N, got {args.shard!r}")
    torch.set_num_threads(args.threads)
    args.shots = [int(s) for s in args.shots.split(",") if s]
    if args.tiny:
        tiny_setup(args)
    models = {}
    specs = [("fewshot", args.model), ("baseline", args.baseline), ("neg", args.neg_model),
             ("ms", args.ms_model)]
    for extra in args.baseline_extra:
        label, _, spec = extra.partition("=")
        if not spec:
            ap.error(f"--baseline-extra needs LABEL=MODEL, got {extra!r}")
        specs.append((f"baseline ({label})", spec))
    for key, spec in specs:
        if spec:
            models[key] = load_fewshot_model(spec)
    if args.tiny:
        header += ["**Smoke run** (`--tiny`): toy corpus, models trained for "
                   f"{args.tiny_steps} steps. The numbers test the script, not the method.", ""]
    raw: dict = {}
    if args.corpus and models:
        raw["synthetic"] = synthetic(args, models)
    for name in [r for r in args.real.split(",") if r]:
        if "fewshot" not in models:
            break
        if not (DATA / name).is_dir():
            header.append(f"({name}: {DATA / name} absent, skipped)\n")
            continue
        raw[name] = real(args, models["fewshot"], name)
    _emit(render(raw, header), raw, args)


def _emit(text: str, raw: dict, args) -> None:
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(raw, default=float, indent=1))


if __name__ == "__main__":
    main()
