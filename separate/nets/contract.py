"""The contracts models honour, one per subcommand that runs them (docs/ARCHITECTURE.md,
"The contracts").

A model is run by exactly one ``separate`` subcommand, named in its card (``subcommand``) and
declared by its architecture (:func:`separate.nets.register`). The subcommand decides what the
model must offer, because the subcommands call models differently:

``"split"`` — a **separation model** (the engine runs it over chunks of a mixture): a
``torch.nn.Module`` with

- ``sources: list[str]`` — names of the stems it outputs, in order;
- ``sample_rate: int`` — the rate (Hz) it expects;
- ``audio_channels: int`` — 1 (mono) or 2 (stereo);
- ``forward(mix)`` — ``mix: Tensor[batch, channels, time]`` → ``Tensor[batch, sources, channels,
  time]`` (same ``time``);
- ``stages()`` — its parameters as named groups ordered from input to output (e.g.
  ``L1..L6, M, D``), so that ``adapt --layers L3:D`` can select a contiguous range.

``"fewshot"`` — a separation model as above (the engine runs it once conditioned) that also has
``condition(...)`` (examples, or a class name) and ``set_target_name(name)``.

``"f0 split"`` — an F0-informed source-filter model: ``sample_rate``, ``hop`` (samples per F0
frame), ``frame_count(length)``, ``stages()`` and ``forward(mix [B, T], f0 [B, J, N]) ->
sources [B, J, T]`` (F0 in Hz, 0 = silent). It is not a ``forward(mix)`` separator.

``"f0 track --method salience"`` — a pitch-salience network: ``harmonics`` (input channels) and
``forward(hcqt [B, harmonics, bins, frames]) -> logits [B, bins, frames]``. It has no sources,
sample rate or stages of its own (its card holds the rate of its features).

:func:`check_contract` checks the attributes of the model's subcommand; shapes are the
architecture's promise (its tests check them), not checked at load time.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

#: Every subcommand that runs a model → the attributes its models must have.
CONTRACTS: dict[str, tuple[str, ...]] = {
    "split": ("sources", "sample_rate", "audio_channels", "forward", "stages"),
    "fewshot": ("sources", "sample_rate", "audio_channels", "forward", "stages", "condition",
                "set_target_name"),
    "f0 split": ("sample_rate", "hop", "frame_count", "forward", "stages"),
    "f0 track --method salience": ("harmonics", "forward"),
}

#: The subcommands a model card may name (``subcommand = ...``), in the order of the README.
SUBCOMMANDS: tuple[str, ...] = tuple(CONTRACTS)


@runtime_checkable
class SeparationModel(Protocol):
    """The ``"split"`` contract (module docstring)."""

    sources: list[str]
    sample_rate: int
    audio_channels: int

    def __call__(self, mix: torch.Tensor) -> torch.Tensor: ...

    def stages(self) -> list[tuple[str, list[torch.nn.Parameter]]]: ...


def check_contract(model: object, subcommand: str = "split") -> None:
    """Check that ``model`` honours the contract of ``subcommand`` (module docstring).

    Raises:
        TypeError: naming the first missing piece of the contract.
        ValueError: ``subcommand`` is not one of :data:`SUBCOMMANDS`.
    """
    if subcommand not in CONTRACTS:
        raise ValueError(f"unknown subcommand {subcommand!r}; known: {', '.join(SUBCOMMANDS)}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{type(model).__name__} is not a torch.nn.Module")
    for attr in CONTRACTS[subcommand]:
        if not hasattr(model, attr):
            raise TypeError(f"{type(model).__name__} lacks `{attr}` (the contract of "
                            f"`separate {subcommand}` models)")
    if hasattr(model, "audio_channels") and int(model.audio_channels) not in (1, 2):  # type: ignore[arg-type]
        raise TypeError("audio_channels must be 1 or 2")
