"""A small pitch-salience U-Net (Jansson 2019, Ch. 5, after Bittner et al. 2017, "Deep Salience").

Input: a harmonic constant-Q representation (HCQT, :func:`separate.f0.salience.hcqt`) of shape
``[batch, harmonics, bins, frames]`` (6 harmonics 0.5, 1, 2, 3, 4, 5; 360 bins of 20 cents from
C1; log-magnitude scaled to [0, 1]). Output: salience *logits* ``[batch, bins, frames]``; the
salience (the likelihood that an F0 sounds in a time-pitch bin) is their sigmoid. Trained with
binary cross-entropy against Gaussian-blurred targets from exact F0 (Bittner et al.; Jansson's
Eq. 5.3 uses an L2 loss against Deep Salience's own output as the target, which needs a teacher
model we do not have).

Deviations from the thesis (CPU budget of ~30 CPU-minutes): two pooling levels instead of Ch. 4's
six, 16/32 channels instead of 16..512, batch norm + ReLU; one wide frequency kernel
(15 bins of 80 cents = an octave, times 3 frames) in the bottleneck gives the network the
harmonic context that Deep Salience gets from its 70 x 3 layer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from separate.nets.arch import register


def _block(c_in: int, c_out: int, kernel: tuple[int, int] = (3, 3)) -> nn.Sequential:
    pad = (kernel[0] // 2, kernel[1] // 2)
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=pad, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


@register("salience_unet", subcommand="f0 track --method salience", card_fields=())
class SalienceUNet(nn.Module):
    """Pitch-salience U-Net.

    Args:
        harmonics: input channels (HCQT harmonics), default 6.
        width: channels at full resolution (16); the lower level has ``2 * width``.

    ``forward(x: [batch, harmonics, bins, frames]) -> logits [batch, bins, frames]``; ``bins``
    must be divisible by 4 (360 is); ``frames`` is padded internally to a multiple of 4.
    """

    def __init__(self, harmonics: int = 6, width: int = 16) -> None:
        super().__init__()
        w = width
        self.harmonics = harmonics
        self.enc0 = nn.Sequential(_block(harmonics, w), _block(w, w))
        self.enc1 = nn.Sequential(_block(w, 2 * w), _block(2 * w, 2 * w))
        self.mid = nn.Sequential(_block(2 * w, 2 * w), _block(2 * w, 2 * w, (15, 3)))
        self.dec1 = _block(4 * w, 2 * w)
        self.dec0 = nn.Sequential(_block(3 * w, w), _block(w, w))
        self.out = nn.Conv2d(w, 1, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: Tensor) -> Tensor:
        frames = x.shape[-1]
        pad = (-frames) % 4
        if pad:
            x = nn.functional.pad(x, (0, pad))
        e0 = self.enc0(x)  # [B, w, F, T]
        e1 = self.enc1(self.pool(e0))  # [B, 2w, F/2, T/2]
        m = self.mid(self.pool(e1))  # [B, 2w, F/4, T/4]
        up = nn.functional.interpolate(m, size=e1.shape[-2:], mode="nearest")
        d1 = self.dec1(torch.cat([up, e1], dim=1))
        up = nn.functional.interpolate(d1, size=e0.shape[-2:], mode="nearest")
        d0 = self.dec0(torch.cat([up, e0], dim=1))
        return self.out(d0)[:, 0, :, :frames]
