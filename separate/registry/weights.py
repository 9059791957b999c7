"""Writing weights files: the one safetensors writer of every exporter (training, adapt,
few-shot, F0, salience, Demucs bags)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch


def public_mode(path: str | os.PathLike[str]) -> None:
    """Give ``path`` the mode a normal file gets under the process umask (``0666 & ~umask``):
    ``safetensors`` writes 0600, which hides shared or published weights from other users."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def save_weights(state: Mapping[str, torch.Tensor], path: str | os.PathLike[str],
                 metadata: dict[str, str] | None = None) -> Path:
    """Write ``state`` (``{name: tensor}``, made contiguous) as safetensors at ``path``: to
    ``PATH.part`` first, then renamed, so an interrupted export never leaves a half-written
    file under the final name; mode as any file the user creates (:func:`public_mode`).

    Returns:
        ``path`` as a :class:`Path`.
    """
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=metadata)
    public_mode(tmp)
    os.replace(tmp, path)
    return path
