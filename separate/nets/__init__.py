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

from typing import Any

import torch

from separate.nets.arch import ARCHITECTURES, SEPARATION_FIELDS, SPECS, ArchSpec, register
from separate.nets.contract import SUBCOMMANDS, SeparationModel, check_contract


def spec(arch: str) -> ArchSpec:
    """The registration of ``arch``.

    Raises:
        KeyError: unknown ``arch`` (the message lists the known ones).
    """
    _import_all()
    if arch not in SPECS:
        raise KeyError(f"unknown architecture {arch!r}; known: {', '.join(sorted(SPECS))}")
    return SPECS[arch]


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


__all__ = ["ARCHITECTURES", "SEPARATION_FIELDS", "SUBCOMMANDS", "ArchSpec", "SeparationModel",
           "build", "check_contract", "register", "spec"]
