"""Training of the pitch-salience U-Net on synthetic tracks with exact F0 (ensembles, choirs).

Three steps, each a function and a subcommand of ``python -m separate.f0.salience_train``:

1. :func:`prepare` — per track of ``separate synth`` (``voice*.wav``, ``mixture.wav``,
   ``f0/voice*.csv``), the wide log-CQT (:func:`separate.f0.salience.log_cqt`, float16) of the
   mixture and of ``subsets`` random sub-mixtures of 1..N-1 voices (so that the network also sees
   solos, duets, ...), plus the exact F0 of the sounding voices at the frame times. Written once
   to ``OUT/<split>/<track>__<tag>.{cqt,f0}.npy``; existing items are skipped, so the step can be
   re-run when more data arrives.
2. :func:`train` — random patches (``patch`` frames) of the prepared items, binary cross-entropy
   against Gaussian-blurred targets (:func:`separate.f0.salience.salience_targets`), Adam (``lr``,
   x0.3 for the last quarter of the steps). One
   torch thread; checkpoints every ``ckpt_every`` steps; the train folder is re-scanned at each
   checkpoint (new items join); stops at ``steps`` or after ``max_cpu_seconds`` of process CPU.
   Validation: BCE on fixed valid patches, kept as ``best.pt``.
3. :func:`export` — ``best.pt`` -> ``OUT.safetensors`` + card ``OUT.toml``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np

from separate.f0.salience import (
    ARCH,
    HOP,
    N_BINS,
    SAMPLE_RATE,
    frame_times,
    hcqt_from_log_cqt,
    log_cqt,
    salience_targets,
)


def _voice_names(track: Path) -> list[str]:
    stems = json.loads((track / "stems.json").read_text())
    return list(stems.get("f0") or sorted(p.stem for p in (track / "f0").glob("*.csv")))


def prepare(data: Path, out: Path, splits=("train", "valid"), subsets: int = 1,
            seed: int = 0, log=print) -> int:
    """Precompute the features of every track under ``data/<split>/`` (see the module note).

    Returns the number of items written (skipped ones not counted).
    """
    from separate.f0.io import read_mono
    from separate.f0.track import read_f0_csv

    written = 0
    for split in splits:
        tracks = sorted(p.parent for p in (Path(data) / split).glob("*/stems.json"))
        (Path(out) / split).mkdir(parents=True, exist_ok=True)
        for track in tracks:
            names = _voice_names(track)
            rng = random.Random(f"{seed}-{track.name}")
            items = [("mix", names)]
            for s in range(subsets):
                if len(names) > 1:
                    k = rng.randint(1, len(names) - 1)
                    items.append((f"sub{s}", sorted(rng.sample(names, k))))
            for tag, voices in items:
                stem = Path(out) / split / f"{track.name}__{tag}"
                if stem.with_suffix(".f0.npy").exists():
                    continue
                if tag == "mix":
                    audio, sr = read_mono(track / "mixture.wav")
                else:
                    parts = [read_mono(track / f"{v}.wav") for v in voices]
                    sr = parts[0][1]
                    audio = np.sum([a for a, _ in parts], axis=0)
                wide = log_cqt(audio, sr).astype(np.float16)
                t = frame_times(wide.shape[1])
                f0 = np.stack([read_f0_csv(track / "f0" / f"{v}.csv").at(t)[0] for v in voices])
                np.save(stem.with_suffix(".cqt.npy"), wide)
                np.save(stem.with_suffix(".f0.npy"), f0.astype(np.float32))
                written += 1
            log(f"{split}/{track.name}: {len(items)} item(s)")
    return written


class _Items:
    """Memory-mapped prepared items of one split."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.cqt: list[np.ndarray] = []
        self.f0: list[np.ndarray] = []
        self.names: list[str] = []
        self.rescan()

    def rescan(self) -> int:
        known = set(self.names)
        for p in sorted(self.folder.glob("*.f0.npy")):
            name = p.name[: -len(".f0.npy")]
            if name in known:
                continue
            self.f0.append(np.load(p))
            self.cqt.append(np.load(self.folder / f"{name}.cqt.npy", mmap_mode="r"))
            self.names.append(name)
        return len(self.names)

    def patch(self, rng: np.random.Generator, frames: int, i: int | None = None,
              start: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A random (or given) patch: HCQT ``[6, 360, frames]``, target ``[360, frames]``."""
        if i is None:
            lengths = np.array([c.shape[1] for c in self.cqt], dtype=np.float64)
            i = int(rng.choice(len(lengths), p=lengths / lengths.sum()))
        n = self.cqt[i].shape[1]
        if start is None:
            start = int(rng.integers(0, max(1, n - frames)))
        wide = np.asarray(self.cqt[i][:, start : start + frames], dtype=np.float32)
        f0 = self.f0[i][:, start : start + frames]
        if wide.shape[1] < frames:
            pad = frames - wide.shape[1]
            wide = np.pad(wide, ((0, 0), (0, pad)))
            f0 = np.pad(f0, ((0, 0), (0, pad)))
        return hcqt_from_log_cqt(wide), salience_targets(f0)


def train(features: Path, out: Path, steps: int = 3000, batch: int = 16, patch: int = 64,
          lr: float = 1e-3, width: int = 16, seed: int = 0, ckpt_every: int = 200,
          max_cpu_seconds: float = 1800.0, valid_patches: int = 48, deadline: float | None = None,
          log=print) -> dict:
    """Train (or resume from ``out/last.pt``) the salience U-Net; returns a summary dict.

    Stops at ``steps``, after ``max_cpu_seconds`` of process CPU time, or at ``deadline`` (Unix
    time), whichever comes first; the learning rate drops to 0.3 ``lr`` once 75 % of the nearest
    of these budgets is used.
    """
    import torch

    from separate.nets.salience import SalienceUNet

    torch.set_num_threads(1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    tr = _Items(Path(features) / "train")
    va = _Items(Path(features) / "valid")
    vrng = np.random.default_rng(1234)
    vset = [va.patch(vrng, 256) for _ in range(valid_patches)]
    vx = torch.from_numpy(np.stack([v[0] for v in vset]))
    vy = torch.from_numpy(np.stack([v[1] for v in vset]))
    model = SalienceUNet(width=width)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    state = {"step": 0, "best": math.inf, "cpu": 0.0, "history": []}
    from separate.training.checkpoint import load_checkpoint, save_checkpoint

    if (out / "last.pt").exists():
        ck = load_checkpoint(out / "last.pt", migrate=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        log(f"resumed at step {state['step']}")
    cpu0 = time.process_time() - state["cpu"]
    loss_fn = torch.nn.functional.binary_cross_entropy_with_logits
    running = []
    wall0 = time.time()

    def used() -> float:
        fr = [state["step"] / steps, (time.process_time() - cpu0) / max_cpu_seconds]
        if deadline is not None:
            fr.append((time.time() - wall0) / max(deadline - wall0, 1.0))
        return max(fr)

    while used() < 1.0:
        model.train()
        xs, ys = zip(*(tr.patch(rng, patch) for _ in range(batch)), strict=True)
        x = torch.from_numpy(np.stack(xs))
        y = torch.from_numpy(np.stack(ys))
        for g in opt.param_groups:  # a step down for the last quarter of the steps
            g["lr"] = lr * (0.3 if used() >= 0.75 else 1.0)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running.append(loss.item())
        state["step"] += 1
        if state["step"] % 25 == 0:
            log(f"step {state['step']} loss {np.mean(running[-25:]):.4f} "
                f"cpu {time.process_time() - cpu0:.0f}s items {len(tr.names)}")
        if state["step"] % ckpt_every == 0 or used() >= 1.0:
            model.eval()
            with torch.inference_mode():
                vl = float(np.mean([float(loss_fn(model(vx[i : i + 8]), vy[i : i + 8]))
                                    for i in range(0, len(vx), 8)]))
            state["cpu"] = time.process_time() - cpu0
            state["history"].append({"step": state["step"], "train": float(np.mean(running)),
                                     "valid": vl, "cpu": round(state["cpu"], 1),
                                     "items": len(tr.names)})
            running = []
            if vl < state["best"]:
                state["best"] = vl
                save_checkpoint(out / "best.pt", {"model": model.state_dict(),
                                                  "state": dict(state), "width": width})
            save_checkpoint(out / "last.pt", {"model": model.state_dict(),
                                              "opt": opt.state_dict(), "state": state,
                                              "width": width})
            log(f"checkpoint step {state['step']} valid {vl:.4f} best {state['best']:.4f} "
                f"cpu {state['cpu']:.0f}s")
            n = tr.rescan()
            log(f"train items: {n}")
    state["cpu"] = time.process_time() - cpu0
    (out / "summary.json").write_text(json.dumps(state, indent=1))
    return state


def export(run: Path, dest: Path, card_extra: dict | None = None) -> Path:
    """Write ``dest.safetensors`` (weights of ``run/best.pt``) and the card ``dest.toml``."""
    from separate.registry.card import write_card
    from separate.registry.checksum import sha256_file
    from separate.registry.weights import save_weights
    from separate.training.checkpoint import load_checkpoint

    ck = load_checkpoint(Path(run) / "best.pt")
    dest = Path(dest)
    weights = dest.with_suffix(".safetensors")
    save_weights(ck["model"], weights)
    card = {
        "name": dest.name,
        "description": "pitch-salience U-Net (Jansson 2019 Ch. 5 after Bittner et al. 2017): "
        "HCQT -> salience over 360 bins of 20 cents from C1; trained on synthetic ensembles "
        "and choirs with exact F0",
        "arch": ARCH,
        "sources": ["salience"],
        "sample_rate": SAMPLE_RATE,
        "audio_channels": 1,
        "license": "MIT",
        "args": {"width": int(ck["width"])},
        "weights": {"embedded": weights.name, "sha256": sha256_file(weights)},
        "features": {"hop": HOP, "bins": N_BINS, "bins_per_octave": 60, "fmin_hz": 32.7032,
                     "harmonics": [0.5, 1, 2, 3, 4, 5]},
    }
    card.update(card_extra or {})
    return write_card(dest.with_suffix(".toml"), card, subcommand="f0 track --method salience")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m separate.f0.salience_train")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="precompute log-CQT features + F0 targets")
    p.add_argument("data", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--subsets", type=int, default=1)
    p.add_argument("--splits", default="train,valid")
    t = sub.add_parser("train", help="train (resumes from OUT/last.pt)")
    t.add_argument("features", type=Path)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--patch", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--width", type=int, default=16)
    t.add_argument("--max-cpu-seconds", type=float, default=1800.0)
    t.add_argument("--ckpt-every", type=int, default=200)
    t.add_argument("--deadline", default=None, help="stop at this UTC time, HH:MM (today)")
    e = sub.add_parser("export", help="best.pt -> DEST.safetensors + DEST.toml")
    e.add_argument("run", type=Path)
    e.add_argument("dest", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "prepare":
        for d in a.data:
            n = prepare(d, a.out, splits=tuple(a.splits.split(",")), subsets=a.subsets)
            print(f"{d}: {n} item(s) written", flush=True)
    elif a.cmd == "train":
        deadline = None
        if a.deadline:
            import datetime as dt

            hh, mm = (int(v) for v in a.deadline.split(":"))
            now = dt.datetime.now(dt.timezone.utc)
            deadline = now.replace(hour=hh, minute=mm, second=0, microsecond=0).timestamp()
        s = train(a.features, a.out, steps=a.steps, batch=a.batch, patch=a.patch, lr=a.lr,
                  width=a.width, max_cpu_seconds=a.max_cpu_seconds, ckpt_every=a.ckpt_every,
                  deadline=deadline, log=lambda m: print(m, flush=True))
        print(json.dumps({k: s[k] for k in ("step", "best", "cpu")}), flush=True)
    else:
        print(export(a.run, a.dest))


if __name__ == "__main__":
    main()
