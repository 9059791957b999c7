"""Export trained weights as a model card + safetensors (``models/NAME.toml``,
``models/NAME.safetensors``, sha256 in the card)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from separate.registry.card import write_card
from separate.registry.loader import sha256_file


def export_model(model: torch.nn.Module, name: str, out_dir: str | Path, *, arch: str,
                 args: dict[str, Any], description: str = "", license: str = "MIT",
                 engine: dict[str, Any] | None = None, training: dict[str, Any] | None = None,
                 metrics: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/NAME.safetensors`` and ``out_dir/NAME.toml``; returns the card path.

    The card's ``[weights] embedded`` is the safetensors file name (relative to the card), with
    its sha256, so the pair can be moved together anywhere (``SEPARATE_MODELS``). The card's
    ``subcommand`` is ``split`` (the training loop trains separation models).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{name}.safetensors"
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(weights), metadata={"name": name, "arch": arch})
    card: dict[str, Any] = {
        "name": name,
        "description": description,
        "arch": arch,
        "sources": list(model.sources),  # type: ignore[arg-type]
        "sample_rate": int(model.sample_rate),  # type: ignore[arg-type]
        "audio_channels": int(model.audio_channels),  # type: ignore[arg-type]
        "license": license,
        "args": args,
        "weights": {"embedded": weights.name, "sha256": sha256_file(weights)},
    }
    if engine:
        card["engine"] = engine
    if training:
        card["training"] = training
    if metrics:
        card["metrics"] = metrics
    return write_card(out / f"{name}.toml", card, subcommand="split")
