"""Saving an adapted model as a model card + safetensors weights (``adapt --save-model``).

The result loads like any registry model (``separate split -m PATH.toml`` or ``-m
PATH.safetensors``): the card copies the base model's architecture, arguments, sources and rate
(``separate.registry.card`` format), points at the weights beside it (``[weights] embedded``) with
their sha256, and records how the adaptation was done under ``[training]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from separate.errors import UsageError


def card_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(card.toml, weights.safetensors)`` for a ``--save-model`` argument: ``X.toml``,
    ``X.safetensors`` or ``X`` all give ``X.toml`` and ``X.safetensors``."""
    p = Path(path)
    if p.suffix in (".toml", ".safetensors"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".toml"), p.with_name(p.name + ".safetensors")


def save_adapted_model(
    model: torch.nn.Module,
    path: str | os.PathLike[str],
    training: dict[str, Any] | None = None,
    description: str | None = None,
) -> tuple[Path, Path]:
    """Write ``model`` (built from a card, ``model.card``) as ``PATH.toml`` + ``PATH.safetensors``.

    Args:
        model: a registry-built model (it carries ``.card``).
        path: ``X``, ``X.toml`` or ``X.safetensors``.
        training: facts about the adaptation for the card's ``[training]`` table.
        description: the card's description (default: "<base> adapted to one mixture").

    Returns:
        ``(card_path, weights_path)``.

    Architectures that build themselves from third-party weight files (a class method
    ``from_weight_files``, e.g. Demucs bags) are saved through their ``to_weight_files(folder)
    -> {file name: path}`` when they have one, listed under ``[weights.files]``.

    Raises:
        UsageError: the model has no card (it was not built by the registry), or its
            architecture has its own weights layout and no ``to_weight_files``.
    """
    from separate.registry import sha256_file
    from separate.registry.card import write_card
    from separate.registry.weights import save_weights

    base = getattr(model, "card", None)
    if base is None:
        raise UsageError("--save-model needs a model loaded from a card (separate.registry)")
    own_layout = hasattr(type(model), "from_weight_files")
    if own_layout and not hasattr(model, "to_weight_files"):
        raise UsageError(
            f"--save-model: saving adapted {base.arch!r} models is not supported yet (its "
            "weights have their own file layout); the stems were still written"
        )
    card_path, weights_path = card_paths(path)
    card_path.parent.mkdir(parents=True, exist_ok=True)
    if own_layout:
        files = model.to_weight_files(card_path.parent)  # type: ignore[attr-defined]
        weights: dict[str, Any] = {"files": {n: sha256_file(p) for n, p in files.items()}}
    else:
        state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
        save_weights(state, weights_path, metadata={"base_model": base.name, "adapted": "true"})
        weights = {"embedded": weights_path.name, "sha256": sha256_file(weights_path)}
    data: dict[str, Any] = {
        "name": card_path.stem,
        "description": description or f"{base.name} adapted to one mixture (separate adapt)",
        "arch": base.arch,
        "sources": list(base.sources),
        "sample_rate": int(base.sample_rate),
        "audio_channels": int(base.audio_channels),
        "license": base.license,
        "provider": base.provider,
        "args": dict(base.args),
        "engine": dict(getattr(base, "engine", None) or {}),
        "weights": weights,
        "training": {"base_model": base.name, **(training or {})},
    }
    write_card(card_path, data, subcommand=base.subcommand)
    return card_path, weights_path
