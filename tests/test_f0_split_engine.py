"""`f0 split` through the engine: chunks are overlap-added, so the voices have no seams where the
old cut-and-concatenate path put segment boundaries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from separate.f0 import split as S
from separate.f0.track import F0Track
from separate.nets.source_filter import soft_mask_separation

# one intra-op thread (conftest): small tensors, shared 2-core machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _voice(f0: float, seconds: float, sr: int, tilt: float, vib: float) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.01 * np.sin(2 * np.pi * vib * t))) / sr
    return 0.1 * sum(np.sin(h * phase) / h**tilt for h in range(1, 16)).astype(np.float32)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).sum() / (b**2).sum())


def test_overlap_added_voices_match_one_pass_and_have_no_seams():
    sr, seconds = 16000, 3.0
    mix = _voice(392.0, seconds, sr, 1.0, 5.0) + _voice(147.0, seconds, sr, 1.5, 4.0)
    x = torch.from_numpy(mix)
    times = np.arange(0, seconds, 0.01)
    track = F0Track(times, np.stack([np.full_like(times, 392.0), np.full_like(times, 147.0)]))
    model = S.load_source_filter(S.DEFAULT_MODEL)
    seg = 64 * model.hop  # ~1 s chunks: three segments, two old boundaries
    n = -(-x.shape[-1] // seg) * seg // model.hop + 1
    f0 = torch.from_numpy(track.at(np.arange(n) * model.hop / sr)).float()

    torch.manual_seed(0)
    whole = S.synthesise_voices(model, x, f0, 10 * seg)  # one chunk: the reference
    torch.manual_seed(0)
    ola = S.synthesise_voices(model, x, f0, seg)
    xs, fs = S._segments(x, f0, seg, model.hop)  # the old path: cut, synthesise, concatenate
    torch.manual_seed(0)
    with torch.no_grad():
        cut = torch.cat([model(xs[s:s + 1], fs[s:s + 1])[0] for s in range(xs.shape[0])], -1)
    cut = cut[:, : x.shape[-1]]
    assert ola.shape == whole.shape == (2, x.shape[-1])

    bounds = list(range(seg, x.shape[-1], seg))
    near = np.concatenate([np.arange(b - 512, b + 512) for b in bounds])
    ref = soft_mask_separation(x[None], whole[None])[0]
    est_ola = soft_mask_separation(x[None], ola[None])[0]
    est_cut = soft_mask_separation(x[None], cut[None])[0]
    # (a) near the old boundaries the overlap-added voices are close to one pass, much closer
    # than cut-and-concatenate
    err_ola, err_cut = _rel(est_ola[:, near], ref[:, near]), _rel(est_cut[:, near], ref[:, near])
    assert err_ola < 0.01 and err_ola < 0.3 * err_cut, (err_ola, err_cut)
    # no jump at a boundary larger than the signal's ordinary sample-to-sample steps
    steps = np.abs(np.diff(ola.numpy(), axis=-1))
    assert max(steps[:, b - 1].max() for b in bounds) < np.quantile(steps, 0.99)


def test_split_voices_reports_engine_chunks():
    sr = 16000
    x = _voice(220.0, 5.0, sr, 1.0, 5.0)
    times = np.arange(0, 5.0, 0.01)
    model = S.load_source_filter(None, hidden=16)
    seen: list[tuple[str, int, int]] = []
    est = S.split_voices(x, sr, F0Track(times, np.full((1, len(times)), 220.0)), model=model,
                         progress=lambda *a: seen.append(a))
    assert est.shape == (1, len(x)) and np.isfinite(est).all()
    assert seen and seen[-1][1] == seen[-1][2] == 2  # 5 s in 4 s chunks overlapping by 1 s
