"""Model cards: ``models/<name>.toml`` (docs/ARCHITECTURE.md, "The contracts": a model card).

A card is data: the architecture and its arguments, the sources, the sample rate, where the
weights are and their sha256, the licence, the training data and the measured metrics. Example::

    name = "default"
    description = "4-stem complex-mask U-Net trained on the synthetic corpus"
    arch = "unet"
    sources = ["vocals", "drums", "bass", "other"]
    sample_rate = 44100
    audio_channels = 2
    license = "MIT"
    subcommand = "split"  # what runs it: "split", "fewshot", "f0 split", ... (SUBCOMMANDS)

    [args]            # keyword arguments of the architecture's constructor
    n_fft = 2048

    [weights]         # either `embedded` (a path relative to the card) ...
    embedded = "default.safetensors"
    sha256 = "…"
    # ... or a Hugging Face Hub file:
    # hf_repo = "user/name"; filename = "model.safetensors"; revision = "<commit sha>"
    # ... or several files (a bag of models), each with its sha256, from the Hub (with
    # `hf_repo` + `revision`) or beside the card (without):
    # [weights.files]
    # "955717e8.safetensors" = "<sha256>"

    [engine]          # optional defaults for the engine: segment (s), overlap, window, plan

    [training]        # free-form: command, data, epochs, wall time
    [metrics]         # free-form: measured numbers and the command that measured them

A card without ``subcommand`` (older cards) is run by the subcommand its architecture is
registered with (:func:`separate.nets.register`), never silently by ``split``. Cards are written
by :func:`write_card` only (``subcommand`` required).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from separate.errors import ModelError
from separate.nets.contract import SUBCOMMANDS


@dataclass
class WeightsRef:
    """Where a card's weights live. Exactly one of ``embedded`` / ``hf_repo`` is set, or neither
    (architectures without parameters, e.g. ``identity``)."""

    sha256: str | None = None
    embedded: str | None = None
    hf_repo: str | None = None
    filename: str | None = None
    revision: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def file_hashes(self) -> dict[str, str | None]:
        """Every weights file of the card → its pinned sha256 (``None`` when the card pins none).

        A single ``filename`` / ``embedded`` file, or the ``[weights.files]`` table.
        """
        if self.files:
            return {name: (sha or None) for name, sha in self.files.items()}
        if self.hf_repo is not None and self.filename is not None:
            return {self.filename: self.sha256}
        if self.embedded is not None:
            return {self.embedded: self.sha256}
        return {}


@dataclass
class ModelCard:
    """A parsed model card. ``path`` is the card file (``None`` for cards made in memory)."""

    name: str
    arch: str
    sources: list[str]
    sample_rate: int
    audio_channels: int = 2
    args: dict[str, Any] = field(default_factory=dict)
    weights: WeightsRef = field(default_factory=WeightsRef)
    description: str = ""
    license: str = ""
    provider: str = "separate"
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)
    subcommand: str = "split"
    path: Path | None = None

    def require_command(self, command: str) -> None:
        """Raise ``ModelError`` unless this model is run by ``separate COMMAND``: e.g. a
        few-shot or F0-informed model given to ``separate split`` gets a one-line pointer to
        its own subcommand (the card's ``subcommand``) instead of a failure in the engine."""
        if self.subcommand != command:
            raise ModelError(f"model {self.name!r} is not for `separate {command}`: run it with "
                             f"`separate {self.subcommand}`")

    @property
    def embedded_path(self) -> Path | None:
        """Absolute path of embedded weights, or ``None``."""
        if self.weights.embedded is None:
            return None
        p = Path(self.weights.embedded)
        if not p.is_absolute() and self.path is not None:
            p = self.path.parent / p
        return p


def load_card(path: str | Path) -> ModelCard:
    """Parse a card file.

    Raises:
        ModelError: unreadable TOML or a missing required key (named in the message).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"{path}: not a readable model card ({exc})") from None
    return card_from_dict(data, path)


def card_from_dict(data: dict[str, Any], path: Path | None = None) -> ModelCard:
    """Build a :class:`ModelCard` from a parsed TOML table (raises ``ModelError``)."""
    where = str(path) if path else "model card"
    missing = [k for k in ("arch", "sources", "sample_rate") if k not in data]
    if missing:
        raise ModelError(f"{where}: missing key(s) {', '.join(missing)}")
    w = dict(data.get("weights", {}))
    weights = WeightsRef(
        sha256=w.pop("sha256", None),
        embedded=w.pop("embedded", None),
        hf_repo=w.pop("hf_repo", None),
        filename=w.pop("filename", None),
        revision=w.pop("revision", None),
        files={str(k): str(v) for k, v in dict(w.pop("files", {})).items()},
        extra=w,
    )
    name = data.get("name") or (path.stem if path else "unnamed")
    return ModelCard(
        name=name,
        arch=data["arch"],
        sources=list(data["sources"]),
        sample_rate=int(data["sample_rate"]),
        audio_channels=int(data.get("audio_channels", 2)),
        args=dict(data.get("args", {})),
        weights=weights,
        description=data.get("description", ""),
        license=data.get("license", ""),
        provider=data.get("provider", "separate"),
        training=dict(data.get("training", {})),
        metrics=dict(data.get("metrics", {})),
        engine=dict(data.get("engine", {})),
        subcommand=str(data["subcommand"]) if "subcommand" in data else _arch_subcommand(
            str(data["arch"])),
        path=path,
    )


def _arch_subcommand(arch: str) -> str:
    """The subcommand ``arch`` is registered with (``split`` for an unknown ``arch``: loading
    it fails later with the list of known architectures)."""
    from separate import nets

    try:
        return nets.spec(arch).subcommand
    except KeyError:
        return "split"


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    """TOML has no null: leave out keys whose value is ``None`` (recursively)."""
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}


def dump_card(data: dict[str, Any], *, subcommand: str) -> str:
    """The TOML text of a card (``None`` values left out, ``subcommand`` set), checked to parse
    as a card whose ``subcommand`` is the one its architecture is registered with.

    Args:
        data: the card's tables (``arch``, ``sources``, ``sample_rate`` at least).
        subcommand: the subcommand that runs the model, one of
            :data:`separate.nets.contract.SUBCOMMANDS`.

    Raises:
        ValueError: unknown ``subcommand``, one that the architecture is not run by, or a
            missing required key.
    """
    import tomli_w

    if subcommand not in SUBCOMMANDS:
        raise ValueError(f"unknown subcommand {subcommand!r}; known: {', '.join(SUBCOMMANDS)}")
    arch = str(data.get("arch", ""))
    if "arch" in data and _arch_subcommand(arch) != subcommand:
        raise ValueError(f"architecture {arch!r} is run by `separate {_arch_subcommand(arch)}`, "
                         f"not `separate {subcommand}`")
    out = _drop_none({**{k: v for k, v in data.items() if k != "subcommand"},
                      "subcommand": subcommand})
    try:
        card_from_dict(out)
    except ModelError as exc:
        raise ValueError(str(exc)) from None
    return tomli_w.dumps(out)


def write_card(path: str | os.PathLike[str], data: dict[str, Any], *, subcommand: str) -> Path:
    """Write a model card: the one card writer of every exporter (training, adapt, few-shot,
    F0, salience, hub).

    The text is :func:`dump_card`'s; it is written to ``PATH.part`` and renamed, so an
    interrupted export never leaves a half-written card.

    Returns:
        ``path``.

    Raises:
        ValueError: see :func:`dump_card`. OSError: the folder is not writable.
    """
    path = Path(path)
    text = dump_card(data, subcommand=subcommand)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
