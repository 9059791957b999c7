"""The model registry: cards (``models/*.toml``), finding them, verifying and loading weights.

``load_model(spec)`` accepts a card name (searched in ``$SEPARATE_MODELS`` folders, then the
cards shipped with the package), a path to a ``.toml`` card, or a path to a ``.safetensors`` file
with its card beside it (same stem). Hub weights: :mod:`separate.registry.hub` (download into
the Hugging Face cache with the card's pinned revision, sha256 checked after download and before
every load, offline use, upload).
"""

from separate.registry.card import (
    ModelCard,
    WeightsRef,
    card_from_dict,
    dump_card,
    load_card,
    write_card,
)
from separate.registry.checksum import sha256_file
from separate.registry.hub import weight_files
from separate.registry.loader import (
    builtin_models_dir,
    find_card,
    list_cards,
    load_model,
    model_from_card,
    verified_files,
    verify_file,
)

__all__ = [
    "ModelCard",
    "WeightsRef",
    "builtin_models_dir",
    "card_from_dict",
    "dump_card",
    "find_card",
    "list_cards",
    "load_card",
    "load_model",
    "model_from_card",
    "sha256_file",
    "verified_files",
    "verify_file",
    "weight_files",
    "write_card",
]
