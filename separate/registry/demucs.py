"""Saving a Demucs bag in the layout its card names (the registry's side of
:mod:`separate.nets.demucs_wrap`, which builds bags and must not import the registry:
docs/ARCHITECTURE.md, "Rooms and what each may import")."""

from __future__ import annotations

from pathlib import Path

from separate.nets.demucs_wrap import DemucsBag, save_demucs_safetensors
from separate.registry.checksum import sha256_file
from separate.registry.weights import public_mode


def save_bag_weight_files(bag: DemucsBag, folder: str | Path) -> dict[str, Path]:
    """Save every model of ``bag`` as ``<signature>-<sha256[:8]>.safetensors`` in ``folder``,
    the layout :meth:`DemucsBag.from_weight_files` reads back (e.g. after ``adapt``). Each file
    is written under a temporary name and renamed once complete, so no half-written weights
    keep a final name.

    Returns:
        ``{file name: path}``, in bag order (the card's ``[weights.files]`` keys).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for sig, m in zip(bag.signatures, bag.models, strict=True):
        tmp = save_demucs_safetensors(m, folder / f".{sig}.tmp.safetensors")
        public_mode(tmp)
        final = folder / f"{sig}-{sha256_file(tmp)[:8]}.safetensors"
        tmp.replace(final)
        out[final.name] = final
    return out
