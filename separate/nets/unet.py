"""Complex-mask spectrogram U-Net for multi-source separation (Jansson 2019, Ch. 4 and Ch. 6).

Architecture (Jansson Ch. 6.3.1, Fig. 6.2), adapted to stereo 44.1 kHz and to all sources from
one forward pass:

- STFT of each channel (``n_fft`` 2048, hop 512 at 44.1 kHz: the 46 ms window of Ch. 6.3.2's
  1024/256 at 22.05 kHz); the lowest ``bins`` frequency bins (default 512, up to 11 kHz, as
  Spleeter does) go through the network.
- Input: log-compressed magnitudes ``log1p(|X|)`` of both channels as two image channels
  (the channels are handled jointly, so inter-channel cues are available), input batch norm.
- Encoder: six 5×5 convolutions with stride 2, batch norm (not on the first), leaky ReLU 0.2.
- Decoder: six 5×5 transposed convolutions with stride 2, skip connections by concatenation,
  batch norm and ReLU on all but the last, 50 % dropout on the first ``dropout_layers`` (three,
  as in Ch. 4; Ch. 6 uses five).
- Output: for every source and channel a complex mask in polar form, ``O = O₀·e^{iO₁}``
  (Eq. 6.4), bounded in magnitude, ``|M| = tanh(|O|)`` (Eq. 6.7), with phase ``∠M = ∠O``
  (Eq. 6.8), applied as ``Ŷ = |M|·|X|·e^{i(∠M + ∠X)}`` (Eq. 6.9). Bins above ``bins`` get the
  mean mask of the top 32 processed bins (Spleeter's mask extension).

The whole network is shared by the sources (one encoder, one decoder, ``2·S·C`` output maps);
``per_source=True`` builds one such network per source instead (Jansson's Ch. 4 setting, one
U-Net per instrument), all run in the same forward pass. :meth:`stages` groups parameters as
``L1..L6`` (encoder), ``M`` (the deepest decoder layer) and ``D`` (the rest of the decoder), the
P-Lx:D / P-Lx:M notation of Cantisani et al. Sec. 5.1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from separate.audio.stft import istft, stft
from separate.nets.arch import register


@register("unet")
class ComplexUNet(nn.Module):
    """Complex-mask U-Net (Jansson Ch. 6) over stereo STFTs, all sources at once.

    Args:
        sources: stem names (default vocals, drums, bass, other).
        sample_rate: Hz (default 44100).
        audio_channels: 1 or 2 (default 2).
        n_fft: STFT size in samples (default 2048).
        hop: STFT hop in samples (default 512).
        bins: frequency bins through the network, a multiple of 64 (default 512).
        channels: encoder widths, six values (default 16, 32, 64, 128, 256, 256).
        dropout_layers: decoder layers with 50 % dropout (default 3).
        net_sources: the sources the network itself estimates, when ``sources`` are groups of
            them (default: ``sources``).
        groups: for each name of ``sources``, the ``net_sources`` whose masks it sums; e.g. a
            2-stem card over 4-stem weights: ``sources = [vocals, accompaniment]``,
            ``groups = [[vocals], [drums, bass, other]]``.
        per_source: one U-Net of these widths per net source (``S`` times the parameters and
            compute) instead of one shared network.

    Shapes:
        ``forward(mix [B, C, T]) -> [B, S, C, T]`` for any ``T``; frames are padded internally
        to a multiple of 64.
    """

    def __init__(
        self,
        sources: list[str] | None = None,
        sample_rate: int = 44100,
        audio_channels: int = 2,
        n_fft: int = 2048,
        hop: int = 512,
        bins: int = 512,
        channels: list[int] | None = None,
        dropout_layers: int = 3,
        net_sources: list[str] | None = None,
        groups: list[list[str]] | None = None,
        per_source: bool = False,
    ):
        super().__init__()
        self.sources = list(sources or ["vocals", "drums", "bass", "other"])
        self.net_sources = list(net_sources or self.sources)
        self.groups: list[list[int]] | None = None
        if groups is not None:
            if len(groups) != len(self.sources):
                raise ValueError("groups: one list of net_sources per source")
            unknown = [g for grp in groups for g in grp if g not in self.net_sources]
            if unknown:
                raise ValueError(f"groups name unknown net_sources: {', '.join(unknown)}")
            self.groups = [[self.net_sources.index(g) for g in grp] for grp in groups]
        elif self.net_sources != self.sources:
            raise ValueError("net_sources differ from sources: give groups")
        self.sample_rate = sample_rate
        self.audio_channels = audio_channels
        self.n_fft = n_fft
        self.hop = hop
        self.bins = bins
        widths = list(channels or [16, 32, 64, 128, 256, 256])
        if len(widths) != 6:
            raise ValueError("channels must list six encoder widths")
        if bins % 64 or bins > n_fft // 2:
            raise ValueError("bins must be a multiple of 64 and at most n_fft / 2")
        c, s = audio_channels, len(self.net_sources)
        self.branches: nn.ModuleList | None = None
        if per_source:  # one complete single-source U-Net per net source
            self.branches = nn.ModuleList(
                ComplexUNet([name], sample_rate, audio_channels, n_fft, hop, bins, widths,
                            dropout_layers)
                for name in self.net_sources
            )
            return
        self.input_norm = nn.BatchNorm2d(c)
        self.encoder = nn.ModuleList()
        cin = c
        for i, w in enumerate(widths):
            layers: list[nn.Module] = [nn.Conv2d(cin, w, 5, stride=2, padding=2)]
            if i > 0:
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.LeakyReLU(0.2))
            self.encoder.append(nn.Sequential(*layers))
            cin = w
        self.decoder = nn.ModuleList()
        outs = widths[-2::-1] + [2 * s * c]  # 256,128,64,32,16, then the mask maps
        for i, w in enumerate(outs):
            cin_i = widths[-1] if i == 0 else 2 * outs[i - 1]
            layers = [nn.ConvTranspose2d(cin_i, w, 5, stride=2, padding=2, output_padding=1)]
            if i < len(outs) - 1:
                layers += [nn.BatchNorm2d(w), nn.ReLU()]
                if i < dropout_layers:
                    layers.append(nn.Dropout(0.5))
            self.decoder.append(nn.Sequential(*layers))

    # -- spectral front end ------------------------------------------------------------------
    def stft(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, T]`` → complex ``[B, C, n_fft/2 + 1, frames]`` (Hann, centred)."""
        return stft(x, self.n_fft, self.hop)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Complex ``[..., freq, frames]`` → ``[..., length]``."""
        return istft(spec, self.n_fft, self.hop, length)

    def masks(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex masks ``[B, S, C, freq, frames]`` for a mixture STFT ``[B, C, freq, frames]``
        (Eqs. 6.4, 6.7, 6.8)."""
        if self.branches is not None:  # one single-source network per net source
            mask = torch.cat([branch.masks(spec) for branch in self.branches], dim=1)
        else:
            mask = self._network_masks(spec)
        if self.groups is not None:  # sources that are sums of the network's sources
            mask = torch.stack([mask[:, idx].sum(1) for idx in self.groups], dim=1)
        return mask

    def _network_masks(self, spec: torch.Tensor) -> torch.Tensor:
        """Masks ``[B, len(net_sources), C, freq, frames]`` of this (shared) network."""
        b, c, f, n = spec.shape
        s = len(self.net_sources)
        mag = spec[:, :, : self.bins].abs()
        pad = (-n) % 64
        x = self.input_norm(torch.log1p(mag))
        if pad:
            x = F.pad(x, (0, pad))
        skips = []
        for layer in self.encoder:
            x = layer(x)
            skips.append(x)
        skips.pop()  # the deepest output is the decoder's input, not a skip
        for i, layer in enumerate(self.decoder):
            if i > 0:
                x = torch.cat([x, skips.pop()], dim=1)
            x = layer(x)
        x = x[..., :n].reshape(b, s, c, 2, self.bins, n)
        o_mag, o_phase = x[:, :, :, 0], x[:, :, :, 1]
        # Eq. 6.4: O = O0·e^{iO1}; Eq. 6.7: |M| = tanh(|O|); Eq. 6.8: ∠M = ∠O
        sign = torch.where(o_mag < 0, -1.0, 1.0)
        mask = torch.tanh(o_mag.abs()) * torch.polar(sign, o_phase)
        if f > self.bins:  # mask extension for the bins above the network's band
            top = mask[..., -32:, :].mean(dim=-2, keepdim=True)
            mask = torch.cat([mask, top.expand(*top.shape[:-2], f - self.bins, n)], dim=-2)
        return mask

    @property
    def chunk_align(self) -> int:
        """Shifts (samples) under which the network is equivariant: six stride-2 layers over
        frames of ``hop`` samples → ``64·hop``. The engine starts chunks on this grid."""
        return 64 * self.hop

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        """``mix [B, C, T]`` → sources ``[B, S, C, T]`` (Eq. 6.9 then the inverse STFT)."""
        spec = self.stft(mix)
        est = self.masks(spec) * spec.unsqueeze(1)  # Eq. 6.9: |M||X|e^{i(∠M+∠X)}
        return self.istft(est, mix.shape[-1])

    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        """``L1..L6`` (encoder; L1 includes the input norm), ``M`` (deepest decoder layer),
        ``D`` (the rest of the decoder); with ``per_source``, each stage holds that stage of
        every source's network."""
        if self.branches is not None:
            merged: dict[str, list[nn.Parameter]] = {}
            for branch in self.branches:
                for name, params in branch.stages():
                    merged.setdefault(name, []).extend(params)
            return list(merged.items())
        groups = [(f"L{i + 1}", list(layer.parameters())) for i, layer in enumerate(self.encoder)]
        groups[0][1].extend(self.input_norm.parameters())
        groups.append(("M", list(self.decoder[0].parameters())))
        groups.append(("D", [p for layer in self.decoder[1:] for p in layer.parameters()]))
        return groups
