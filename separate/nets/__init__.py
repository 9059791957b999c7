"""Separation architectures, built from data (a model card's ``arch`` and ``args``).

Every architecture honours the contract of DESIGN.md (see :class:`SeparationModel`).
``ARCHITECTURES`` maps a card's ``arch`` string to the class; :func:`build` constructs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from separate.nets.contract import SeparationModel, check_contract

ARCHITECTURES: dict[str, Callable[..., torch.nn.Module]] = {}


def register(name: str) -> Callable[[type], type]:
    """Class decorator: make an architecture buildable from a card as ``arch = name``."""

    def deco(cls: type) -> type:
        ARCHITECTURES[name] = cls
        return cls

    return deco


def build(arch: str, **args: Any) -> torch.nn.Module:
    """Build architecture ``arch`` with keyword ``args`` (a card's ``[args]`` table).

    Raises:
        KeyError: unknown ``arch`` (the message lists the known ones).
    """
    _import_all()
    if arch not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[arch](**args)


def _import_all() -> None:
    # Importing the modules runs their @register decorators.
    # demucs_wrap imports the optional `demucs` package only when a Demucs model is built.
    from separate.nets import demucs_wrap, fewshot, simple, unet  # noqa: F401


__all__ = ["ARCHITECTURES", "SeparationModel", "build", "check_contract", "register"]
