"""Few-shot conditioned U-Net (Wang et al., "Few-shot musical source separation", ICASSP 2022).

Three pieces, all from Sec. 2 of the paper:

- :class:`FiLMUNet` — the separation U-Net on the log-compressed STFT (22.05 kHz mono, n_fft 1024,
  hop 256): six encoder layers (5×5 conv, stride 2, 16→512 channels, batch norm, leaky ReLU), a
  mirrored transposed-convolution decoder with skip connections, a FiLM layer after the bottleneck
  (``γ(z)·x + β(z)``), and a two-channel complex mask whose magnitude is squashed by a sigmoid.
- :class:`ConditioningEncoder` — four blocks (64-filter 3×3 conv, batch norm, ReLU, 2×2 max-pool),
  max-pool over time, flatten to a 512-d embedding per example (Sec. 2.2).
- Two separation models honouring the contract (``separate.nets.contract``), with sources
  ``[target, "residual"]``, ``sample_rate`` 22050 and ``audio_channels`` 1:

  * ``arch = "fewshot"`` (:class:`FewShotSeparator`): conditioned on audio examples, optionally
    with negative examples (Sec. 3.5: positives and negatives averaged separately, concatenated,
    FC + ReLU);
  * ``arch = "fewshot-class"`` (:class:`ClassConditionedSeparator`): the baseline of Sec. 2.1,
    conditioned on a one-hot vector over the 18-class vocabulary.

  Set the conditioning first (``model.condition(examples, negatives)`` or
  ``model.condition("piano")``); it is cached, so the shared engine can then call
  ``model(mix)`` chunk by chunk like any other separation model.

Our readings where the paper is silent (stated so a reader can change them):

- The conditioning encoder sees a 128-band mel projection of the log-compressed magnitude: the
  paper's 512-d embedding from 64 filters implies 8 frequency rows after four 2× poolings, i.e. a
  128-row input (a 513-bin linear spectrogram would give 2048).
- Complex mask: the decoder outputs ``O = o_re + i·o_im``; the mask is ``M = O / (1 + |O|)``,
  i.e. magnitude ``sigmoid(log|O|)`` ∈ [0, 1) with the phase of ``O`` (a sigmoid on ``|O|``
  itself could never go below 0.5).
- Log compression is ``log1p(|X|)`` with the mixture phase kept; decompression is ``expm1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from separate.audio.stft import istft, stft
from separate.nets.arch import register

SAMPLE_RATE = 22050
N_FFT = 1024
HOP = 256


class Spectrogram(nn.Module):
    """STFT helper: ``wave [B, T]`` ↔ complex ``[B, F, frames]`` (Hann window, centred).

    Args:
        n_fft: FFT size in samples (1024 at 22.05 kHz, Sec. 2.1).
        hop: hop size in samples (256).
    """

    def __init__(self, n_fft: int = N_FFT, hop: int = HOP):
        super().__init__()
        self.n_fft = n_fft
        self.hop = hop

    def stft(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` → complex ``[B, n_fft//2+1, ceil(T/hop)+1]``."""
        return stft(wave, self.n_fft, self.hop)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """complex ``[B, F, frames]`` → ``[B, length]``."""
        return istft(spec, self.n_fft, self.hop, length)


def compress(mag: torch.Tensor) -> torch.Tensor:
    """Log compression of a magnitude (Sec. 2.1): ``log(1 + |X|)``."""
    return torch.log1p(mag)


def decompress(mag: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`compress`: ``exp(m) - 1``."""
    return torch.expm1(mag)


class ConditioningEncoder(nn.Module):
    """Few-shot conditioning encoder (Sec. 2.2): one embedding per audio example.

    ``spec [N, 1, n_mels, frames]`` (log-compressed mel magnitude) → four blocks (3×3 conv with
    ``filters`` channels, batch norm, ReLU, 2×2 max-pool) → max over time → flatten →
    ``[N, filters · n_mels / 16]`` (512 for 64 filters and 128 mels).

    Args:
        filters: channels of every conv block (64).
        n_mels: input frequency rows (128); must be divisible by 16.
        blocks: number of blocks (4).
    """

    def __init__(self, filters: int = 64, n_mels: int = 128, blocks: int = 4):
        super().__init__()
        if n_mels % (2**blocks):
            raise ValueError(f"n_mels={n_mels} must be divisible by {2**blocks}")
        layers: list[nn.Module] = []
        cin = 1
        for _ in range(blocks):
            layers += [
                nn.Conv2d(cin, filters, 3, padding=1),
                nn.BatchNorm2d(filters),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            cin = filters
        self.net = nn.Sequential(*layers)
        self.dim = filters * n_mels // (2**blocks)
        self.min_frames = 2**blocks

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """``[N, 1, n_mels, frames]`` → ``[N, dim]``."""
        h = self.net(spec)  # [N, filters, n_mels/16, frames/16]
        h = h.amax(dim=-1)  # max-pool over time: variable-length examples (Sec. 2.2)
        return h.flatten(1)


class FiLMUNet(nn.Module):
    """The conditioned separation U-Net of Sec. 2.1 (one target per forward pass).

    ``mix [B, T]`` (22.05 kHz mono) and ``z [B, cond_dim]`` → target estimate ``[B, T]``.

    Args:
        cond_dim: size of the conditioning vector ``z`` (512 few-shot, 18 one-hot).
        channels: encoder widths, input to bottleneck (16, 32, 64, 128, 256, 512).
        n_fft, hop: STFT (1024, 256).
        kernel: conv kernel size (5).
        dropout: dropout on the first three decoder layers (0.5, as in the Jansson et al. U-Net
            the paper builds on; our reading).
    """

    def __init__(
        self,
        cond_dim: int,
        channels: Sequence[int] = (16, 32, 64, 128, 256, 512),
        n_fft: int = N_FFT,
        hop: int = HOP,
        kernel: int = 5,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.spec = Spectrogram(n_fft, hop)
        self.channels = list(channels)
        self.depth = len(self.channels)
        pad = kernel // 2
        self.encoder = nn.ModuleList()
        cin = 1
        for c in self.channels:  # Sec. 2.1: 5×5 conv, stride 2, BN, leaky ReLU; n_i = 2 n_{i-1}
            self.encoder.append(
                nn.Sequential(
                    nn.Conv2d(cin, c, kernel, stride=2, padding=pad),
                    nn.BatchNorm2d(c),
                    nn.LeakyReLU(0.2),
                )
            )
            cin = c
        # FiLM after the bottleneck (Sec. 2.1): FiLM(x) = γ(z)·x + β(z), per channel.
        self.gamma = nn.Linear(cond_dim, self.channels[-1])
        self.beta = nn.Linear(cond_dim, self.channels[-1])
        self.decoder = nn.ModuleList()
        rev = self.channels[::-1]
        for i, c in enumerate(rev):
            cin = c if i == 0 else 2 * c  # skip connections double the input channels
            last = i == self.depth - 1
            cout = 2 if last else rev[i + 1]  # two-channel complex mask at the output
            deconv = nn.ConvTranspose2d(
                cin, cout, kernel, stride=2, padding=pad, output_padding=1
            )
            if last:
                self.decoder.append(deconv)
            else:
                self.decoder.append(
                    nn.Sequential(
                        deconv,
                        nn.BatchNorm2d(cout),
                        nn.ReLU(),
                        nn.Dropout(dropout if i < 3 else 0.0),
                    )
                )

    def stage_groups(self) -> list[tuple[str, list[nn.Parameter]]]:
        """``L1..L6`` (encoder), ``M`` (FiLM), ``D1..D6`` (decoder), input to output."""
        out = [(f"L{i + 1}", list(m.parameters())) for i, m in enumerate(self.encoder)]
        out.append(("M", [*self.gamma.parameters(), *self.beta.parameters()]))
        out += [(f"D{i + 1}", list(m.parameters())) for i, m in enumerate(self.decoder)]
        return out

    def forward(self, mix: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``mix [B, T]``, ``z [B, cond_dim]`` → ``[B, T]`` (the masked, decompressed target)."""
        return self.separate_spec(mix, z)[0]

    def separate_spec(
        self, mix: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Like :meth:`forward`, also returning the estimate's complex STFT ``[B, F, frames]``."""
        length = mix.shape[-1]
        X = self.spec.stft(mix)  # [B, F, N]
        mag, phase = X.abs(), torch.angle(X)
        Xc = torch.polar(compress(mag), phase)  # log-compressed complex spectrogram (Sec. 2.1)
        feat = compress(mag)[:, None, :-1]  # drop the Nyquist bin: F = n_fft/2, divisible by 2^6
        n_frames = feat.shape[-1]
        mult = 2**self.depth
        pad_t = (-n_frames) % mult
        if (feat.shape[-2]) % mult:
            raise ValueError(f"n_fft/2={feat.shape[-2]} must be divisible by {mult}")
        feat = F.pad(feat, (0, pad_t))
        skips = []
        h = feat
        for layer in self.encoder:
            h = layer(h)
            skips.append(h)
        h = self.gamma(z)[:, :, None, None] * h + self.beta(z)[:, :, None, None]  # FiLM
        for i, layer in enumerate(self.decoder):
            if i > 0:
                h = torch.cat([h, skips[self.depth - 1 - i]], dim=1)
            h = layer(h)
        o = torch.complex(h[:, 0], h[:, 1])[:, :, :n_frames]  # [B, F-1, N]
        mask = o / (1.0 + o.abs())  # |M| = sigmoid(log|O|) ∈ [0, 1), phase of O (our reading)
        mask = F.pad(torch.view_as_real(mask), (0, 0, 0, 0, 0, 1))  # Nyquist bin: mask 0
        Yc = Xc * torch.view_as_complex(mask.contiguous())  # complex multiplication
        Y = torch.polar(decompress(Yc.abs()), torch.angle(Yc))  # decompression
        return self.spec.istft(Y, length), Y


class _TargetResidualModel(nn.Module):
    """Shared plumbing: contract attributes, conditioning cache, ``[target, residual]`` output."""

    unet: FiLMUNet

    def __init__(self, sources: Sequence[str] | None, sample_rate: int, audio_channels: int):
        super().__init__()
        self.sources = list(sources or ["target", "residual"])
        if len(self.sources) != 2:
            raise ValueError(f"sources must be [target, residual], got {self.sources}")
        if audio_channels != 1:
            raise ValueError("a few-shot model is mono (audio_channels = 1)")
        self.sample_rate = int(sample_rate)
        self.audio_channels = 1
        self._z: torch.Tensor | None = None

    def set_target_name(self, name: str) -> None:
        """Rename the first source (e.g. to ``"sax"``); the second stays ``"residual"``."""
        self.sources = [name, self.sources[1]]

    @property
    def conditioned(self) -> bool:
        return self._z is not None

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        """``mix [B, 1, T]`` → ``[B, 2, 1, T]``: the target, then ``mix - target``.

        Raises:
            RuntimeError: :meth:`condition` has not been called.
        """
        if self._z is None:
            raise RuntimeError("call model.condition(...) before separating")
        if mix.dim() != 3 or mix.shape[1] != 1:
            raise ValueError(f"expected mix [batch, 1, time], got {tuple(mix.shape)}")
        z = self._z.to(mix.device).expand(mix.shape[0], -1)
        est = self.unet(mix[:, 0], z)[:, None]
        return torch.stack([est, mix - est], dim=1)


@register("fewshot", subcommand="fewshot")
class FewShotSeparator(_TargetResidualModel):
    """Few-shot conditioned U-Net (Sec. 2.2; with ``negatives=True``, Sec. 3.5).

    Conditioning: each example (any length ≥ 0.2 s, 22.05 kHz mono) → :class:`ConditioningEncoder`
    → 512-d; positives are averaged (and negatives too, when enabled) → ``z`` → FiLM.

    Args:
        sources: ``[target_name, "residual"]`` (default ``["target", "residual"]``).
        sample_rate: 22050 (Hz). audio_channels: 1.
        negatives: use negative examples (Sec. 3.5): ``z = ReLU(W [mean(pos); mean(neg)] + b)``.
        channels: U-Net encoder widths (16..512).
        filters, n_mels: conditioning encoder width (64) and mel rows (128).
        n_fft, hop: STFT (1024, 256).
    """

    def __init__(
        self,
        sources: Sequence[str] | None = None,
        sample_rate: int = SAMPLE_RATE,
        audio_channels: int = 1,
        negatives: bool = False,
        channels: Sequence[int] = (16, 32, 64, 128, 256, 512),
        filters: int = 64,
        n_mels: int = 128,
        n_fft: int = N_FFT,
        hop: int = HOP,
    ):
        super().__init__(sources, sample_rate, audio_channels)
        import librosa

        self.encoder = ConditioningEncoder(filters, n_mels)
        self.cond_dim = self.encoder.dim
        self.use_negatives = bool(negatives)
        if self.use_negatives:  # Sec. 3.5: concat(mean pos, mean neg) → FC + ReLU
            self.combine = nn.Sequential(nn.Linear(2 * self.cond_dim, self.cond_dim), nn.ReLU())
        self.unet = FiLMUNet(self.cond_dim, channels, n_fft, hop)
        mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)
        self.register_buffer("mel", torch.from_numpy(mel).float(), persistent=False)

    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        """``C`` (conditioning encoder and, with negatives, the combining FC), ``L1..L6``, ``M``,
        ``D1..D6``."""
        cond = list(self.encoder.parameters())
        if self.use_negatives:
            cond += list(self.combine.parameters())
        return [("C", cond), *self.unet.stage_groups()]

    def embed(self, examples: torch.Tensor) -> torch.Tensor:
        """Example-wise embeddings: ``[N, T]`` (22.05 kHz mono) → ``[N, 512]``.

        Raises:
            ValueError: examples shorter than 16 STFT frames (≈ 0.19 s).
        """
        X = self.unet.spec.stft(examples).abs()  # [N, F, frames]
        if X.shape[-1] < self.encoder.min_frames:
            raise ValueError(
                f"conditioning examples must be at least {self.encoder.min_frames} frames "
                f"({self.encoder.min_frames * self.unet.spec.hop / self.sample_rate:.2f} s)"
            )
        M = compress(torch.einsum("mf,nft->nmt", self.mel, X))
        return self.encoder(M[:, None])

    def conditioning(
        self,
        pos: torch.Tensor,
        pos_mask: torch.Tensor | None = None,
        neg: torch.Tensor | None = None,
        neg_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Batched conditioning vectors for training.

        Args:
            pos: positive examples ``[B, N, T]``.
            pos_mask: ``[B, N]`` bool, which examples are real (n varies per item); default all.
            neg: negative examples ``[B, M, T]`` (only with ``negatives=True``).
            neg_mask: ``[B, M]`` bool; an item with no negatives gets a zero negative mean.

        Returns:
            ``z [B, 512]``.
        """
        z = self._embed_mean(pos, pos_mask)  # Sec. 2.2: average the example-wise vectors
        if not self.use_negatives:
            return z
        if neg is None or neg.shape[1] == 0:
            zn = torch.zeros_like(z)
        else:
            zn = self._embed_mean(neg, neg_mask)
        return self.combine(torch.cat([z, zn], dim=-1))  # Sec. 3.5

    def _embed_mean(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """``x [B, N, T]``, ``mask [B, N]`` → mean embedding ``[B, D]`` of the masked-in
        examples only (padding is never encoded; an item without examples gets zeros)."""
        b, n, t = x.shape
        if mask is None:
            mask = torch.ones(b, n, dtype=torch.bool, device=x.device)
        e = torch.zeros(b, n, self.cond_dim, device=x.device, dtype=x.dtype)
        if mask.any():
            e = e.index_put((mask,), self.embed(x[mask]))
        return _masked_mean(e, mask)

    @torch.no_grad()
    def condition(
        self,
        examples: Sequence[torch.Tensor],
        negatives: Sequence[torch.Tensor] = (),
    ) -> torch.Tensor:
        """Compute and cache ``z`` from audio examples (each ``[T_i]``, 22.05 kHz mono, any length
        ≥ 0.2 s); later calls of ``forward`` use it. Returns ``z [1, 512]``.

        Raises:
            ValueError: no positive example, or an example too short.
        """
        if len(examples) == 0:
            raise ValueError("at least one conditioning example is needed")
        dev = next(self.parameters()).device
        ep = torch.stack([self.embed(x.reshape(1, -1).float().to(dev))[0] for x in examples])
        z = ep.mean(0, keepdim=True)
        if self.use_negatives:
            if len(negatives):
                en = torch.stack(
                    [self.embed(x.reshape(1, -1).float().to(dev))[0] for x in negatives]
                )
                zn = en.mean(0, keepdim=True)
            else:
                zn = torch.zeros_like(z)
            z = self.combine(torch.cat([z, zn], dim=-1))
        self._z = z
        return z


@register("fewshot-class", subcommand="fewshot")
class ClassConditionedSeparator(_TargetResidualModel):
    """Class-conditioned baseline (Sec. 2.1): the same U-Net, FiLM driven by a one-hot vector.

    Args:
        sources: ``[target_name, "residual"]``.
        sample_rate: 22050. audio_channels: 1.
        classes: the vocabulary, in one-hot order (the card's ``[args] classes``: the 18 classes
            of Sec. 2.1 as ``separate.synth.classes.CLASSES`` names them, for the shipped card).
            Required: the nets room does not know the corpus' labels (docs/ARCHITECTURE.md).
        channels, n_fft, hop: as :class:`FewShotSeparator`.
    """

    def __init__(
        self,
        sources: Sequence[str] | None = None,
        sample_rate: int = SAMPLE_RATE,
        audio_channels: int = 1,
        classes: Sequence[str] = (),
        channels: Sequence[int] = (16, 32, 64, 128, 256, 512),
        n_fft: int = N_FFT,
        hop: int = HOP,
    ):
        super().__init__(sources, sample_rate, audio_channels)
        if not classes:
            raise ValueError("ClassConditionedSeparator needs its class vocabulary (classes=...)")
        self.classes = list(classes)
        self.unet = FiLMUNet(len(self.classes), channels, n_fft, hop)

    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        """``L1..L6``, ``M``, ``D1..D6``."""
        return self.unet.stage_groups()

    def one_hot(self, labels: Sequence[str]) -> torch.Tensor:
        """Class names → ``[B, n_classes]`` one-hot (raises ``ValueError`` on unknown names)."""
        idx = []
        for lab in labels:
            if lab not in self.classes:
                raise ValueError(f"unknown class {lab!r}; known: {', '.join(self.classes)}")
            idx.append(self.classes.index(lab))
        dev = self.unet.gamma.weight.device
        return F.one_hot(torch.tensor(idx, device=dev), len(self.classes)).float()

    def conditioning(self, labels: Sequence[str]) -> torch.Tensor:
        """Batched ``z [B, n_classes]`` for training."""
        return self.one_hot(labels)

    def condition(self, label: str) -> torch.Tensor:
        """Cache the one-hot ``z`` of class ``label`` for later ``forward`` calls."""
        self._z = self.one_hot([label])
        return self._z


def _masked_mean(e: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``e [B, N, D]`` over N, counting only ``mask [B, N]`` (all when ``None``)."""
    if mask is None:
        return e.mean(1)
    w = mask.to(e.dtype)[..., None]
    return (e * w).sum(1) / w.sum(1).clamp_min(1.0)


__all__ = [
    "ClassConditionedSeparator",
    "ConditioningEncoder",
    "FewShotSeparator",
    "FiLMUNet",
    "Spectrogram",
]
