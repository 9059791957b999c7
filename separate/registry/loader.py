"""Finding cards and building models from them (local files; the Hub lives in ``hub.py``)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from separate.errors import ModelError
from separate.registry.card import ModelCard, load_card
from separate.registry.checksum import sha256_file
from separate.registry.hub import weight_files


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
    """Every card found, the first of each name winning (unreadable cards are skipped with a
    warning)."""
    seen: dict[str, ModelCard] = {}
    for d in search_dirs():
        for p in sorted(d.glob("*.toml")) if d.is_dir() else []:
            try:
                card = load_card(p)
            except ModelError as exc:  # one broken card must not hide the others
                warnings.warn(f"skipping {exc}", stacklevel=2)
                continue
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


def verify_file(card: ModelCard, name: str, path: Path, sha256: str | None) -> None:
    """Check that ``path`` exists and has the sha256 the card pins (no pin: nothing to check).

    Raises:
        ModelError: missing file, or sha256 mismatch (refusing to load; says how to repair).
    """
    if not path.is_file():
        raise ModelError(f"model {card.name!r}: weights file {path} is missing")
    if not sha256:
        if card.weights.hf_repo is not None:
            warnings.warn(
                f"model {card.name!r}: the card pins no sha256 for {name}; loading it unverified",
                stacklevel=3,
            )
        return
    digest = sha256_file(path)
    if digest != sha256:
        fix = (
            f"run `separate models pull {card.name} --force` to download it again"
            if card.weights.hf_repo is not None and "hub" in path.parts
            else "replace the file, or fix the card"
        )
        raise ModelError(
            f"model {card.name!r}: sha256 of {path} is {digest[:12]}…, the card says "
            f"{sha256[:12]}…; refusing to load ({fix})"
        )


def verified_files(card: ModelCard, force: bool = False) -> dict[str, Path]:
    """:func:`weight_files`, each checked by :func:`verify_file` (raises ``ModelError``)."""
    files = weight_files(card, force=force)
    hashes = card.weights.file_hashes()
    for name, path in files.items():
        verify_file(card, name, path, hashes.get(name))
    return files


# Cards whose `provider` is not ours name the module that registers their architecture.
_PROVIDERS = {"demucs": ("separate.nets.demucs_wrap", "pip install 'separate[demucs]'")}


def _import_provider(card: ModelCard) -> None:
    if card.provider not in _PROVIDERS:
        return
    module, install = _PROVIDERS[card.provider]
    try:
        __import__(module)
    except ImportError as exc:
        raise ModelError(
            f"model {card.name!r} needs the {card.provider!r} provider: {exc} ({install})"
        ) from None


def model_from_card(card: ModelCard, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Build the card's architecture and load its verified weights (safetensors only).

    The architecture's registration (:func:`separate.nets.register`) says which card fields its
    constructor takes (a separation model: ``sources``, ``sample_rate``, ``audio_channels``;
    the source-filter model: ``sample_rate``; the salience network: none) and which subcommand
    runs it; the card's ``subcommand`` must be that one, and the built model must honour that
    subcommand's contract (:func:`separate.nets.check_contract`). An architecture class with a
    ``from_weight_files(card, files)`` classmethod builds itself from the files (third-party
    layouts, e.g. Demucs bags); any other gets ``load_state_dict`` from its single safetensors
    file.

    Raises:
        ModelError: unknown architecture, a card whose ``subcommand`` is not its
            architecture's, weights missing, sha256 mismatch, a non-safetensors file, weights
            that do not fit the architecture, or a model that breaks its contract.
    """
    from safetensors.torch import load_file

    from separate import nets

    _import_provider(card)
    try:
        arch = nets.spec(card.arch)
    except KeyError as exc:
        raise ModelError(f"model {card.name!r}: {exc.args[0]}") from None
    if card.subcommand != arch.subcommand:
        raise ModelError(
            f"model {card.name!r}: the card says subcommand {card.subcommand!r}, but "
            f"{card.arch!r} models are run by `separate {arch.subcommand}`; fix the card"
        )
    factory = getattr(arch.cls, "from_weight_files", None)
    if factory is not None:
        files = verified_files(card)
        try:
            model = factory(card, files)
        except ModelError:
            raise
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise ModelError(f"model {card.name!r}: cannot build {card.arch!r}: {exc}") from None
    else:
        fields = {"sources": list(card.sources), "sample_rate": card.sample_rate,
                  "audio_channels": card.audio_channels}
        try:
            model = arch.cls(**{k: fields[k] for k in arch.card_fields}, **card.args)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"model {card.name!r}: cannot build {card.arch!r}: {exc}") from None
        files = verified_files(card)
        if len(files) > 1:
            raise ModelError(f"model {card.name!r}: {card.arch!r} takes one weights file")
        for path in files.values():
            if path.suffix != ".safetensors":
                raise ModelError(
                    f"model {card.name!r}: {path.name} is not a .safetensors file; cards load "
                    "safetensors only (nothing is unpickled)"
                )
            try:
                state = load_file(str(path))
                model.load_state_dict(state)
            except Exception as exc:  # noqa: BLE001 - safetensors/torch raise various types
                raise ModelError(
                    f"model {card.name!r}: cannot load weights {path}: {exc}"
                ) from None
    try:
        nets.check_contract(model, arch.subcommand)
    except TypeError as exc:
        raise ModelError(f"model {card.name!r}: {exc}") from None
    model.card = card  # type: ignore[attr-defined]
    return model.to(device).eval()


def load_model(spec: str | os.PathLike[str], device: str | torch.device = "cpu",
               subcommand: str | None = None) -> torch.nn.Module:
    """Card name or path → a ready model in eval mode on ``device``: the one way every
    subcommand loads a model (split, adapt, fewshot, f0 split, f0 track).

    Args:
        spec: a card name, a ``.toml`` card or a ``.safetensors`` file with its card beside it.
        subcommand: when given, the card must be one that ``separate SUBCOMMAND`` runs (its
            ``subcommand`` key, else its architecture's), checked before any weights are read.
            Whatever it is, the model is checked against the contract of its own subcommand
            (:mod:`separate.nets.contract`).

    Raises:
        ModelError: unknown model, weights missing or corrupt, a card of another subcommand,
            a model that breaks its contract.
    """
    card = find_card(spec)
    if subcommand is not None:
        card.require_command(subcommand)
    return model_from_card(card, device)
