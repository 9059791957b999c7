"""Training the few-shot model and its class-conditioned baseline (Wang et al. 2022, Sec. 3.2).

Adam, learning rate 1e-3, batch 16, early stopping on the validation split (Sec. 3.2). Each step
draws a batch of episodes (:class:`separate.fewshot.data.EpisodeSampler`), computes the
conditioning vectors (examples → encoder → mean; or one-hot classes), separates the target and
minimises SDR loss + magnitude L1 (Sec. 2.1). The best validation state is exported as
safetensors (float16, to keep the 11 M parameters near 22 MB) with a model card beside it.

For CPU budgets: ``max_cpu_minutes`` stops a run by the CPU time of the process (counted across
resumes); ``checkpoint_dir`` gets ``last.pt`` every ``checkpoint_minutes`` and at every
validation (``resume=True`` continues from it), and ``step<N>.pt`` at the steps in ``save_at``
(:func:`export_checkpoint` turns any of them into weights + card). ``init`` starts from another
run's checkpoint or weights, e.g. the +Neg model fine-tuned from a few-shot checkpoint
(:func:`init_from`: the new combining layer starts as ``[I 0]``, so the +Neg model starts out
equal to the few-shot model it came from).

Entry points: :func:`train` (Python) and ``separate fewshot-train`` (CLI).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from separate.fewshot.data import SAMPLE_RATE, EpisodeSampler, collate, load_split
from separate.fewshot.loss import fewshot_loss
from separate.nets.fewshot import ClassConditionedSeparator, FewShotSeparator
from separate.synth.classes import CLASSES


@dataclass
class TrainConfig:
    """Everything a training run depends on (written into the card).

    Args:
        corpus: corpus root with ``train/`` and ``valid/`` splits.
        out: output ``.safetensors`` path (the card is written beside it, same stem).
        kind: ``"fewshot"`` or ``"class"`` (the Sec. 2.1 baseline).
        negatives: negative examples per episode (0 = plain few-shot; 5 = the paper's +Neg).
        examples_from: ``"same"`` or ``"other"`` track (Sec. 3.4).
        multi_source_p: probability of a multi-source example (0; 0.5 for the paper's "MS").
        held_out: classes removed from training entirely (Sec. 4.2).
        min_shots, max_shots: n ∈ [1, 5] (Sec. 3.2).
        steps: maximum optimiser steps. batch_size: 16. lr: 1e-3 (Sec. 3.2).
        valid_every: steps between validations. valid_batches: fixed validation batches.
        patience: stop after this many validations without improvement (early stopping).
        channels: U-Net widths (16..512). filters, n_mels: conditioning encoder (64, 128).
        gain_db: mixing-gain augmentation (±dB).
        max_tracks: read at most this many tracks per split (None: all).
        threads: torch intra-op threads (None: leave as is).
        seed: random seed.
        max_cpu_minutes: stop once the process has used this much CPU time on the run (minutes,
            summed over resumes; None: no limit).
        checkpoint_dir: folder for ``last.pt`` / ``step<N>.pt`` (None: no checkpoints).
        checkpoint_minutes: wall minutes between ``last.pt`` writes (also written at every
            validation and at the end).
        save_at: steps at which ``step<N>.pt`` is kept.
        resume: continue from ``checkpoint_dir/last.pt``.
        init: start from this checkpoint (``.pt``) or weights (``.safetensors``/card) instead
            of a random initialisation (:func:`init_from`).
    """

    corpus: str
    out: str
    kind: str = "fewshot"
    negatives: int = 0
    examples_from: str = "same"
    multi_source_p: float = 0.0
    held_out: list[str] = field(default_factory=list)
    min_shots: int = 1
    max_shots: int = 5
    steps: int = 20000
    batch_size: int = 16
    lr: float = 1e-3
    valid_every: int = 250
    valid_batches: int = 8
    patience: int = 8
    channels: list[int] = field(default_factory=lambda: [16, 32, 64, 128, 256, 512])
    filters: int = 64
    n_mels: int = 128
    gain_db: float = 3.0
    max_tracks: int | None = None
    threads: int | None = None
    seed: int = 0
    max_cpu_minutes: float | None = None
    checkpoint_dir: str | None = None
    checkpoint_minutes: float = 5.0
    save_at: list[int] = field(default_factory=list)
    resume: bool = False
    init: str | None = None


def build_model(cfg: TrainConfig) -> FewShotSeparator | ClassConditionedSeparator:
    """The untrained model a config describes (sources ``["target", "residual"]``)."""
    if cfg.kind == "fewshot":
        return FewShotSeparator(negatives=cfg.negatives > 0, channels=cfg.channels,
                                filters=cfg.filters, n_mels=cfg.n_mels)
    if cfg.kind == "class":
        return ClassConditionedSeparator(classes=CLASSES, channels=cfg.channels)
    raise ValueError(f"kind must be 'fewshot' or 'class', got {cfg.kind!r}")


def model_args(cfg: TrainConfig) -> dict:
    """The card's ``[args]`` for this config."""
    args: dict = {"channels": list(cfg.channels)}
    if cfg.kind == "fewshot":
        args.update(negatives=cfg.negatives > 0, filters=cfg.filters, n_mels=cfg.n_mels)
    else:
        args["classes"] = list(CLASSES)
    return args


def step_loss(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one collated batch (see :func:`separate.fewshot.data.collate`)."""
    if isinstance(model, FewShotSeparator):
        z = model.conditioning(batch["pos"], batch["pos_mask"], batch["neg"], batch["neg_mask"])
    else:
        z = model.conditioning(batch["cls"])
    est = model.unet(batch["mix"], z)
    return fewshot_loss(est, batch["target"], model.unet.spec)


def split_hours(tracks) -> dict:
    """``{"hours": mixture hours, "voices": n, "classes": {class: voices}}`` of loaded tracks."""
    classes: dict[str, int] = {}
    for t in tracks:
        for v in t.voices:
            classes[v.cls] = classes.get(v.cls, 0) + 1
    return {"tracks": len(tracks),
            "hours": round(sum(t.length for t in tracks) / SAMPLE_RATE / 3600, 3),
            "voices": sum(classes.values()), "classes": dict(sorted(classes.items()))}


def init_from(model, source: str) -> list[str]:
    """Load weights from a checkpoint (``.pt``, its ``model`` state) or a ``.safetensors`` / card
    into ``model``, matching names and shapes; returns the names left at their initialisation.

    A +Neg model (Sec. 3.5) started from a plain few-shot one gets its combining layer
    ``z = ReLU(W [z_pos; z_neg] + b)`` set to ``W = [I 0]``, ``b = 0``: the example embeddings
    are ≥ 0 (ReLU, then max-pools), so it starts as exactly the few-shot model.

    Raises:
        FileNotFoundError: no such file.
        ModelError: a checkpoint refused by ``torch.load(weights_only=True)`` (see
            :mod:`separate.training.checkpoint`), or a card that does not load.
    """
    src = Path(source)
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such checkpoint or weights")
    if src.suffix == ".pt":
        from separate.training.checkpoint import load_checkpoint

        state = load_checkpoint(src)["model"]
    elif src.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(src))
    else:  # a card: its verified weights, through the one loader
        from separate.registry import load_model

        state = load_model(src, subcommand="fewshot").state_dict()
    own = model.state_dict()
    keep = {k: v.to(own[k].dtype) for k, v in state.items()
            if k in own and tuple(v.shape) == tuple(own[k].shape)}
    model.load_state_dict(keep, strict=False)
    missing = [k for k in own if k not in keep]
    if isinstance(model, FewShotSeparator) and model.use_negatives and any(
            k.startswith("combine.") for k in missing):
        lin = model.combine[0]
        with torch.no_grad():
            d = model.cond_dim
            lin.weight.zero_()
            lin.weight[:, :d] = torch.eye(d)
            lin.bias.zero_()
        missing = [k for k in missing if not k.startswith("combine.")]
    return missing


def _save_checkpoint(path: Path, **state) -> None:
    from separate.training.checkpoint import save_checkpoint

    save_checkpoint(path, state)


def train(
    cfg: TrainConfig,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> dict:
    """Train, validate, early-stop, and export the best state with its card.

    Stops at ``cfg.steps``, on early stopping (``cfg.patience`` validations without
    improvement) or when the run has used ``cfg.max_cpu_minutes`` of CPU time, whichever comes
    first; the last step always validates.

    Args:
        cfg: the run.
        on_step: called after every step with ``(step, {"loss", "sdr_loss", "mag_l1"})`` and after
            every validation with ``{"valid_loss"}`` (progress display).

    Returns:
        ``{"history": [...], "best_valid": float, "best_step": int, "steps": int,
        "seconds": float, "cpu_seconds": float, "weights": path, "card": path}``.

    Raises:
        FileNotFoundError: corpus split, ``init`` or (with ``resume``) ``last.pt`` missing.
        ValueError: bad config.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    n_neg = cfg.negatives
    common = dict(held_out=cfg.held_out, min_shots=cfg.min_shots, max_shots=cfg.max_shots,
                  examples_from=cfg.examples_from, multi_source_p=cfg.multi_source_p,
                  negatives=n_neg)
    tr_tracks = load_split(cfg.corpus, "train", max_tracks=cfg.max_tracks)
    va_tracks = load_split(cfg.corpus, "valid", max_tracks=cfg.max_tracks)
    tr = EpisodeSampler(tr_tracks, gain_db=cfg.gain_db, seed=cfg.seed, **common)
    va = EpisodeSampler(va_tracks, seed=cfg.seed + 1, **common)
    data = {"train": split_hours(tr.tracks), "valid": split_hours(va.tracks)}
    del tr_tracks, va_tracks
    valid = [collate([va.sample() for _ in range(cfg.batch_size)], cfg.max_shots, n_neg)
             for _ in range(cfg.valid_batches)]  # fixed validation episodes
    model = build_model(cfg)
    init_missing: list[str] = []
    if cfg.init:
        init_missing = init_from(model, cfg.init)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    best, best_state, best_step, bad, history = float("inf"), None, 0, 0, []
    step0, wall0, cpu0 = 0, 0.0, 0.0
    ckdir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
    if ckdir:
        ckdir.mkdir(parents=True, exist_ok=True)
    if cfg.resume:
        if not ckdir or not (ckdir / "last.pt").is_file():
            raise FileNotFoundError(f"resume: no {ckdir}/last.pt")
        from separate.training.checkpoint import load_checkpoint

        ck = load_checkpoint(ckdir / "last.pt", migrate=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        for g in opt.param_groups:
            g["lr"] = cfg.lr
        best, best_state, best_step, bad = ck["best"], ck["best_state"], ck["best_step"], ck["bad"]
        history, step0, wall0, cpu0 = ck["history"], ck["step"], ck["seconds"], ck["cpu_seconds"]
        tr.rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"])
    t0, c0, last_ck = time.time(), time.process_time(), time.time()

    from separate.training.checkpoint import to_plain

    def checkpoint(path: Path, step: int) -> None:
        _save_checkpoint(
            path, model=model.state_dict(), opt=opt.state_dict(), best=best,
            best_state=best_state, best_step=best_step, bad=bad, history=history, step=step,
            seconds=wall0 + time.time() - t0, cpu_seconds=cpu0 + time.process_time() - c0,
            rng=tr.rng.bit_generator.state, torch_rng=torch.get_rng_state(),
            config=to_plain(asdict(cfg)), data=to_plain(data))

    step = step0
    stop = False
    for step in range(step0 + 1, cfg.steps + 1):
        model.train()
        loss, parts = step_loss(model, tr.batch(cfg.batch_size))
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec = {"step": step, "loss": float(loss.detach()), **parts}
        if on_step:
            on_step(step, rec)
        cpu = cpu0 + time.process_time() - c0
        out_of_cpu = cfg.max_cpu_minutes is not None and cpu >= 60 * cfg.max_cpu_minutes
        if step % cfg.valid_every == 0 or step == cfg.steps or out_of_cpu:
            v = validate(model, valid)
            rec["valid_loss"] = v
            if on_step:
                on_step(step, {"valid_loss": v})
            if v < best:
                best, bad, best_step = v, 0, step
                best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
            else:
                bad += 1
        history.append(rec)
        stop = bad >= cfg.patience or out_of_cpu
        if ckdir:
            if step in cfg.save_at:
                checkpoint(ckdir / f"step{step}.pt", step)
            if ("valid_loss" in rec or stop
                    or time.time() - last_ck >= 60 * cfg.checkpoint_minutes):
                checkpoint(ckdir / "last.pt", step)
                last_ck = time.time()
        if stop:
            break
    seconds = wall0 + time.time() - t0
    cpu_seconds = cpu0 + time.process_time() - c0
    if best_state is not None:
        model.load_state_dict(best_state)
    weights, card = export(model, cfg, best, step, seconds, cpu_seconds=cpu_seconds,
                           best_step=best_step, data=data, init_missing=init_missing)
    return {"history": history, "best_valid": best, "best_step": best_step, "steps": step,
            "seconds": seconds, "cpu_seconds": cpu_seconds, "weights": str(weights),
            "card": str(card)}


def export_checkpoint(checkpoint: str | Path, out: str | Path) -> tuple[Path, Path]:
    """Export the best-validation state *as of* a checkpoint (``last.pt`` or ``step<N>.pt``) as
    weights + card, e.g. the baseline after as many steps as the few-shot model had.

    Raises:
        FileNotFoundError: no checkpoint. ValueError: it holds no validated state yet.
    """
    from separate.training.checkpoint import load_checkpoint

    ck = load_checkpoint(Path(checkpoint))
    if ck["best_state"] is None:
        raise ValueError(f"{checkpoint}: no validation yet, nothing to export")
    cfg = TrainConfig(**{**ck["config"], "out": str(out)})
    model = build_model(cfg)
    model.load_state_dict(ck["best_state"])
    return export(model, cfg, ck["best"], ck["step"], ck["seconds"],
                  cpu_seconds=ck["cpu_seconds"], best_step=ck["best_step"], data=ck["data"])


@torch.no_grad()
def validate(model, batches: Sequence[dict]) -> float:
    """Mean loss over fixed batches, in eval mode."""
    model.eval()
    return float(np.mean([float(step_loss(model, b)[0]) for b in batches]))


def export(model, cfg: TrainConfig, best_valid: float, steps: int, seconds: float, *,
           cpu_seconds: float | None = None, best_step: int | None = None,
           data: dict | None = None, init_missing: Sequence[str] = ()):
    """Write ``cfg.out`` (safetensors, float16) and the card ``<stem>.toml`` beside it.

    The card's ``[training]`` records the command, the config, steps, wall and CPU seconds, the
    best validation loss and its step, the held-out classes and (``data``) hours, voices and
    classes per split.
    """
    from separate.registry import sha256_file
    from separate.registry.card import write_card
    from separate.registry.weights import save_weights

    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16) if v.is_floating_point() else v.detach()
             for k, v in model.state_dict().items()}
    save_weights(state, out)
    arch = "fewshot" if cfg.kind == "fewshot" else "fewshot-class"
    desc = {
        "fewshot": "Few-shot conditioned U-Net (Wang et al. 2022)"
        + (" with negative examples (+Neg)" if cfg.negatives else ""),
        "class": "Class-conditioned U-Net baseline (Wang et al. 2022, Sec. 2.1)",
    }[cfg.kind]
    training = {
        "command": " ".join(shlex.quote(a) for a in sys.argv),
        "config": json.dumps(asdict(cfg)),
        "steps": steps,
        "seconds": round(seconds, 1),
        "best_valid_loss": round(best_valid, 4),
        "held_out": list(cfg.held_out),
    }
    if cpu_seconds is not None:
        training["cpu_seconds"] = round(cpu_seconds, 1)
    if best_step is not None:
        training["best_step"] = best_step
    if cfg.init:
        training["init"] = cfg.init
        training["init_new_parameters"] = list(init_missing)
    card = {
        "name": out.stem,
        "description": desc + f"; trained on {cfg.corpus}",
        "arch": arch,
        "sources": ["target", "residual"],
        "sample_rate": 22050,
        "audio_channels": 1,
        "license": "MIT",
        "args": model_args(cfg),
        "weights": {"embedded": out.name, "sha256": sha256_file(out)},
        "training": training,
    }
    if data:
        training["data"] = data
    card_path = write_card(out.with_suffix(".toml"), card, subcommand="fewshot")
    return out, card_path
