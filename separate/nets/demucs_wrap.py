"""Demucs models (``pip install 'separate[demucs]'``) under the separation-model contract.

A Demucs *bag* (``demucs.apply.BagOfModels``: one or more HTDemucs / HDemucs / Demucs models and
a per-model, per-source weight) becomes a :class:`DemucsBag`, buildable from a card with
``provider = "demucs"``, ``arch = "demucs"``::

    [args]
    models = ["955717e8"]          # the bag's signatures (demucs/remote/<name>.yaml)
    # weights = [[1, 0, 0, 0], ...] one row per model, one weight per source (default: ones)
    # segment = 44                 # seconds; overrides the models' (as BagOfModels does)
    [weights]
    hf_repo = "adefossez/HTDemucs" # the repository demucs.hf reads (hf_repo_name)
    revision = "<commit>"
    [weights.files]
    "955717e8.safetensors" = "<sha256>"
    [engine]                       # what makes our engine match demucs.apply.apply_model
    segment = 7.8                  # the HTDemucs training segment (s)
    overlap = 0.25
    window = "triangle"
    plan = "demucs"

Loading never unpickles: a ``.safetensors`` file carries the model class and its constructor
arguments as JSON metadata (the layout of ``demucs/hf.py``); the class must be one of
:data:`ALLOWED_CLASSES` (``demucs.hf`` would import whatever module the metadata names) and
quantized (DiffQ) states are refused. A legacy ``.th`` file goes through
``torch.load(weights_only=True)`` with only the Demucs classes allowed as globals.

The bag's output is ``Σ_m w[m, s] · model_m(mix)[s] / Σ_m w[m, s]`` for each source ``s``, as
in ``demucs.apply.apply_model`` (Rouard, Massa & Défossez 2023, Sec. 3; Défossez 2021 for the
bag of models).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
from torch import nn

from separate.errors import ModelError
from separate.nets.arch import register

#: Model classes a weights file may name (everything else is refused).
ALLOWED_CLASSES = ("demucs.htdemucs.HTDemucs", "demucs.hdemucs.HDemucs", "demucs.demucs.Demucs")


def _classes() -> dict[str, type]:
    from demucs.demucs import Demucs
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs

    return {"demucs.htdemucs.HTDemucs": HTDemucs, "demucs.hdemucs.HDemucs": HDemucs,
            "demucs.demucs.Demucs": Demucs}


def _decode(value: Any) -> Any:
    """JSON → constructor arguments, restoring fractions (``{"_type": "fraction", ...}``)."""
    if isinstance(value, dict):
        if value.get("_type") == "fraction":
            return Fraction(value["numerator"], value["denominator"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _build(klass_name: str, args: list, kwargs: dict, state: dict[str, torch.Tensor],
           where: str) -> nn.Module:
    from demucs.states import load_model

    classes = _classes()
    if klass_name not in classes:
        raise ModelError(
            f"{where}: model class {klass_name!r} is not one of {', '.join(ALLOWED_CLASSES)}; "
            "refusing to import it"
        )
    if state.get("__quantized") or any(k.startswith("__") for k in state):
        raise ModelError(f"{where}: quantized (DiffQ) Demucs states are not supported")
    try:
        model = load_model({"klass": classes[klass_name], "args": list(args),
                            "kwargs": dict(kwargs), "state": state})
    except (RuntimeError, TypeError, ValueError, KeyError) as exc:
        raise ModelError(f"{where}: the weights do not fit {klass_name}: {exc}") from None
    return model.eval()


def _encode(value: Any) -> Any:
    """Constructor arguments → JSON (inverse of :func:`_decode`)."""
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator,
                "denominator": value.denominator}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def save_demucs_safetensors(model: nn.Module, path: str | Path) -> Path:
    """Write one Demucs model in the layout :func:`load_demucs_safetensors` (and ``demucs.hf``)
    reads; written to a temporary name, then renamed. Returns ``path``.

    Raises:
        ValueError: a model that did not record its constructor arguments (``capture_init``).
    """
    from safetensors.torch import save_file

    if not hasattr(model, "_init_args_kwargs"):
        raise ValueError(f"{type(model).__name__} did not record its constructor arguments")
    args, kwargs = model._init_args_kwargs
    meta = {"klass": f"{type(model).__module__}.{type(model).__name__}",
            "args": json.dumps(_encode(list(args))), "kwargs": json.dumps(_encode(dict(kwargs)))}
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    save_file(state, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def load_demucs_safetensors(path: str | Path) -> nn.Module:
    """One Demucs model from a safetensors file in the layout of ``demucs/hf.py``
    (tensors = state dict; metadata ``klass``, ``args``, ``kwargs`` as JSON).

    Raises:
        ModelError: unreadable file, a class outside :data:`ALLOWED_CLASSES`, a quantized state,
            or weights that do not fit.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise ModelError(f"{path}: not a readable safetensors file ({exc})") from None
    if "structure" in meta:
        raise ModelError(f"{path}: quantized (DiffQ) Demucs states are not supported")
    missing = [k for k in ("klass", "args", "kwargs") if k not in meta]
    if missing:
        raise ModelError(f"{path}: metadata lacks {', '.join(missing)} (not a Demucs export)")
    args = _decode(json.loads(meta["args"]))
    kwargs = _decode(json.loads(meta["kwargs"]))
    return _build(meta["klass"], args, kwargs, tensors, str(path))


def load_demucs_th(path: str | Path) -> nn.Module:
    """One Demucs model from a legacy ``.th`` package, through ``torch.load(weights_only=True)``
    with only the Demucs classes (and ``Fraction``) allowed as globals.

    Raises:
        ModelError: the file needs anything else to unpickle, or as
            :func:`load_demucs_safetensors`.
    """
    classes = _classes()
    try:
        with torch.serialization.safe_globals([*classes.values(), Fraction]):
            package = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - the unpickler raises several types
        raise ModelError(
            f"{path}: refused by torch.load(weights_only=True) ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    if not isinstance(package, dict) or "klass" not in package:
        raise ModelError(f"{path}: not a Demucs model package")
    klass = package["klass"]
    name = f"{klass.__module__}.{klass.__name__}" if isinstance(klass, type) else str(klass)
    return _build(name, package.get("args", []), package.get("kwargs", {}),
                  package.get("state", {}), str(path))


def load_demucs_file(path: str | Path) -> nn.Module:
    """:func:`load_demucs_safetensors` or :func:`load_demucs_th` by suffix."""
    suffix = Path(path).suffix
    if suffix == ".safetensors":
        return load_demucs_safetensors(path)
    if suffix in (".th", ".pt"):
        return load_demucs_th(path)
    raise ModelError(f"{path}: expected a .safetensors (or legacy .th) Demucs file")


@register("demucs")
class DemucsBag(nn.Module):
    """A bag of Demucs models honouring the separation contract.

    Args:
        models: Demucs models (``demucs.htdemucs.HTDemucs``, ``HDemucs`` or ``Demucs``) with the
            same sources, sample rate and channels.
        weights: ``[len(models)][len(sources)]`` weights (default all ones).
        segment: seconds; replaces each model's ``segment`` (for HTDemucs only when shorter, as
            ``BagOfModels`` does).

    ``forward(mix [B, C, T]) -> [B, S, C, T]``. For HTDemucs, ``T`` must not exceed its
    training segment (``max_samples``): the engine's ``[engine] segment`` is set to it.

    ``stages()``: ``L1 … Ld`` (encoder level i: frequency and time branches, ``L1`` with the
    frequency embedding), ``T`` (cross-domain transformer, HTDemucs only; LSTM for Demucs),
    ``M`` (deepest decoder level), ``D`` (the rest of the decoder) — each group gathering that
    level of every model in the bag, so ``adapt --layers L3:D`` reads as for our U-Net.
    """

    def __init__(self, models: list[nn.Module], weights: list[list[float]] | None = None,
                 segment: float | None = None):
        super().__init__()
        if not models:
            raise ValueError("a bag needs at least one model")
        first = models[0]
        for m in models:
            if (list(m.sources) != list(first.sources) or m.samplerate != first.samplerate
                    or m.audio_channels != first.audio_channels):
                raise ValueError("models of a bag must share sources, sample rate and channels")
        from demucs.htdemucs import HTDemucs

        if segment is not None:
            for m in models:
                if not isinstance(m, HTDemucs) or segment <= m.segment:
                    m.segment = segment
        self.models = nn.ModuleList(models)
        self.sources = list(first.sources)
        self.sample_rate = int(first.samplerate)
        self.audio_channels = int(first.audio_channels)
        n_src = len(self.sources)
        if weights is None:
            weights = [[1.0] * n_src for _ in models]
        if len(weights) != len(models) or any(len(w) != n_src for w in weights):
            raise ValueError(f"weights must be {len(models)} rows of {n_src} numbers")
        w = torch.tensor(weights, dtype=torch.float32)
        if (w.sum(0) <= 0).any():
            raise ValueError("every source needs a positive total weight")
        self.register_buffer("bag_weights", w, persistent=False)
        self._htdemucs = [isinstance(m, HTDemucs) for m in models]
        self.signatures = [f"m{i}" for i in range(len(models))]  # set from the card when loaded

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_weight_files(cls, card: Any, files: dict[str, Path]) -> DemucsBag:
        """Build from a card's ``[args]`` (``models``, ``weights``, ``segment``) and its verified
        weights files (``{name: path}``, one ``<signature>.safetensors`` or ``.th`` per model).

        Raises:
            ModelError: a model file missing from the card, or sources / rate / channels that
                differ from the card's.
        """
        args = dict(card.args)
        sigs = [str(s) for s in args.get("models", [])]
        if not sigs:
            raise ModelError(f"model {card.name!r}: [args] models lists no Demucs signature")
        models = []
        for sig in sigs:
            # "<sig>.safetensors" (the Hub layout) or "<sig>-<checksum>.<ext>" (demucs' legacy
            # naming, and what separate.registry.demucs.save_bag_weight_files writes)
            found = [p for n, p in files.items()
                     if Path(n).stem == sig or Path(n).stem.startswith(f"{sig}-")]
            if len(found) != 1:
                raise ModelError(
                    f"model {card.name!r}: {len(found)} weights files for bag member {sig} in "
                    "[weights] (expected one)"
                )
            models.append(load_demucs_file(found[0]))
        seg = args.get("segment")
        try:
            bag = cls(models, args.get("weights"), None if seg is None else float(seg))
        except ValueError as exc:
            raise ModelError(f"model {card.name!r}: {exc}") from None
        bag.signatures = sigs
        if bag.sources != list(card.sources):
            raise ModelError(
                f"model {card.name!r}: the weights separate {bag.sources}, the card says "
                f"{list(card.sources)}"
            )
        if bag.sample_rate != card.sample_rate or bag.audio_channels != card.audio_channels:
            raise ModelError(
                f"model {card.name!r}: the weights are {bag.sample_rate} Hz / "
                f"{bag.audio_channels} ch, the card says {card.sample_rate} Hz / "
                f"{card.audio_channels} ch"
            )
        return bag

    # ------------------------------------------------------------------ contract

    @property
    def segment(self) -> float | None:
        """Longest chunk (seconds) every HTDemucs member accepts, ``None`` if no limit."""
        segs = [float(m.segment) for m, h in zip(self.models, self._htdemucs, strict=True) if h]
        return min(segs) if segs else None

    @property
    def max_samples(self) -> int | None:
        """:attr:`segment` in samples (``int(segment · sample_rate)`` as Demucs computes it)."""
        segs = [int(m.segment * m.samplerate)
                for m, h in zip(self.models, self._htdemucs, strict=True) if h]
        return min(segs) if segs else None

    def valid_length(self, length: int) -> int:
        """Samples to feed for ``length`` samples of signal (what ``demucs.apply.apply_model``
        pads a chunk to, with context): an HTDemucs bag's training length, else ``length``."""
        limit = self.max_samples
        return length if limit is None else max(limit, length)

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        """``mix [B, C, T]`` → ``[B, S, C, T]``, the weighted average of the bag's outputs.

        In training mode any ``T`` works (HTDemucs then runs at the input's length; its
        ``segment`` is restored afterwards).

        Raises:
            ValueError: in eval mode, ``T`` longer than an HTDemucs member's training segment.
        """
        limit = self.max_samples
        evaluating = any(not m.training for m, h in zip(self.models, self._htdemucs,
                                                        strict=True) if h)
        if evaluating and limit is not None and mix.shape[-1] > limit:
            raise ValueError(
                f"HTDemucs takes at most {limit} samples ({self.segment:g} s) per chunk, got "
                f"{mix.shape[-1]}: use an engine segment of at most {self.segment:g} s"
            )
        w = self.bag_weights.to(mix.device)
        out = None
        for m, wm in zip(self.models, w, strict=True):
            if not bool((wm != 0).any()):
                continue
            segment = m.segment  # HTDemucs overwrites it with the input length in training mode
            try:
                y = m(mix) * wm.view(1, -1, 1, 1)
            finally:
                m.segment = segment
            out = y if out is None else out + y
        assert out is not None  # every source has a positive total weight
        return out / w.sum(0).view(1, -1, 1, 1)

    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        depth = max(len(m.encoder) for m in self.models)
        groups: dict[str, list[nn.Parameter]] = {f"L{i + 1}": [] for i in range(depth)}
        groups.update({"T": [], "M": [], "D": []})
        for m in self.models:
            for i, layer in enumerate(m.encoder):
                groups[f"L{i + 1}"] += list(layer.parameters())
            for i, layer in enumerate(getattr(m, "tencoder", None) or []):
                groups[f"L{i + 1}"] += list(layer.parameters())
            if getattr(m, "freq_emb", None) is not None:
                groups["L1"] += list(m.freq_emb.parameters())
            for attr in ("crosstransformer", "lstm", "channel_upsampler", "channel_downsampler",
                         "channel_upsampler_t", "channel_downsampler_t"):
                mod = getattr(m, attr, None)
                if isinstance(mod, nn.Module):
                    groups["T"] += list(mod.parameters())
            tdec = list(getattr(m, "tdecoder", None) or [])
            offset = len(m.decoder) - len(tdec)
            for i, layer in enumerate(m.decoder):
                params = list(layer.parameters())
                if i >= offset:
                    params += list(tdec[i - offset].parameters())
                groups["M" if i == 0 else "D"] += params
        return [(name, ps) for name, ps in groups.items() if ps]
