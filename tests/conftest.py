"""Shared test fixtures: paths to the real data beside the checkout, small audio makers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
ROCK = SHARED_DATA / "musdb18-7" / "Music Delta - 80s Rock"


def require_shared(path: Path) -> Path:
    """Skip the test (with the reason) when the shared data folder is absent."""
    if not path.exists():
        pytest.skip(f"real data not found: {path} (../shared/data beside the checkout)")
    return path


@pytest.fixture
def rock_dir() -> Path:
    return require_shared(ROCK)


def write_tone(path: Path, seconds: float = 1.0, sr: int = 44100, channels: int = 2,
               freq: float = 440.0, subtype: str = "FLOAT") -> np.ndarray:
    """Write a sine (plus a little noise) and return it as ``[channels, time]``."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    x = np.stack([0.3 * np.sin(2 * np.pi * freq * (1 + 0.01 * c) * t) for c in range(channels)])
    x = (x + 0.01 * rng.standard_normal(x.shape)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.T, sr, subtype=subtype)
    return x


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch intra-op thread. Small tensors gain nothing from more, and on a
    busy 2-core machine OpenMP spin-waiting made such tests 5-50x slower with two."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``separate ARGS`` in-process; it must exit. Returns ``(exit code, stdout, stderr)``."""
    from separate.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    code = exc.value.code if isinstance(exc.value.code, int) else (0 if exc.value.code is None
                                                                   else 1)
    return code, out, err
