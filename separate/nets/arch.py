"""The architecture table: :func:`register` (a class decorator) fills ``ARCHITECTURES`` and the
specs :func:`separate.nets.spec` reads. Its own module so that every architecture module imports
it without importing the package that imports them all (no import cycle:
docs/ARCHITECTURE.md, "Rooms and what each may import")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from separate.nets.contract import SUBCOMMANDS

#: ``arch`` → the architecture's class (or factory).
ARCHITECTURES: dict[str, Callable[..., torch.nn.Module]] = {}

#: The card fields a separation model's constructor takes (besides the card's ``[args]``).
SEPARATION_FIELDS = ("sources", "sample_rate", "audio_channels")


@dataclass(frozen=True)
class ArchSpec:
    """How the registry builds one architecture.

    Attributes:
        name: the cards' ``arch``.
        cls: the class (or factory) called with the card's fields and ``[args]``.
        subcommand: the one ``separate`` subcommand that runs it (selects its contract).
        card_fields: the card fields passed to ``cls`` as keywords, e.g. ``("sample_rate",)``.
    """

    name: str
    cls: Callable[..., torch.nn.Module]
    subcommand: str
    card_fields: tuple[str, ...]


SPECS: dict[str, ArchSpec] = {}


def register(name: str, *, subcommand: str = "split",
             card_fields: tuple[str, ...] = SEPARATION_FIELDS) -> Callable[[type], type]:
    """Class decorator: make an architecture buildable from a card as ``arch = name``.

    Args:
        name: the cards' ``arch``.
        subcommand: the subcommand that runs its models (one of ``SUBCOMMANDS``).
        card_fields: card fields (``sources``, ``sample_rate``, ``audio_channels``) its
            constructor takes as keywords.

    Raises:
        ValueError: unknown ``subcommand``.
    """
    if subcommand not in SUBCOMMANDS:
        raise ValueError(f"unknown subcommand {subcommand!r}; known: {', '.join(SUBCOMMANDS)}")

    def deco(cls: type) -> type:
        ARCHITECTURES[name] = cls
        SPECS[name] = ArchSpec(name, cls, subcommand, tuple(card_fields))
        return cls

    return deco
