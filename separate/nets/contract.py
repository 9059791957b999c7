"""The separation-model contract every architecture honours (DESIGN.md, "The contracts").

A separation model is a ``torch.nn.Module`` with

- ``sources: list[str]`` — names of the stems it outputs, in order;
- ``sample_rate: int`` — the rate (Hz) it expects;
- ``audio_channels: int`` — 1 (mono) or 2 (stereo);
- ``forward(mix)`` — ``mix: Tensor[batch, channels, time]`` → ``Tensor[batch, sources, channels,
  time]`` (same ``time``);
- ``stages()`` — its parameters as named groups ordered from input to output (e.g.
  ``L1..L6, M, D``), so that ``adapt --layers L3:D`` can select a contiguous range.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class SeparationModel(Protocol):
    sources: list[str]
    sample_rate: int
    audio_channels: int

    def __call__(self, mix: torch.Tensor) -> torch.Tensor: ...

    def stages(self) -> list[tuple[str, list[torch.nn.Parameter]]]: ...


def check_contract(model: object) -> None:
    """Raise ``TypeError`` naming the first missing piece of the contract."""
    for attr in ("sources", "sample_rate", "audio_channels", "forward", "stages"):
        if not hasattr(model, attr):
            raise TypeError(f"{type(model).__name__} lacks `{attr}` (separation-model contract)")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{type(model).__name__} is not a torch.nn.Module")
    if int(model.audio_channels) not in (1, 2):  # type: ignore[attr-defined]
        raise TypeError("audio_channels must be 1 or 2")
