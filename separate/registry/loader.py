"""Finding cards and building models from them (local files; the Hub lives in ``hub.py``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from separate.errors import ModelError
from separate.registry.card import ModelCard, load_card


def builtin_models_dir() -> Path:
    """The folder of cards shipped with the package (``models/`` in a checkout)."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_models"
    return packaged if packaged.is_dir() else here.parent / "models"


def search_dirs() -> list[Path]:
    """Card folders in search order: ``$SEPARATE_MODELS`` (``os.pathsep``-separated), built-in."""
    dirs = [Path(p) for p in os.environ.get("SEPARATE_MODELS", "").split(os.pathsep) if p]
    return [*dirs, builtin_models_dir()]


def list_cards() -> list[ModelCard]:
    """Every card found, the first of each name winning."""
    seen: dict[str, ModelCard] = {}
    for d in search_dirs():
        for p in sorted(d.glob("*.toml")) if d.is_dir() else []:
            card = load_card(p)
            seen.setdefault(card.name, card)
    return list(seen.values())


def find_card(spec: str | os.PathLike[str]) -> ModelCard:
    """Resolve a model name or path to its card.

    Raises:
        ModelError: nothing of that name (the message lists the known names).
    """
    p = Path(spec)
    if p.suffix == ".toml" and p.is_file():
        return load_card(p)
    if p.suffix == ".safetensors":
        card_path = p.with_suffix(".toml")
        if not card_path.is_file():
            raise ModelError(f"{p}: no card {card_path.name} beside the weights")
        card = load_card(card_path)
        card.weights.embedded = str(p.resolve())
        return card
    for d in search_dirs():
        c = d / f"{spec}.toml"
        if c.is_file():
            return load_card(c)
    known = ", ".join(sorted(c.name for c in list_cards())) or "none"
    raise ModelError(f"unknown model {str(spec)!r}; known models: {known}")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weights_path(card: ModelCard) -> Path | None:
    """Local path of the card's weights (downloading through the Hub cache if needed)."""
    if card.weights.embedded is not None:
        return card.embedded_path
    if card.weights.hf_repo is not None:
        from separate.registry import hub

        return hub.fetch_weights(card)
    return None


def model_from_card(card: ModelCard, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Build the card's architecture and load its verified weights (safetensors only).

    Raises:
        ModelError: weights missing, sha256 mismatch, or weights that do not fit the architecture.
    """
    from safetensors.torch import load_file

    from separate import nets

    try:
        model = nets.build(
            card.arch,
            sources=card.sources,
            sample_rate=card.sample_rate,
            audio_channels=card.audio_channels,
            **card.args,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model {card.name!r}: cannot build {card.arch!r}: {exc}") from None
    path = weights_path(card)
    if path is not None:
        if not path.is_file():
            raise ModelError(f"model {card.name!r}: weights file {path} is missing")
        if card.weights.sha256:
            digest = sha256_file(path)
            if digest != card.weights.sha256:
                raise ModelError(
                    f"model {card.name!r}: sha256 of {path} is {digest[:12]}…, the card says "
                    f"{card.weights.sha256[:12]}…; refusing to load (delete it and pull again)"
                )
        try:
            state = load_file(str(path))
            model.load_state_dict(state)
        except Exception as exc:  # noqa: BLE001 - safetensors/torch raise various types
            raise ModelError(f"model {card.name!r}: cannot load weights {path}: {exc}") from None
    nets.check_contract(model)
    model.card = card  # type: ignore[attr-defined]
    return model.to(device).eval()


def load_model(spec: str | os.PathLike[str], device: str | torch.device = "cpu") -> torch.nn.Module:
    """Card name or path → a ready model in eval mode on ``device`` (raises ``ModelError``)."""
    return model_from_card(find_card(spec), device)
