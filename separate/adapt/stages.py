"""Stage ranges: which parameters adaptation trains (Sec. 5.1's P-Lx:D, P-Lx:M, P-Lx:3).

A model lists its parameters as named groups from input to output, ``model.stages()`` (e.g.
``L1 … L6, M, D`` for our U-Net). A range ``"L3:D"`` selects the stages from ``L3`` to ``D``
inclusive; every other parameter of the model is frozen (``requires_grad = False``).

Accepted range forms: ``"A:B"``, ``"A:"`` (A to the last stage), ``":B"`` (first stage to B),
``"A"`` (that stage only), ``"all"`` (every stage). Names match case-insensitively.
"""

from __future__ import annotations

import torch

from separate.errors import UsageError


def stage_names(model: torch.nn.Module) -> list[str]:
    """The names of ``model.stages()``, in order."""
    return [name for name, _ in model.stages()]  # type: ignore[operator]


def select_stages(model: torch.nn.Module, spec: str) -> list[str]:
    """Resolve a range ``spec`` to the list of stage names it covers.

    Raises:
        UsageError: a name the model does not have (the message lists its stages), an empty or
            reversed range, or a model without stages.
    """
    names = stage_names(model)
    if not names:
        raise UsageError("this model has no trainable stages, so it cannot be adapted")
    lowered = [n.lower() for n in names]
    spec = spec.strip()
    if spec.lower() == "all":
        return list(names)

    def index(name: str, default: int) -> int:
        if not name:
            return default
        try:
            return lowered.index(name.lower())
        except ValueError:
            raise UsageError(
                f"--layers: the model has no stage {name!r}; its stages are {', '.join(names)} "
                "(give a range like L3:D)"
            ) from None

    if ":" in spec:
        a, _, b = spec.partition(":")
        i, j = index(a.strip(), 0), index(b.strip(), len(names) - 1)
    else:
        if not spec:
            raise UsageError(f"--layers is empty; the model's stages are {', '.join(names)}")
        i = j = index(spec, 0)
    if j < i:
        raise UsageError(f"--layers {spec}: {names[j]} comes before {names[i]} in the model")
    return names[i : j + 1]


def freeze_except(model: torch.nn.Module, spec: str) -> list[torch.nn.Parameter]:
    """Freeze every parameter of ``model`` except those of the stages in range ``spec``.

    Returns:
        The trainable parameters (what the optimiser gets), without duplicates.

    Raises:
        UsageError: as :func:`select_stages`, or a range holding no parameter.
    """
    chosen = set(select_stages(model, spec))
    for p in model.parameters():
        p.requires_grad_(False)
    params: list[torch.nn.Parameter] = []
    seen: set[int] = set()
    for name, group in model.stages():  # type: ignore[operator]
        if name not in chosen:
            continue
        for p in group:
            if id(p) not in seen:
                seen.add(id(p))
                p.requires_grad_(True)
                params.append(p)
    if not params:
        raise UsageError(f"--layers {spec}: these stages hold no parameters")
    return params


def count_parameters(params: list[torch.nn.Parameter]) -> int:
    """Number of scalar weights in ``params`` (the paper's #TP)."""
    return sum(p.numel() for p in params)
