"""Architectures, built from data (a model card's ``arch`` and ``args``).

Every architecture is registered under the ``arch`` string of its cards, with the subcommand
that runs it (:data:`separate.nets.contract.SUBCOMMANDS`: ``"split"``, ``"fewshot"``,
``"f0 split"``, ``"f0 track --method salience"``) and the card fields its constructor takes
besides ``[args]``. Each model honours the contract of its subcommand
(:mod:`separate.nets.contract`). ``ARCHITECTURES`` maps ``arch`` to the class; :func:`build`
constructs it; :func:`spec` says how (the registry's loader uses it,
:func:`separate.registry.load_model`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from separate.nets.contract import SUBCOMMANDS, SeparationModel, check_contract

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


_SPECS: dict[str, ArchSpec] = {}


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
        _SPECS[name] = ArchSpec(name, cls, subcommand, tuple(card_fields))
        return cls

    return deco


def spec(arch: str) -> ArchSpec:
    """The registration of ``arch``.

    Raises:
        KeyError: unknown ``arch`` (the message lists the known ones).
    """
    _import_all()
    if arch not in _SPECS:
        raise KeyError(f"unknown architecture {arch!r}; known: {', '.join(sorted(_SPECS))}")
    return _SPECS[arch]


def build(arch: str, **args: Any) -> torch.nn.Module:
    """Build architecture ``arch`` with keyword ``args`` (its card fields and ``[args]``).

    Raises:
        KeyError: unknown ``arch`` (the message lists the known ones).
    """
    return spec(arch).cls(**args)


def _import_all() -> None:
    # Importing the modules runs their @register decorators.
    # demucs_wrap imports the optional `demucs` package only when a Demucs model is built.
    from separate.nets import (  # noqa: F401
        demucs_wrap,
        fewshot,
        salience,
        simple,
        source_filter,
        unet,
    )


__all__ = ["ARCHITECTURES", "ArchSpec", "SUBCOMMANDS", "SeparationModel", "build",
           "check_contract", "register", "spec"]
