"""Simple models for testing the engine and the registry: identity, fixed gains, a tiny network.

They honour the separation-model contract (``separate.nets.contract``) and are buildable from a
card (``arch = "identity" | "gains" | "tiny"``).
"""

from __future__ import annotations

import torch
from torch import nn

from separate.nets.arch import register

DEFAULT_SOURCES = ["vocals", "drums", "bass", "other"]


@register("identity")
class IdentityModel(nn.Module):
    """Every source is the mixture times ``1 / len(sources)``: stems sum exactly to the input.

    Args:
        sources: stem names (default vocals, drums, bass, other).
        sample_rate: Hz (default 44100).
        audio_channels: 1 or 2 (default 2).
    """

    def __init__(
        self,
        sources: list[str] | None = None,
        sample_rate: int = 44100,
        audio_channels: int = 2,
    ):
        super().__init__()
        self.sources = list(sources or DEFAULT_SOURCES)
        self.sample_rate = sample_rate
        self.audio_channels = audio_channels
        self._scale: torch.Tensor
        self.register_buffer("_scale", torch.tensor(1.0 / len(self.sources)))

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        """``mix: [batch, channels, time]`` → ``[batch, sources, channels, time]``."""
        return (mix * self._scale).unsqueeze(1).expand(-1, len(self.sources), -1, -1).clone()

    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        return []


@register("gains")
class FixedGainsModel(nn.Module):
    """Source ``i`` is the mixture times ``gains[i]`` (gains need not sum to one).

    Args:
        gains: one float per source.
        sources, sample_rate, audio_channels: as :class:`IdentityModel`.
    """

    def __init__(
        self,
        gains: list[float],
        sources: list[str] | None = None,
        sample_rate: int = 44100,
        audio_channels: int = 2,
    ):
        super().__init__()
        self.sources = list(sources or DEFAULT_SOURCES[: len(gains)])
        if len(self.sources) != len(gains):
            raise ValueError("one gain per source")
        self.sample_rate = sample_rate
        self.audio_channels = audio_channels
        self.gains = nn.Parameter(torch.tensor(gains, dtype=torch.float32))

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        return mix.unsqueeze(1) * self.gains.view(1, -1, 1, 1)

    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        return [("G", [self.gains])]


@register("tiny")
class TinyConvModel(nn.Module):
    """A small random time-domain convolutional network (for seams and adaptation tests).

    ``mix [B, C, T]`` → conv1d (C → hidden, kernel 9) → tanh → conv1d (hidden → S·C, kernel 9).

    Args:
        sources, sample_rate, audio_channels: as :class:`IdentityModel`.
        hidden: hidden channels (default 8).
    """

    def __init__(
        self,
        sources: list[str] | None = None,
        sample_rate: int = 44100,
        audio_channels: int = 2,
        hidden: int = 8,
    ):
        super().__init__()
        self.sources = list(sources or DEFAULT_SOURCES)
        self.sample_rate = sample_rate
        self.audio_channels = audio_channels
        self.conv1 = nn.Conv1d(audio_channels, hidden, 9, padding=4)
        self.conv2 = nn.Conv1d(hidden, len(self.sources) * audio_channels, 9, padding=4)

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        b, c, t = mix.shape
        y = self.conv2(torch.tanh(self.conv1(mix)))
        return y.view(b, len(self.sources), c, t)

    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        return [("L1", list(self.conv1.parameters())), ("D", list(self.conv2.parameters()))]
