"""The adaptation loop: fine-tune a pretrained model on the one mixture it will separate.

Cantisani et al. (2021), Sec. 3 and 5: the model is fine-tuned on the test mixture ``y`` alone,
with the user's activations ``h`` and the loss of Eq. 1, for 10 epochs over 4-second segments of
the mixture, learning rate 1e-5, batch size 1, Ranger; only a contiguous range of stages is
trained (Sec. 5.1). ``loss="reconstruction"`` gives the B-Lx baseline.

**An epoch** is one pass over the segments of ``segment`` seconds that start every ``hop``
seconds (default ``hop = segment``: consecutive, non-overlapping; the last one is moved back to end
on the track's last sample, so every segment is full; a track shorter than a segment is one
segment), in a random order drawn from ``seed``. The paper only says "4-second-long segments
extracted from the mixture"; the authors' code (giorgiacantisani/ugosa, ``adapt_general.py``)
takes windows every 1 s (``--hop 1``), i.e. four times more steps per epoch at 4 s segments.

**Batch norm and dropout.** The model stays in ``eval()`` mode for the whole adaptation: batch-
norm layers keep normalising with the running statistics learnt in pre-training (one mixture at
batch size 1 would give noisy statistics, and updating them would shift even the frozen stages),
dropout is off. The affine weights of a batch-norm layer are trained when their stage is selected,
like any other parameter.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch

from separate.adapt.loss import activation_loss, reconstruction_loss
from separate.adapt.optim import make_optimizer
from separate.adapt.stages import count_parameters, freeze_except, select_stages
from separate.errors import UsageError
from separate.progress import ProgressCallback, ProgressEvent

LOSSES = ("activations", "reconstruction")
OPTIMIZERS = ("ranger", "adam")


@dataclass
class AdaptConfig:
    """Hyper-parameters of one adaptation (defaults: Cantisani et al., Sec. 5).

    Attributes:
        layers: stage range to train, e.g. ``"L3:D"`` (:mod:`separate.adapt.stages`).
        epochs: passes over the mixture (10).
        lr: learning rate (1e-5).
        lam: ``λ`` of Eq. 1, the weight of the silent-source term (1).
        segment: segment length in seconds (4).
        hop: seconds between segment starts (``None`` = ``segment``, non-overlapping).
        batch_size: segments per step (1).
        optimizer: ``"ranger"`` (RAdam + Lookahead) or ``"adam"``.
        loss: ``"activations"`` (Eq. 1, P-Lx) or ``"reconstruction"`` (B-Lx baseline).
        seed: seeds the segment order and torch's RNG.
    """

    layers: str = "L3:D"
    epochs: int = 10
    lr: float = 1e-5
    lam: float = 1.0
    segment: float = 4.0
    hop: float | None = None
    batch_size: int = 1
    optimizer: str = "ranger"
    loss: str = "activations"
    seed: int = 0

    def check(self) -> None:
        """Raise ``ValueError`` on an impossible setting."""
        if self.epochs < 0:
            raise ValueError("epochs must be >= 0")
        if not self.lr > 0:
            raise ValueError("lr must be > 0")
        if self.lam < 0:
            raise ValueError("lambda must be >= 0")
        if not self.segment > 0:
            raise ValueError("segment must be > 0 seconds")
        if self.hop is not None and not self.hop > 0:
            raise ValueError("hop must be > 0 seconds")
        if self.batch_size < 1:
            raise ValueError("batch size must be >= 1")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}")


@dataclass
class AdaptResult:
    """What an adaptation did.

    Attributes:
        stages: names of the trained stages.
        trainable_parameters: scalar weights trained (the paper's #TP).
        epoch_losses: mean loss of each epoch (same loss as the one optimised).
        initial_loss: loss over all segments before the first step.
        final_loss: loss over all segments after the last step.
        steps: optimiser steps taken.
        seconds: wall time of the whole call (s).
        train_seconds: wall time of the optimiser steps only (s); the rest is the two loss
            evaluations over the whole mixture (``initial_loss``, ``final_loss``).
        config: the :class:`AdaptConfig` used.
    """

    stages: list[str]
    trainable_parameters: int
    epoch_losses: list[float] = field(default_factory=list)
    initial_loss: float = math.nan
    final_loss: float = math.nan
    steps: int = 0
    seconds: float = 0.0
    train_seconds: float = 0.0
    config: dict = field(default_factory=dict)


def segment_starts(
    num_samples: int, segment_samples: int, hop_samples: int | None = None
) -> list[int]:
    """Start samples of the segments covering a track, ``hop_samples`` apart (default: the
    segment length), the last one ending on the last sample (see the module doc)."""
    if num_samples <= segment_samples:
        return [0]
    step = max(1, hop_samples or segment_samples)
    starts = list(range(0, num_samples - segment_samples + 1, step))
    if starts[-1] + segment_samples < num_samples:
        starts.append(num_samples - segment_samples)
    return starts


def adapt_model(
    model: torch.nn.Module,
    mix: torch.Tensor,
    h: torch.Tensor,
    config: AdaptConfig | None = None,
    on_progress: ProgressCallback | None = None,
) -> AdaptResult:
    """Fine-tune ``model`` in place on one mixture (Cantisani et al., Sec. 3.2 and 5).

    Args:
        model: a separation model (contract of ``separate.nets.contract``), on its device.
        mix: ``[channels, time]`` mixture at ``model.sample_rate`` with ``model.audio_channels``
            channels.
        h: ``[sources, time]`` sample-level activations (bool or 0/1) in the model's source
            order; ignored by the reconstruction loss.
        config: hyper-parameters (default :class:`AdaptConfig`).
        on_progress: called after every step with
            ``ProgressEvent("steps", step, total_steps, "steps", "loss …", value=loss)``.

    Returns:
        An :class:`AdaptResult`. The model is left in eval mode with the selected stages'
        ``requires_grad`` still True.

    Raises:
        separate.errors.UsageError: a bad stage range, or a model with no parameters.
        ValueError: a bad config or tensors of mismatched shapes.
    """
    config = config or AdaptConfig()
    config.check()
    sources = list(model.sources)  # type: ignore[attr-defined]
    if mix.dim() != 2 or mix.shape[0] != model.audio_channels:  # type: ignore[attr-defined]
        raise ValueError(f"mix must be [{model.audio_channels}, time], got {tuple(mix.shape)}")
    if h.shape != (len(sources), mix.shape[-1]):
        raise ValueError(f"h must be [{len(sources)}, {mix.shape[-1]}], got {tuple(h.shape)}")
    first = next(model.parameters(), None)
    if first is None:
        card = getattr(model, "card", None)
        name = card.name if card is not None else type(model).__name__
        raise UsageError(f"model {name!r} has no parameters, so it cannot be adapted "
                         "(choose a trained model, e.g. -m default)")
    device = first.device
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)

    model.eval()  # batch norm keeps its running statistics, dropout off (module doc)
    stages = select_stages(model, config.layers)
    params = freeze_except(model, config.layers)
    optimizer = make_optimizer(config.optimizer, params, config.lr)

    seg = max(1, int(round(config.segment * model.sample_rate)))  # type: ignore[attr-defined]
    hop = None if config.hop is None else max(1, int(round(config.hop * model.sample_rate)))
    starts = segment_starts(mix.shape[-1], seg, hop)
    length = min(seg, mix.shape[-1])
    mix = mix.to(device=device, dtype=torch.float32)
    h = h.to(device=device, dtype=torch.float32)

    def batch_loss(idx: list[int]) -> torch.Tensor:
        y = torch.stack([mix[:, s : s + length] for s in idx])  # [B, C, L]
        est = model(y)  # [B, S, C, L]
        if config.loss == "reconstruction":
            return reconstruction_loss(est, y)
        hb = torch.stack([h[:, s : s + length] for s in idx])  # [B, S, L]
        return activation_loss(est, y, hb, config.lam)  # Eq. 1

    @torch.no_grad()
    def full_loss() -> float:
        total = 0.0
        for s in starts:
            total += float(batch_loss([s]))
        return total / len(starts)

    result = AdaptResult(
        stages=stages, trainable_parameters=count_parameters(params), config=asdict(config)
    )
    t0 = time.perf_counter()
    result.initial_loss = full_loss()
    t_train = time.perf_counter()
    steps_per_epoch = math.ceil(len(starts) / config.batch_size)
    total = steps_per_epoch * config.epochs
    step = 0
    for _ in range(config.epochs):
        order = torch.randperm(len(starts), generator=generator).tolist()
        losses = []
        for b in range(0, len(order), config.batch_size):
            idx = [starts[j] for j in order[b : b + config.batch_size]]
            optimizer.zero_grad()
            loss = batch_loss(idx)
            loss.backward()
            optimizer.step()
            step += 1
            losses.append(loss.item())
            if on_progress is not None:
                on_progress(ProgressEvent("steps", step, total, "steps",
                                          f"loss {losses[-1]:.5f}", value=losses[-1]))
        result.epoch_losses.append(sum(losses) / len(losses))
    result.steps = step
    result.train_seconds = time.perf_counter() - t_train
    result.final_loss = full_loss()
    result.seconds = time.perf_counter() - t0
    return result


def gate(stems: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``--gate``: multiply estimates ``[..., sources, channels, time]`` by the sample-level
    activations ``h[sources, time]`` (the paper applies the binary activations to every model's
    outputs before evaluating, Sec. 5)."""
    return stems * h.to(stems.dtype).unsqueeze(-2)
