"""The training loop: checkpoints, ``--resume``, validation each epoch, early stopping, a
loss-curve PNG, and DistributedDataParallel under ``torchrun`` (NCCL on GPUs, gloo on CPU).

Loss: the hybrid of Jansson Ch. 6.3.4, ``α·L_SDR (Eq. 6.11) + β·L_Mag (Eq. 6.10)``, over every
source and channel.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from separate import nets
from separate.training.augment import MODES as AUGMENT_MODES
from separate.training.augment import RecordAugment
from separate.training.checkpoint import load_checkpoint, save_checkpoint
from separate.training.data import StemsDataset, find_tracks
from separate.training.losses import magnitude_l1, sdr_db, sdr_loss
from separate.training.real_solos import RealSolos


@dataclass
class TrainConfig:
    """Everything a run needs; saved in the run folder and in checkpoints.

    Attributes:
        data: stems folders (each with ``train/`` and ``valid/`` splits, or tracks directly)
            or MUSDB18 folders of ``.stem.mp4`` files (decoded once into a cache; see
            :mod:`separate.training.data`).
        out: run folder (checkpoint, history, loss curve).
        arch, args: architecture and its arguments (as in a model card).
        sources, sample_rate, audio_channels: as in a model card.
        epochs: maximum epochs; examples: excerpts per epoch; valid_examples: per validation.
        batch_size, lr, weight_decay: optimiser (Adam, as Jansson Ch. 6.3.4).
        segment: excerpt length (seconds).
        alpha, beta: weights of the SDR and magnitude losses (Eq. 6.12; 1 and 1 in Ch. 6).
        workers: data-loading processes per rank.
        patience: epochs without validation improvement before stopping early.
        seed: randomness of the excerpts and of the initial weights.
        max_steps: stop after this many optimiser steps in total (0 = no limit; tests).
        threads: torch intra-op threads (0 = torch's default).
        real_vocals: files/folders of real solo singing mixed into training excerpts as the
            vocal stem (:mod:`separate.training.real_solos`; never evaluation material).
        real_vocals_prob: probability per training excerpt of using ``real_vocals`` (no effect
            without them).
        valid_real_vocals: real solo singing kept for validation only (other singers than in
            ``real_vocals``; the same file in both is refused): every validation excerpt is
            validated a second time with a chunk of it as the vocal stem, reported as
            ``valid_real`` per epoch, so that runs with and without ``real_vocals`` can be
            compared on real voices.
        real_vocals_level_db: active-frame RMS (dBFS) the real singing is levelled to. -33 was
            the synthetic vocals' median of the corpus this was written for; today's
            ``separate synth --kind band`` render has a median of -24 dBFS (and the real 80s Rock
            clip's vocals sit 3.9 dB below its mixture, the synthetic ones 2.4 dB).
        real_other: files/folders of real isolated instrument recordings, a chunk of which is
            added to the ``other`` stem of a training excerpt (issue 14, lever 3).
        real_other_prob: probability per training excerpt of a ``real_other`` chunk.
        real_other_level_db: active-frame RMS (dBFS) the instrument recordings are levelled to
            (-30: about 4 dB below today's synthetic ``other`` stems, -26 dBFS median).
        valid_real_other: instrument recordings held out for validation: with them, every
            ``valid_real`` excerpt also has a chunk of one added to its ``other`` stem.
        select: what "best" means (best.pt, the learning-rate schedule, early stopping): the
            mean validation SDR on the valid split (``"valid"``), on its real-singer version
            (``"valid_real"``), or the average of the two (``"both"``).
        init: weights to start from instead of random ones (fine-tuning, or a 2-stem model
            from 4-stem weights): a registry model name, a card ``.toml``, a ``.safetensors``
            file or a run's ``best.pt``/``checkpoint.pt``. Tensors whose name and shape match
            are copied, the others keep their random start (:func:`init_from`). Ignored when
            ``--resume`` finds a checkpoint.
        augment: ``"none"`` or ``"record"``: per-stem effects, a mix bus and optionally tempo
            and pitch changes on training excerpts (never validation), so that synthetic
            stems sound like records (:mod:`separate.training.augment`).
        augment_prob: with ``"record"``, the probability per stem of its effect chain.
        bus_prob: with ``"record"``, the probability per excerpt of the mix bus (glue
            compression, loudness, limiter; one gain curve for all stems).
        stretch_prob: with ``"record"``, the probability per excerpt of a tempo change (the
            same for all stems) and pitch shift (~0.3 s of CPU per stem: off by default).
    """

    data: list[str] = field(default_factory=list)
    out: str = "runs/unet"
    arch: str = "unet"
    args: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=lambda: ["vocals", "drums", "bass", "other"])
    sample_rate: int = 44100
    audio_channels: int = 2
    epochs: int = 100
    examples: int = 512
    valid_examples: int = 64
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 0.0
    segment: float = 5.93
    alpha: float = 1.0
    beta: float = 1.0
    workers: int = 1
    patience: int = 20
    seed: int = 0
    max_steps: int = 0
    threads: int = 0
    real_vocals: list[str] = field(default_factory=list)
    real_vocals_prob: float = 0.5
    valid_real_vocals: list[str] = field(default_factory=list)
    real_vocals_level_db: float = -33.0
    real_other: list[str] = field(default_factory=list)
    real_other_prob: float = 0.5
    real_other_level_db: float = -30.0
    valid_real_other: list[str] = field(default_factory=list)
    select: str = "valid"
    init: str = ""
    augment: str = "none"
    augment_prob: float = 0.8
    bus_prob: float = 0.8
    stretch_prob: float = 0.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown training option(s): {', '.join(sorted(unknown))}")
        return cls(**d)


def _rank() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def setup_distributed() -> tuple[int, int, torch.device]:
    """Initialise the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    rank, world = _rank()
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def build_model(cfg: TrainConfig) -> torch.nn.Module:
    return nets.build(cfg.arch, sources=cfg.sources, sample_rate=cfg.sample_rate,
                      audio_channels=cfg.audio_channels, **cfg.args)


def init_from(model: torch.nn.Module, source: str) -> tuple[list[str], list[str]]:
    """Copy into ``model`` every tensor of ``source`` with the same name and shape.

    Args:
        model: the freshly built network.
        source: a registry name or card path (its verified weights), a ``.safetensors`` file,
            or a ``.pt`` checkpoint of :func:`train` (``{"model": state_dict}``).

    Returns:
        ``(copied, kept)``: names copied, and names of ``model`` left at their random start
        (absent from ``source`` or of another shape, e.g. the mask layer of a model with other
        sources).

    Raises:
        UsageError: ``source`` cannot be read, or no tensor matches.
    """
    from separate.errors import ModelError, UsageError

    path = Path(source)
    try:
        if path.suffix == ".pt":
            state = load_checkpoint(path)["model"]
        elif path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            from separate.registry import load_model

            state = load_model(source).state_dict()
    except (OSError, KeyError, RuntimeError, ModelError) as exc:
        raise UsageError(f"{source}: cannot read initial weights ({exc})") from None
    own = model.state_dict()
    copied = [k for k, v in state.items() if k in own and own[k].shape == v.shape]
    if not set(copied) & {name for name, _ in model.named_parameters()}:
        raise UsageError(f"{source}: no tensor matches the model being trained "
                         "(another architecture or widths?)")
    model.load_state_dict({**own, **{k: state[k] for k in copied}})
    return copied, [k for k in own if k not in copied]


SELECT = ("valid", "valid_real", "both")


def _valid_pools(cfg: TrainConfig) -> tuple[RealSolos | None, RealSolos | None]:
    """The real validation pools (singers, instruments), checked against the training pools
    and ``select``.

    Raises:
        UsageError: unknown ``select``; ``valid_real``/``both`` without ``valid_real_vocals``
            or ``valid_real_other``; a file in both a training and a validation pool.
    """
    from separate.errors import UsageError
    from separate.training.real_solos import find_voice_files

    if cfg.select not in SELECT:
        raise UsageError(f"select = {cfg.select!r}: one of {', '.join(SELECT)}")
    if not (cfg.valid_real_vocals or cfg.valid_real_other):
        if cfg.select != "valid":
            raise UsageError(f"select = {cfg.select!r} needs valid_real_vocals "
                             "or valid_real_other")
        return None, None
    pools: list[RealSolos | None] = []
    for name, level in (("vocals", cfg.real_vocals_level_db),
                        ("other", cfg.real_other_level_db)):
        train, valid = getattr(cfg, f"real_{name}"), getattr(cfg, f"valid_real_{name}")
        if not valid:
            pools.append(None)
            continue
        option = f"--real-{name}"
        held_out = {f.resolve() for f in find_voice_files(valid, option)}
        both = held_out & {f.resolve() for f in find_voice_files(train, option)}
        if both:
            raise UsageError(f"{sorted(both)[0]}: in both real_{name} and valid_real_{name} "
                             "(validation recordings must be held out of training)")
        pools.append(RealSolos(valid, cfg.sample_rate, level_db=level, option=option))
    return pools[0], pools[1]


def _record(cfg: TrainConfig) -> RecordAugment | None:
    """The "record" augmentation of ``cfg.augment``, or None.

    Raises:
        UsageError: ``augment`` is not one of ``none``, ``record``; a probability outside 0..1;
            ``record`` without the ``pedalboard`` package.
    """
    from separate.errors import UsageError

    if cfg.augment not in AUGMENT_MODES:
        raise UsageError(f"augment = {cfg.augment!r}: one of {', '.join(AUGMENT_MODES)}")
    for key in ("augment_prob", "bus_prob", "stretch_prob"):
        if not 0.0 <= getattr(cfg, key) <= 1.0:
            raise UsageError(f"{key} = {getattr(cfg, key)}: a probability, 0 to 1")
    if cfg.augment == "none":
        return None
    try:
        import pedalboard  # noqa: F401
    except ImportError:
        raise UsageError("augment = 'record' needs the pedalboard package: "
                         "pip install pedalboard") from None
    return RecordAugment(cfg.sample_rate, cfg.augment_prob, cfg.bus_prob, cfg.stretch_prob)


def selection_score(entry: dict[str, Any], select: str) -> float:
    """The number that ranks epochs (dB): ``entry["valid"]["mean"]``, the real-singer
    ``entry["valid_real"]["mean"]``, or their average (``select`` = ``valid`` / ``valid_real``
    / ``both``)."""
    if select == "valid":
        return float(entry["valid"]["mean"])
    if select == "valid_real":
        return float(entry["valid_real"]["mean"])
    return 0.5 * (float(entry["valid"]["mean"]) + float(entry["valid_real"]["mean"]))


def hybrid_loss(model: torch.nn.Module, est: torch.Tensor, src: torch.Tensor, mix: torch.Tensor,
                alpha: float, beta: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 6.12: ``α·L_SDR + β·L_Mag`` for ``est, src [B, S, C, T]``, ``mix [B, C, T]``."""
    l_sdr = sdr_loss(est, src)
    loss = alpha * l_sdr
    parts = {"sdr_loss": float(l_sdr.detach())}
    stft: Callable[[torch.Tensor], torch.Tensor] | None = getattr(model, "stft", None)
    if beta and stft is not None:
        b, s, c, t = est.shape
        e = stft(est.reshape(b, s * c, t))
        r = stft(src.reshape(b, s * c, t))
        scale = stft(mix).abs().mean(dim=(1, 2, 3)).view(b, 1, 1, 1) + 1e-6
        l_mag = magnitude_l1(e, r, scale)
        loss = loss + beta * l_mag
        parts["mag_loss"] = float(l_mag.detach())
    return loss, parts


def validate(model: torch.nn.Module, loader: torch.utils.data.DataLoader, device: torch.device,
             sources: list[str]) -> dict[str, float]:
    """Mean plain SDR (dB) per source over validation excerpts whose reference is not silent."""
    model.eval()
    sums = torch.zeros(len(sources), dtype=torch.float64)
    counts = torch.zeros(len(sources), dtype=torch.float64)
    with torch.inference_mode():
        for mix, src in loader:
            est = model(mix.to(device)).cpu()
            active = (src**2).mean(dim=(-1, -2)) > 1e-6  # [B, S]
            sdr = sdr_db(est.flatten(-2), src.flatten(-2))  # [B, S]
            sums += (sdr * active).sum(0).double()
            counts += active.sum(0).double()
    out = {s: float(sums[i] / counts[i]) if counts[i] else float("nan")
           for i, s in enumerate(sources)}
    finite = [v for v in out.values() if not math.isnan(v)]
    out["mean"] = sum(finite) / len(finite) if finite else float("nan")
    return out


def plot_history(history: list[dict[str, Any]], path: Path) -> None:
    """Training loss and validation SDR per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    ax[0].plot(ep, [h["train_loss"] for h in history], label="train loss")
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("α·L_SDR + β·L_Mag")
    ax[0].grid(alpha=0.3)
    for i, key in enumerate(history[-1]["valid"]):
        ax[1].plot(ep, [h["valid"][key] for h in history], label=key, color=f"C{i}",
                   lw=2.5 if key == "mean" else 1)
        if "valid_real" in history[-1]:
            ax[1].plot(ep, [h.get("valid_real", {}).get(key, math.nan) for h in history],
                       label=f"{key}, real validation", color=f"C{i}", ls="--",
                       lw=2.5 if key == "mean" else 1)
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("validation SDR (dB)")
    ax[1].legend(fontsize=8)
    ax[1].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(cfg: TrainConfig, resume: bool = False,
          on_progress: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train, checkpointing to ``cfg.out/checkpoint.pt`` after every epoch and keeping the best
    weights (by mean validation SDR) in ``cfg.out/best.pt``.

    Args:
        cfg: the run's configuration.
        resume: continue from ``cfg.out/checkpoint.pt`` (weights, optimiser, epoch, history);
            the learning rate is ``cfg.lr`` (so a resumed run can continue at a lower rate).
        on_progress: called with ``("step", {...})`` after every step and ``("epoch", {...})``
            after every epoch (the CLI draws its progress bar from these), once with
            ``("data", {"train", "valid"})`` (track counts) when the data is read, and once
            with ``("init", {"source", "copied", "kept"})`` and ``("initial", {"valid",
            "score", ...})`` (their validation before training) when weights come from
            ``cfg.init``.

    Returns:
        ``{"best_epoch", "best_valid", "initial", "history", "seconds", "model"}``
        (``best_valid``: the best epoch's ``select`` score in dB; ``initial``: the validation
        of the ``cfg.init`` weights before training, which are best.pt and ``best_epoch`` 0
        until an epoch beats them, else ``None``; the model as it is after the last step, not
        the best epoch's).
    """
    rank, world, device = setup_distributed()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    ckpt_path = out / "checkpoint.pt"
    if cfg.init and not (resume and ckpt_path.is_file()):
        copied, kept = init_from(model, cfg.init)
        if on_progress and rank == 0:
            on_progress("init", {"source": cfg.init, "copied": copied, "kept": kept})
    model = model.to(device)
    segment = int(round(cfg.segment * cfg.sample_rate))
    train_tracks = [t for d in cfg.data for t in find_tracks(d, cfg.sources, "train")]
    valid_tracks = [t for d in cfg.data for t in find_tracks(d, cfg.sources, "valid")]
    if on_progress and rank == 0:
        on_progress("data", {"train": len(train_tracks), "valid": len(valid_tracks)})
    voices = (RealSolos(cfg.real_vocals, cfg.sample_rate, level_db=cfg.real_vocals_level_db)
              if cfg.real_vocals and cfg.real_vocals_prob > 0 else None)
    instruments = (RealSolos(cfg.real_other, cfg.sample_rate, level_db=cfg.real_other_level_db,
                             option="--real-other")
                   if cfg.real_other and cfg.real_other_prob > 0 else None)
    valid_voices, valid_instruments = _valid_pools(cfg)
    train_set = StemsDataset(train_tracks, cfg.sources, segment, cfg.audio_channels,
                             cfg.examples, augment=True, seed=cfg.seed, real_vocals=voices,
                             real_vocals_prob=cfg.real_vocals_prob, record=_record(cfg),
                             real_other=instruments, real_other_prob=cfg.real_other_prob)
    valid_set = StemsDataset(valid_tracks, cfg.sources, segment, cfg.audio_channels,
                             cfg.valid_examples, augment=False, seed=cfg.seed + 1)
    from torch.utils.data.distributed import DistributedSampler

    sampler: DistributedSampler | None = (
        DistributedSampler(train_set, world, rank, shuffle=True, seed=cfg.seed)
        if world > 1 else None)
    train_loader = torch.utils.data.DataLoader(
        train_set, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler,
        num_workers=cfg.workers, drop_last=True)  # workers re-created per epoch: they see
    # the dataset's new epoch and track list (persistent workers would keep stale copies)
    valid_loader = torch.utils.data.DataLoader(valid_set, batch_size=cfg.batch_size,
                                               num_workers=cfg.workers)
    valid_real_loader = None
    if valid_voices is not None or valid_instruments is not None:
        valid_real_set = StemsDataset(valid_tracks, cfg.sources, segment, cfg.audio_channels,
                                      cfg.valid_examples, augment=False, seed=cfg.seed + 1,
                                      real_vocals=valid_voices, real_vocals_prob=1.0,
                                      real_other=valid_instruments, real_other_prob=1.0)
        valid_real_loader = torch.utils.data.DataLoader(valid_real_set,
                                                        batch_size=cfg.batch_size,
                                                        num_workers=cfg.workers)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5,
                                                           patience=max(1, cfg.patience // 3))
    state: dict[str, Any] = {"epoch": 0, "step": 0, "history": [], "best": -math.inf,
                             "best_epoch": 0, "seconds": 0.0}
    if resume and ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path, device, migrate=True)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        state = ckpt["state"]
        for group in optimizer.param_groups:  # the configured rate wins over the saved one
            group["lr"] = cfg.lr
    if cfg.init and state["epoch"] == 0 and not state["history"]:
        # the starting point of a fine-tuning run: kept as best.pt until an epoch beats it
        initial: dict[str, Any] = {"valid": validate(model, valid_loader, device, cfg.sources)}
        if valid_real_loader is not None:
            initial["valid_real"] = validate(model, valid_real_loader, device, cfg.sources)
        initial["score"] = selection_score(initial, cfg.select)
        state["initial"] = initial
        if not math.isnan(initial["score"]):
            state["best"], state["best_epoch"] = initial["score"], 0
        if rank == 0:
            save_checkpoint(out / "best.pt", {"model": model.state_dict()})
            if on_progress:
                on_progress("initial", initial)
    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model)
    start_time = time.perf_counter() - state["seconds"]
    while state["epoch"] < cfg.epochs:
        epoch = state["epoch"] + 1
        # re-scan the folders: a corpus still being rendered grows between epochs
        train_set.tracks = [t for d in cfg.data for t in find_tracks(d, cfg.sources, "train")]
        valid_set.tracks = [t for d in cfg.data for t in find_tracks(d, cfg.sources, "valid")]
        train_set.set_epoch(epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        net.train()
        total, n = 0.0, 0
        for mix, src in train_loader:
            mix, src = mix.to(device), src.to(device)
            est = net(mix)
            loss, parts = hybrid_loss(model, est, src, mix, cfg.alpha, cfg.beta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state["step"] += 1
            total += float(loss.detach())
            n += 1
            if on_progress and rank == 0:
                on_progress("step", {"epoch": epoch, "loss": float(loss.detach()), **parts})
            if cfg.max_steps and state["step"] >= cfg.max_steps:
                break
        valid = validate(model, valid_loader, device, cfg.sources)
        entry: dict[str, Any] = {"epoch": epoch, "train_loss": total / max(n, 1),
                                 "valid": valid}
        if valid_real_loader is not None:
            entry["valid_real"] = validate(model, valid_real_loader, device, cfg.sources)
        score = selection_score(entry, cfg.select)
        scheduler.step(score if not math.isnan(score) else -math.inf)
        state["epoch"] = epoch
        state["seconds"] = time.perf_counter() - start_time
        entry.update({"score": score, "lr": optimizer.param_groups[0]["lr"],
                      "seconds": state["seconds"]})
        state["history"].append(entry)
        improved = score > state["best"]
        if improved:
            state["best"], state["best_epoch"] = score, epoch
        if rank == 0:
            if improved:
                save_checkpoint(out / "best.pt", {"model": model.state_dict()})
            save_checkpoint(ckpt_path, {"model": model.state_dict(),
                                        "optimizer": optimizer.state_dict(),
                                        "scheduler": scheduler.state_dict(), "state": state})
            (out / "history.json").write_text(json.dumps(state["history"], indent=1))
            plot_history(state["history"], out / "loss.png")
            if on_progress:
                on_progress("epoch", state["history"][-1])
        if epoch - state["best_epoch"] >= cfg.patience:
            break
        if cfg.max_steps and state["step"] >= cfg.max_steps:
            break
    return {"best_epoch": state["best_epoch"], "best_valid": state["best"],
            "initial": state.get("initial"),
            "history": state["history"], "seconds": state["seconds"], "model": model}
