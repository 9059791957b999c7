"""Differentiable source-filter model for F0-informed separation (Schulze-Forster et al., Sec. III).

Each of ``J`` monophonic sources is synthesised as a harmonic-plus-noise excitation (Eqs. 4-6)
through a time-varying all-pole filter ``1/A(n, z)`` of order ``K`` (Eqs. 2-3) parameterised by
line spectral frequencies (Eqs. 8-11, Algorithm 1). A mixture encoder and a per-source decoder
(GRU + MLP, Fig. 3) estimate the parameters from the mixture's log-magnitude spectrogram and each
source's F0. Training needs mixtures only: the synthesised sources must add up to the mixture
under the multi-scale spectral loss (Eqs. 13-14). At test time the synthesised sources give soft
masks for Wiener filtering of the mixture (Sec. III-C).

Building blocks (all torch, differentiable):

- :func:`exp_sigmoid` (Eq. 7), :func:`lsf_from_logits` (Eqs. 10-11), :func:`lsf_to_lpc`
  (Algorithm 1, float64);
- :func:`allpole_frames` / :func:`allpole_overlap_add`: frame-wise all-pole filtering, all frames
  in parallel, Hann windows with 50 % overlap (Sec. III-D);
- :func:`harmonic_signal` (Eqs. 5-6 with the fixed filter ``r``), :func:`filtered_noise`;
- :func:`multiscale_spectral_loss` (Eqs. 13-14);
- :class:`SourceFilterModel`: encoder + decoder + synthesiser; :func:`soft_mask_separation`.

The decoder is shared by all sources (sources differ by their F0), so one model serves any ``J``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from separate.audio.stft import istft, stft
from separate.nets.arch import register

# ---------------------------------------------------------------------------------------------
# Parameter transforms


def exp_sigmoid(x: Tensor, y_max: float = 2.0) -> Tensor:
    """Eq. 7: ``y = y_max * sigmoid(x) ** log(10) + 1e-7`` (element-wise, any shape)."""
    return y_max * torch.sigmoid(x) ** math.log(10.0) + 1e-7


def lsf_from_logits(x: Tensor, min_gap: float = 1e-3) -> Tensor:
    """Ordered LSFs from unconstrained network outputs (Eqs. 10-11).

    Args:
        x: ``[..., K + 1]`` logits.
        min_gap: smallest distance (rad) between neighbouring LSFs. Not in the paper (whose
            floor is the 1e-7 of Eq. 7): LSFs closer than that put a pole pair practically on the
            unit circle, where rounding can make the filter unstable; 1e-3 rad is 2.5 Hz at
            16 kHz.

    Returns:
        ``[..., K]`` float64 angles ``0 < w_1 < ... < w_K < pi`` (rad): exp-sigmoid with
        ``y_max = 2``, normalised to sum to pi (Eq. 10, here ``pi - (K+1) min_gap`` plus the
        gaps), cumulative sum without the last entry (Eq. 11).
    """
    v = exp_sigmoid(x.to(torch.float64), 2.0)  # float64: tiny gaps must stay gaps (Sec. III-D)
    free = math.pi - v.shape[-1] * min_gap
    if free <= 0:
        raise ValueError("min_gap too large for this filter order")
    v = min_gap + v / v.sum(dim=-1, keepdim=True) * free  # Eq. 10 (sums to pi)
    return torch.cumsum(v, dim=-1)[..., :-1]  # Eq. 11


def lsf_to_lpc(lsf: Tensor) -> Tensor:
    """Algorithm 1: all-pole coefficients from line spectral frequencies, in float64.

    ``A(z) = (P(z) + Q(z)) / 2 = 1 + sum_k a_k z^-k`` (Eq. 8, the sign convention of the
    difference equation Eq. 3), where the odd LSFs ``w_1, w_3, ...`` are the roots of ``P`` on the
    upper unit semicircle (plus ``z = -1``) and the even ones those of ``Q`` (plus ``z = +1``).
    When the LSFs are ordered in ``(0, pi)`` (Eq. 9), ``1/A(z)`` is stable and minimum-phase.

    Args:
        lsf: ``[..., K]`` angles in rad, ``K`` even.

    Returns:
        ``[..., K]`` coefficients ``a_1..a_K`` in float64 (the paper found float32 unstable for
        high orders, Sec. III-D).

    Raises:
        ValueError: odd ``K``.
    """
    k_order = lsf.shape[-1]
    if k_order % 2:
        raise ValueError(f"filter order K must be even, got {k_order}")
    half = k_order // 2
    x = torch.cos(lsf.to(torch.float64))
    one = torch.ones_like(x[..., 0])
    zero = torch.zeros_like(one)
    # p'[i], q'[i] for i = -1..half, stored at index i + 1; the recursion multiplies in one factor
    # (1 - 2 x z^-1 + z^-2) per LSF pair and keeps only the first half of the symmetric result.
    p = [zero, one, -2 * x[..., 0]] + [zero] * (half - 1)
    q = [zero, one, -2 * x[..., 1]] + [zero] * (half - 1)
    for k in range(2, half + 1):
        xp, xq = x[..., 2 * k - 2], x[..., 2 * k - 1]  # x_{2k-1}, x_{2k} (1-based)
        p[k + 1] = -2 * p[k] * xp + 2 * p[k - 1]
        q[k + 1] = -2 * q[k] * xq + 2 * q[k - 1]
        for i in range(k - 1, 0, -1):
            p[i + 1] = p[i + 1] - 2 * p[i] * xp + p[i - 1]
            q[i + 1] = q[i + 1] - 2 * q[i] * xq + q[i - 1]
    pk = [p[k + 1] + p[k] for k in range(1, half + 1)]  # P = (1 + z^-1) P'
    qk = [q[k + 1] - q[k] for k in range(1, half + 1)]  # Q = (1 - z^-1) Q'
    a = [(pk[k] + qk[k]) / 2 for k in range(half)]
    a += [(pk[half - k - 1] - qk[half - k - 1]) / 2 for k in range(half)]
    return torch.stack(a, dim=-1)


# ---------------------------------------------------------------------------------------------
# Time-varying all-pole filtering (Sec. III-D)


def frame_signal(x: Tensor, frame_length: int, hop: int, n_frames: int) -> Tensor:
    """Cut ``x: [B, T]`` into ``[B, n_frames, frame_length]`` frames centred at ``n * hop``.

    The signal is zero-padded by ``frame_length // 2`` in front (the framing of a centred STFT).
    """
    pad_front = frame_length // 2
    need = (n_frames - 1) * hop + frame_length
    x = nn.functional.pad(x, (pad_front, max(0, need - pad_front - x.shape[-1])))
    return x.unfold(-1, frame_length, hop)[:, :n_frames]


def overlap_add(frames: Tensor, hop: int, length: int) -> Tensor:
    """Inverse of :func:`frame_signal` by summation: ``[B, N, L] -> [B, length]``."""
    b, n, flen = frames.shape
    total = (n - 1) * hop + flen
    out = nn.functional.fold(
        frames.transpose(1, 2), output_size=(1, total), kernel_size=(1, flen), stride=(1, hop)
    ).reshape(b, total)
    return out[:, flen // 2 : flen // 2 + length]


def _conv_trunc(x: Tensor, y: Tensor, n: int) -> Tensor:
    """First ``n`` samples of the linear convolution of ``x`` and ``y`` (last dims), via FFT."""
    size = 1 << (x.shape[-1] + y.shape[-1] - 1).bit_length()
    return torch.fft.irfft(torch.fft.rfft(x, n=size) * torch.fft.rfft(y, n=size), n=size)[..., :n]


class _AllPoleImpulse(torch.autograd.Function):
    """Truncated impulse response of ``1/A(z)``: recursion forward, exact gradient backward."""

    @staticmethod
    def forward(ctx, a: Tensor, length: int) -> Tensor:  # type: ignore[override]
        from scipy.signal import lfilter

        flat = a.detach().cpu().to(torch.float64).reshape(-1, a.shape[-1]).numpy()
        impulse = np.zeros(length)
        impulse[0] = 1.0
        h = np.stack([lfilter([1.0], np.concatenate([[1.0], row]), impulse) for row in flat])
        out = torch.from_numpy(h).to(a.dtype).to(a.device).reshape(*a.shape[:-1], length)
        ctx.save_for_backward(out)
        ctx.order = a.shape[-1]
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (h,) = ctx.saved_tensors
        length, order = h.shape[-1], ctx.order
        # dh[n]/da_k = -(h * h)[n - k]  (d/da_k of 1/A is -z^-k / A^2)
        hh = _conv_trunc(h, h, length)
        size = 1 << (2 * length - 1).bit_length()
        corr = torch.fft.irfft(
            torch.fft.rfft(grad, n=size) * torch.conj(torch.fft.rfft(hh, n=size)), n=size
        )  # corr[k] = sum_n grad[n] hh[n - k]
        return -corr[..., 1 : order + 1], None


def allpole_impulse_response(a: Tensor, length: int) -> Tensor:
    """First ``length`` samples of the impulse response of ``1/A(z)``, ``A = 1 + sum a_k z^-k``.

    Forward: the recursion of Eq. 3 (``scipy.signal.lfilter``, float64, one call per frame);
    backward: the exact gradient ``dh[n]/da_k = -(h * h)[n - k]`` by FFT. (Fast power-series
    inversion by FFT was tried and is numerically unusable here: with coefficients of 1e3-1e4,
    normal for order 20, its rounding errors grow to 1e150.)

    ``a: [..., K]`` -> ``[..., length]`` in ``a``'s dtype.
    """
    return _AllPoleImpulse.apply(a, length)


def allpole_frames(frames: Tensor, a: Tensor, normalize: bool = False) -> Tensor:
    """Filter every frame through its own ``1/A(z)`` with zero initial state, all in parallel.

    Exactly the difference equation (Eq. 3) ``y(t) = e(t) - sum_k a_k y(t-k)`` run over each
    frame from rest: within a frame of ``T'`` samples only the first ``T'`` samples of the
    impulse response matter, so ``y`` is the frame convolved with the truncated impulse response
    (:func:`allpole_impulse_response`, computed in ``a``'s dtype, float64 from Algorithm 1).

    Args:
        frames: ``[..., N, T']`` excitation frames.
        a: ``[..., N, K]`` coefficients ``a_1..a_K``.
        normalize: scale each frame's impulse response to unit energy (see
            :class:`SourceFilterModel`); ``False`` is Eq. 3 exactly.

    Returns:
        ``[..., N, T']`` filtered frames in ``frames``' dtype.
    """
    tlen = frames.shape[-1]
    h = allpole_impulse_response(a, tlen)
    if normalize:
        h = h / torch.sqrt((h**2).sum(dim=-1, keepdim=True) + 1e-30)
        h = torch.nan_to_num(h, nan=0.0, posinf=0.0, neginf=0.0)
    return _conv_trunc(frames, h.to(frames.dtype), tlen)


def allpole_overlap_add(
    e: Tensor, a: Tensor, frame_length: int, hop: int, normalize: bool = False
) -> Tensor:
    """Time-varying all-pole filter of Sec. III-D.

    The excitation is cut into frames (centred at ``n * hop``), frame ``n`` is filtered by
    ``1/A(n, z)`` from rest (:func:`allpole_frames`), multiplied by a periodic Hann window and
    overlap-added; with ``hop = frame_length / 2`` the windows sum to one.

    Args:
        e: ``[B, T]`` excitation.
        a: ``[B, N, K]`` coefficients per frame.
        normalize: unit-energy impulse responses (:func:`allpole_frames`).

    Returns:
        ``[B, T]``.
    """
    frames = frame_signal(e, frame_length, hop, a.shape[1])
    y = allpole_frames(frames, a, normalize)
    win = torch.hann_window(frame_length, periodic=True, dtype=y.dtype, device=y.device)
    return overlap_add(y * win, hop, e.shape[-1])


# ---------------------------------------------------------------------------------------------
# Excitation (Eqs. 4-6)


def upsample_frames(x: Tensor, hop: int, length: int) -> Tensor:
    """Frame-rate values ``[B, N]`` to sample rate ``[B, length]`` with overlapping Hann windows
    (frame ``n`` centred at ``n * hop``, window ``2 * hop``): smooth, as in DDSP."""
    win = torch.hann_window(2 * hop, periodic=True, dtype=x.dtype, device=x.device)
    return overlap_add(x[..., None] * win, hop, length)


def interpolate_f0(f0: Tensor, hop: int, length: int) -> Tensor:
    """F0 at frame rate ``[B, N]`` (frame ``n`` at sample ``n * hop``) to sample rate ``[B, T]``
    by linear interpolation (Sec. III-B)."""
    n = f0.shape[-1]
    pos = torch.arange(length, device=f0.device, dtype=torch.float64) / hop
    i0 = pos.floor().long().clamp(0, n - 1)
    i1 = (i0 + 1).clamp(max=n - 1)
    w = (pos - i0.double()).clamp(0, 1).to(f0.dtype)
    return f0[..., i0] * (1 - w) + f0[..., i1] * w


def harmonics_gain(freq: Tensor, ref_hz: float = 200.0) -> Tensor:
    """``|R(f)|`` of the fixed harmonics filter ``r(t)`` (Sec. IV-B): flat below ``ref_hz``, then
    falling 6 dB/octave."""
    return ref_hz / torch.clamp(freq, min=ref_hz)


@torch.no_grad()
def harmonic_signal(
    f0: Tensor, sample_rate: int, n_harmonics: int = 100, ref_hz: float = 200.0
) -> Tensor:
    """``h(t) * r(t)``: the sum of harmonic sines (Eqs. 5-6) shaped by the fixed filter ``r``.

    ``phi_i(t) = 2 pi sum_{v<=t} i f0(v) / fs`` (Eq. 6, accumulated in float64); harmonic ``i``
    is weighted by ``|R(i f0(t))|`` (:func:`harmonics_gain`), which is what the zero-phase filter
    ``r`` does to a slowly varying sinusoid, and dropped above Nyquist. Depends on F0 only, so
    it is computed without gradient; the learned amplitude ``alpha(t)`` multiplies it (Eq. 4).

    Args:
        f0: ``[B, T]`` Hz at the sample rate (0 = silent).

    Returns:
        ``[B, T]`` float32.
    """
    phase = 2 * math.pi * torch.cumsum(f0.to(torch.float64) / sample_rate, dim=-1)
    phase = torch.remainder(phase, 2 * math.pi)
    # sin(i phi) by the recurrence sin((i+1)x) = 2 cos(x) sin(ix) - sin((i-1)x), in float64
    two_cos = 2 * torch.cos(phase)
    prev, cur = torch.zeros_like(phase), torch.sin(phase)
    out = torch.zeros_like(phase)
    for i in range(1, n_harmonics + 1):
        fi = i * f0
        keep = (fi < sample_rate / 2) & (f0 > 0)
        if not bool(keep.any()):
            break
        out += harmonics_gain(fi.to(torch.float64), ref_hz) * keep * cur
        prev, cur = cur, two_cos * cur - prev
    return out.float()


def noise_filter_ir(magnitudes: Tensor, ir_length: int) -> Tensor:
    """FIR ``d(t)`` from ``[B, L]`` sampled magnitude responses (0..Nyquist): frequency sampling
    (zero phase, centred) and the window method (Hann). Returns ``[B, min(ir_length, 2(L-1))]``,
    centred on its middle sample (:func:`fft_convolve` compensates that delay)."""
    ir = torch.fft.irfft(torch.complex(magnitudes, torch.zeros_like(magnitudes)), dim=-1)
    n = ir.shape[-1]
    ir = torch.roll(ir, n // 2, dims=-1)  # zero-phase -> centred
    if ir_length < n:
        start = n // 2 - ir_length // 2
        ir = ir[..., start : start + ir_length]
    win = torch.hann_window(ir.shape[-1], periodic=False, dtype=ir.dtype, device=ir.device)
    return ir * win


def fft_convolve(x: Tensor, ir: Tensor) -> Tensor:
    """Linear convolution ``[B, T] * [B, M]`` via FFT, delay-compensated to ``[B, T]``."""
    t, m = x.shape[-1], ir.shape[-1]
    n = 1 << (t + m - 1).bit_length()
    y = torch.fft.irfft(torch.fft.rfft(x, n=n) * torch.fft.rfft(ir, n=n), n=n)
    return y[..., m // 2 : m // 2 + t]


def filtered_noise(
    noise: Tensor, magnitudes: Tensor, gain: Tensor, hop: int, ir_length: int = 257
) -> Tensor:
    """``[w(t) * d(t)] . g(n)`` of Eq. 4.

    Args:
        noise: ``[B, T]`` uniform white noise in [-1, 1].
        magnitudes: ``[B, L]`` magnitude response of ``d`` (time-invariant per source).
        gain: ``[B, N]`` noise gain per frame (upsampled with Hann windows).
    """
    shaped = fft_convolve(noise, noise_filter_ir(magnitudes, ir_length))
    return shaped * upsample_frames(gain, hop, noise.shape[-1])


# ---------------------------------------------------------------------------------------------
# Loss (Eqs. 13-14)


def _safe_abs(z: Tensor, eps: float = 1e-12) -> Tensor:
    """``|z|`` with a finite gradient at 0 (``Tensor.abs`` of a complex zero has a NaN one)."""
    return torch.sqrt(z.real**2 + z.imag**2 + eps)


def multiscale_spectral_loss(
    x: Tensor, y: Tensor, fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64)
) -> Tensor:
    """Eqs. 13-14: ``sum_c |M_c - M~_c|_1 + |log M_c - log M~_c|_1`` over FFT sizes ``c``.

    Magnitude STFTs with 75 % overlap (hop ``c / 4``, Hann). The L1 norms are means over bins
    (a scale factor per resolution; the paper writes norms). ``x, y: [..., T]``; returns a scalar.
    """
    x = x.reshape(-1, x.shape[-1])
    y = y.reshape(-1, y.shape[-1])
    total = x.new_zeros(())
    for n_fft in fft_sizes:
        mx = _safe_abs(stft(x, n_fft, n_fft // 4))
        my = _safe_abs(stft(y, n_fft, n_fft // 4))
        total = total + (mx - my).abs().mean()
        total = total + (torch.log(mx + 1e-7) - torch.log(my + 1e-7)).abs().mean()
    return total


# ---------------------------------------------------------------------------------------------
# Network (Fig. 3)


class MLP(nn.Sequential):
    """Three repetitions of Linear, LayerNorm, LeakyReLU (Sec. III-B)."""

    def __init__(self, n_in: int, n_hidden: int):
        layers: list[nn.Module] = []
        for i in range(3):
            layers += [
                nn.Linear(n_in if i == 0 else n_hidden, n_hidden),
                nn.LayerNorm(n_hidden),
                nn.LeakyReLU(),
            ]
        super().__init__(*layers)


def hz_to_unit(f0: Tensor, midi_lo: float = 24.0, midi_hi: float = 96.0) -> Tensor:
    """F0 in Hz to MIDI numbers normalised to [0, 1] over ``[midi_lo, midi_hi]``; 0 Hz -> 0."""
    midi = 69 + 12 * torch.log2(torch.clamp(f0, min=1e-3) / 440.0)
    unit = ((midi - midi_lo) / (midi_hi - midi_lo)).clamp(0, 1)
    return torch.where(f0 > 0, unit, torch.zeros_like(unit))


def fill_unvoiced(f0: Tensor) -> Tensor:
    """Replace 0 Hz frames of ``[B, N]`` by the nearest voiced value (for a continuous phase)."""
    out = f0.clone()
    for b in range(f0.shape[0]):
        v = torch.nonzero(f0[b] > 0).flatten()
        if len(v) == 0:
            out[b] = 100.0
            continue
        idx = torch.arange(f0.shape[1], device=f0.device)
        nearest = v[(idx[:, None] - v[None, :]).abs().argmin(dim=1)]
        out[b] = f0[b, nearest]
    return out


@register("source_filter", subcommand="f0 split", card_fields=("sample_rate",))
class SourceFilterModel(nn.Module):
    """Mixture encoder + per-source decoder + source-filter synthesiser (Sec. III, Fig. 3).

    Args:
        sample_rate: Hz (the paper: 16000).
        n_fft: frame length T' of the mixture STFT and the all-pole frames (512).
        hop: B (256 = T'/2, the Hann COLA condition of Sec. III-D).
        hidden: width of the GRUs and MLPs.
        lpc_order: K, even (20).
        n_harmonics: I, the most harmonics synthesised (above Nyquist they are dropped).
        noise_bands: L, magnitude samples of the noise filter ``d``.
        alpha_max, gain_max: ``y_max`` of Eq. 7 for the harmonic amplitude and the noise gain.

    One deviation from the paper: each frame's all-pole filter is scaled to unit energy of its
    (frame-length) impulse response, so that the filter shapes the spectrum and ``alpha``, ``g``
    set the level. With ``A(z)`` monic, LSFs that bunch together (poles clustered near the unit
    circle) give transient gains of 1e50 and more, which made fitting diverge after one step.

    ``forward(mix [B, T], f0 [B, J, N]) -> sources [B, J, T]`` where ``N = T // hop + 1`` frames
    (frame ``n`` at sample ``n * hop``) and F0 is in Hz (0 = silent). Use
    :meth:`frame_count` for ``N``.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop: int = 256,
        hidden: int = 256,
        lpc_order: int = 20,
        n_harmonics: int = 100,
        noise_bands: int = 65,
        alpha_max: float = 1.0,
        gain_max: float = 1.0,
    ):
        super().__init__()
        if lpc_order % 2:
            raise ValueError("lpc_order must be even")
        self.sample_rate, self.n_fft, self.hop = sample_rate, n_fft, hop
        self.lpc_order, self.n_harmonics = lpc_order, n_harmonics
        self.alpha_max, self.gain_max = alpha_max, gain_max
        n_bins = n_fft // 2 + 1
        # per-bin learned scale and shift after the per-example normalisation
        self.bin_scale = nn.Parameter(torch.ones(n_bins))
        self.bin_shift = nn.Parameter(torch.zeros(n_bins))
        self.enc_in = MLP(n_bins, hidden)
        self.enc_gru = nn.GRU(hidden, hidden, batch_first=True)
        self.enc_out = nn.Linear(hidden, hidden)
        self.dec_f0 = MLP(1, hidden)
        self.dec_gru = nn.GRU(2 * hidden, hidden, batch_first=True)
        self.dec_mlp = MLP(hidden, hidden)
        self.head_frame = nn.Linear(hidden, 2 + lpc_order + 1)  # alpha, g, LSF logits
        self.noise_gru = nn.GRU(hidden, hidden, batch_first=True)
        self.head_noise = nn.Linear(hidden, noise_bands)

    # the contract's bookkeeping (not a plain forward(mix) separator: it needs F0 too)
    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        enc = [self.bin_scale, self.bin_shift, *self.enc_in.parameters(),
               *self.enc_gru.parameters(), *self.enc_out.parameters()]
        dec = [*self.dec_f0.parameters(), *self.dec_gru.parameters(), *self.dec_mlp.parameters()]
        heads = [*self.head_frame.parameters(), *self.noise_gru.parameters(),
                 *self.head_noise.parameters()]
        return [("E", enc), ("D", dec), ("H", heads)]

    def frame_count(self, length: int) -> int:
        """Frames ``N`` of a ``length``-sample signal (centred STFT)."""
        return length // self.hop + 1

    def encode(self, mix: Tensor) -> Tensor:
        """``[B, T] -> [B, N, hidden]``: normalised log-magnitude STFT through MLP, GRU, linear."""
        spec = stft(mix, self.n_fft, self.hop).abs()
        logmag = torch.log(spec + 1e-6).transpose(1, 2)  # [B, N, F]
        mu = logmag.mean(dim=(1, 2), keepdim=True)
        sd = logmag.std(dim=(1, 2), keepdim=True) + 1e-5
        z = (logmag - mu) / sd * self.bin_scale + self.bin_shift
        h, _ = self.enc_gru(self.enc_in(z))
        return self.enc_out(h)

    def parameters_for(self, latent: Tensor, f0: Tensor) -> dict[str, Tensor]:
        """Decoder: latent ``[B, N, H]`` and F0 ``[B, J, N]`` (Hz) to the synthesis parameters
        ``alpha [B*J, N]``, ``gain [B*J, N]``, ``lpc [B*J, N, K]`` (float64), ``noise_mag
        [B*J, L]``."""
        b, j, n = f0.shape
        lat = latent[:, None].expand(b, j, n, latent.shape[-1]).reshape(b * j, n, -1)
        f0u = hz_to_unit(f0.reshape(b * j, n))[..., None]
        h, _ = self.dec_gru(torch.cat([lat, self.dec_f0(f0u)], dim=-1))
        h = self.dec_mlp(h)
        out = self.head_frame(h)
        voiced = (f0.reshape(b * j, n) > 0).to(out.dtype)
        alpha = exp_sigmoid(out[..., 0], self.alpha_max) * voiced
        gain = exp_sigmoid(out[..., 1], self.gain_max)
        lsf = lsf_from_logits(out[..., 2:])
        hn, _ = self.noise_gru(h)
        noise_mag = exp_sigmoid(self.head_noise(hn[:, -1]), 2.0)
        return {"alpha": alpha, "gain": gain, "lpc": lsf_to_lpc(lsf), "noise_mag": noise_mag}

    def harmonics(self, f0: Tensor, length: int) -> Tensor:
        """``h * r`` (Eqs. 5-6) for F0 ``[..., N]`` (Hz, frame rate) -> ``[..., length]``.

        Depends on F0 only: callers that synthesise the same F0 repeatedly (fitting, training
        epochs) may compute it once and pass it to :meth:`forward`."""
        shape = f0.shape[:-1]
        f0 = f0.reshape(-1, f0.shape[-1])
        f0_t = interpolate_f0(fill_unvoiced(f0), self.hop, length)
        harm = harmonic_signal(f0_t, self.sample_rate, self.n_harmonics)
        return harm.reshape(*shape, length)

    def synthesise(
        self, params: dict[str, Tensor], f0: Tensor, length: int, harm: Tensor | None = None
    ) -> Tensor:
        """Source signals ``[B*J, T]`` from the parameters and F0 ``[B*J, N]`` (Hz); ``harm``:
        precomputed :meth:`harmonics` ``[B*J, T]``."""
        if harm is None:
            harm = self.harmonics(f0, length)
        alpha_t = upsample_frames(params["alpha"], self.hop, length)
        noise = torch.rand_like(harm) * 2 - 1
        exc = alpha_t * harm + filtered_noise(noise, params["noise_mag"], params["gain"], self.hop)
        # lpc in float64 (Algorithm 1); unit-energy filters (see the class docstring)
        return allpole_overlap_add(exc, params["lpc"], self.n_fft, self.hop, normalize=True)

    def forward(self, mix: Tensor, f0: Tensor, harm: Tensor | None = None) -> Tensor:
        """``mix [B, T]``, ``f0 [B, J, N]`` Hz -> synthesised sources ``[B, J, T]``.

        ``harm``: optional precomputed :meth:`harmonics` of ``f0``, ``[B, J, T]``.

        Raises:
            ValueError: ``f0`` has a frame count other than :meth:`frame_count` of ``T``.
        """
        b, t = mix.shape
        n = self.frame_count(t)
        if f0.shape[0] != b or f0.shape[-1] != n:
            raise ValueError(f"f0 must be [batch={b}, J, frames={n}], got {tuple(f0.shape)}")
        j = f0.shape[1]
        params = self.parameters_for(self.encode(mix), f0)
        if harm is not None:
            harm = harm.reshape(b * j, t)
        return self.synthesise(params, f0.reshape(b * j, n), t, harm).reshape(b, j, t)


def soft_mask_separation(
    mix: Tensor, sources: Tensor, n_fft: int = 2048, hop: int = 256, eps: float = 1e-8
) -> Tensor:
    """Soft masks from synthesised sources applied to the mixture STFT (Sec. III-C).

    ``mask_j = |S~_j| / sum_j |S~_j|`` (STFT 2048/256 as in Sec. IV-B), then the inverse STFT of
    ``mask_j * M``. Where every source is silent the mixture is split equally.

    Args:
        mix: ``[B, T]``; sources: ``[B, J, T]``.

    Returns:
        ``[B, J, T]`` estimates that add up to the mixture.
    """
    b, j, t = sources.shape
    m = stft(mix, n_fft, hop)
    s = stft(sources.reshape(b * j, t), n_fft, hop).abs()
    s = s.reshape(b, j, *s.shape[-2:]) + eps
    masks = s / s.sum(dim=1, keepdim=True)
    est = istft((masks * m[:, None]).reshape(b * j, *m.shape[-2:]), n_fft, hop, t)
    return est.reshape(b, j, t)
