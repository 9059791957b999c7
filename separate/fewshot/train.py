"""Training the few-shot model and its class-conditioned baseline (Wang et al. 2022, Sec. 3.2).

Adam, learning rate 1e-3, batch 16, early stopping on the validation split (Sec. 3.2). Each step
draws a batch of episodes (:class:`separate.fewshot.data.EpisodeSampler`), computes the
conditioning vectors (examples → encoder → mean; or one-hot classes), separates the target and
minimises SDR loss + magnitude L1 (Sec. 2.1). The best validation state is exported as
safetensors (float16, to keep the 11 M parameters near 22 MB) with a model card beside it.

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

from separate.fewshot.data import EpisodeSampler, collate, load_split
from separate.fewshot.loss import fewshot_loss
from separate.nets.fewshot import ClassConditionedSeparator, FewShotSeparator


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


def build_model(cfg: TrainConfig) -> FewShotSeparator | ClassConditionedSeparator:
    """The untrained model a config describes (sources ``["target", "residual"]``)."""
    if cfg.kind == "fewshot":
        return FewShotSeparator(negatives=cfg.negatives > 0, channels=cfg.channels,
                                filters=cfg.filters, n_mels=cfg.n_mels)
    if cfg.kind == "class":
        return ClassConditionedSeparator(channels=cfg.channels)
    raise ValueError(f"kind must be 'fewshot' or 'class', got {cfg.kind!r}")


def model_args(cfg: TrainConfig) -> dict:
    """The card's ``[args]`` for this config."""
    args: dict = {"channels": list(cfg.channels)}
    if cfg.kind == "fewshot":
        args.update(negatives=cfg.negatives > 0, filters=cfg.filters, n_mels=cfg.n_mels)
    else:
        from separate.nets.fewshot import default_classes

        args["classes"] = default_classes()
    return args


def step_loss(model, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one collated batch (see :func:`separate.fewshot.data.collate`)."""
    if isinstance(model, FewShotSeparator):
        z = model.conditioning(batch["pos"], batch["pos_mask"], batch["neg"], batch["neg_mask"])
    else:
        z = model.conditioning(batch["cls"])
    est = model.unet(batch["mix"], z)
    return fewshot_loss(est, batch["target"], model.unet.spec)


def train(
    cfg: TrainConfig,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> dict:
    """Train, validate, early-stop, and export the best state with its card.

    Args:
        cfg: the run.
        on_step: called after every step with ``(step, {"loss", "sdr_loss", "mag_l1"})`` and after
            every validation with ``{"valid_loss"}`` (progress display).

    Returns:
        ``{"history": [...], "best_valid": float, "steps": int, "seconds": float,
        "weights": path, "card": path}``.

    Raises:
        FileNotFoundError: corpus split missing. ValueError: bad config.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    n_neg = cfg.negatives
    common = dict(held_out=cfg.held_out, min_shots=cfg.min_shots, max_shots=cfg.max_shots,
                  examples_from=cfg.examples_from, multi_source_p=cfg.multi_source_p,
                  negatives=n_neg)
    tr = EpisodeSampler(load_split(cfg.corpus, "train", max_tracks=cfg.max_tracks),
                        gain_db=cfg.gain_db, seed=cfg.seed, **common)
    va = EpisodeSampler(load_split(cfg.corpus, "valid", max_tracks=cfg.max_tracks),
                        seed=cfg.seed + 1, **common)
    valid = [collate([va.sample() for _ in range(cfg.batch_size)], cfg.max_shots, n_neg)
             for _ in range(cfg.valid_batches)]  # fixed validation episodes
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    best, best_state, bad, history = float("inf"), None, 0, []
    t0 = time.time()
    step = 0
    for step in range(1, cfg.steps + 1):
        model.train()
        loss, parts = step_loss(model, tr.batch(cfg.batch_size))
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec = {"step": step, "loss": float(loss.detach()), **parts}
        if on_step:
            on_step(step, rec)
        if step % cfg.valid_every == 0 or step == cfg.steps:
            v = validate(model, valid)
            rec["valid_loss"] = v
            if on_step:
                on_step(step, {"valid_loss": v})
            if v < best:
                best, bad = v, 0
                best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
            else:
                bad += 1
        history.append(rec)
        if bad >= cfg.patience:
            break
    seconds = time.time() - t0
    if best_state is not None:
        model.load_state_dict(best_state)
    weights, card = export(model, cfg, best, step, seconds)
    return {"history": history, "best_valid": best, "steps": step, "seconds": seconds,
            "weights": str(weights), "card": str(card)}


@torch.no_grad()
def validate(model, batches: Sequence[dict]) -> float:
    """Mean loss over fixed batches, in eval mode."""
    model.eval()
    return float(np.mean([float(step_loss(model, b)[0]) for b in batches]))


def export(model, cfg: TrainConfig, best_valid: float, steps: int, seconds: float):
    """Write ``cfg.out`` (safetensors, float16) and the card ``<stem>.toml`` beside it."""
    from safetensors.torch import save_file

    from separate.registry import sha256_file

    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16) if v.is_floating_point() else v.detach()
             for k, v in model.state_dict().items()}
    tmp = out.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp))
    tmp.replace(out)
    arch = "fewshot" if cfg.kind == "fewshot" else "fewshot-class"
    desc = {
        "fewshot": "Few-shot conditioned U-Net (Wang et al. 2022)"
        + (" with negative examples (+Neg)" if cfg.negatives else ""),
        "class": "Class-conditioned U-Net baseline (Wang et al. 2022, Sec. 2.1)",
    }[cfg.kind]
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
        "training": {
            "command": " ".join(shlex.quote(a) for a in sys.argv),
            "config": json.dumps(asdict(cfg)),
            "steps": steps,
            "seconds": round(seconds, 1),
            "best_valid_loss": round(best_valid, 4),
            "held_out": list(cfg.held_out),
        },
    }
    card_path = out.with_suffix(".toml")
    card_path.write_text(to_toml(card), encoding="utf-8")
    return out, card_path


def to_toml(data: dict) -> str:
    """A small TOML writer for cards: scalars, lists of scalars, one level of tables."""

    def val(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(val(x) for x in v) + "]"
        raise TypeError(f"cannot write {type(v).__name__} to TOML")

    lines = [f"{k} = {val(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [f"{kk} = {val(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"
