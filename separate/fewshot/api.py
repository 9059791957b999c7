"""Python API of ``separate fewshot``: extract an instrument given a few audio examples of it.

Example::

    from separate.fewshot import fewshot_file, parse_example

    out = fewshot_file("song.flac", [parse_example("@12.5-15.5"), parse_example("sax.wav")],
                       model="fewshot", out_dir="out", name="sax")
    # out == {"sax": Path("out/sax.wav"), "residual": Path("out/residual.wav")}

The model (``arch = "fewshot"`` or ``"fewshot-class"``) is conditioned once, then the shared
engine (:class:`separate.separation.Separator`) runs it over the mixture in 3 s chunks with
50 % overlap (Sec. 3.3), each channel of a stereo file separately, at the model's 22.05 kHz and
back.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from separate.audio.io import check_output_dir
from separate.errors import UsageError
from separate.fewshot.examples import ExampleSpec, load_example, read_audio_any
from separate.progress import ProgressCallback

DEFAULT_MODEL = "fewshot"
#: Sec. 3.3: 3 s segments with 50 % overlap.
SEGMENT_S = 3.0
OVERLAP = 0.5

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def load_fewshot_model(model: str | os.PathLike[str] | torch.nn.Module, device: str = "cpu"):
    """A registry name/path or a module → a few-shot model in eval mode.

    A name or path goes through :func:`separate.registry.load_model` with
    ``subcommand="fewshot"``; a module must honour the ``fewshot`` contract
    (:func:`separate.nets.check_contract`: a separation model with ``condition`` and
    ``set_target_name``).

    Raises:
        ModelError: unknown model, bad weights, a card of another subcommand.
        UsageError: a module that is not a few-shot model.
    """
    from separate.nets import check_contract
    from separate.registry import load_model

    if not isinstance(model, torch.nn.Module):
        return load_model(model, device, subcommand="fewshot")
    try:
        check_contract(model, "fewshot")
    except TypeError as exc:
        name = getattr(getattr(model, "card", None), "name", type(model).__name__)
        raise UsageError(f"model {name!r} is not a few-shot model (arch 'fewshot' or "
                         f"'fewshot-class'): {exc}") from None
    return model.eval()


def condition_model(
    model,
    examples: Sequence[ExampleSpec],
    negatives: Sequence[ExampleSpec] = (),
    mixture: tuple[np.ndarray, int, str] | None = None,
    label: str | None = None,
) -> None:
    """Read the examples and cache the conditioning on ``model``.

    Args:
        model: a ``fewshot`` model (examples, negatives) or a ``fewshot-class`` one (``label``).
        examples, negatives: parsed specs (``@START-END`` refers to ``mixture``).
        mixture: ``(audio [C, T], sample_rate, path)``.
        label: class name for the class-conditioned baseline.

    Raises:
        UsageError: no example for a few-shot model, negatives for a model without them,
            no/unknown label for the baseline. InputError: a bad example file or range.
    """
    sr = int(model.sample_rate)
    if hasattr(model, "classes"):  # class-conditioned baseline
        if not label:
            raise UsageError(f"this model is conditioned on a class: pass --class, one of "
                             f"{', '.join(model.classes)}")
        if label not in model.classes:
            raise UsageError(f"unknown class {label!r}; known: {', '.join(model.classes)}")
        model.condition(label)
        return
    if not examples:
        raise UsageError("give at least one --example (a file, FILE@START-END or @START-END)")
    if negatives and not getattr(model, "use_negatives", False):
        raise UsageError("this model was not trained with negative examples; drop --negative")
    if getattr(model, "use_negatives", False) and not negatives:
        warnings.warn(
            "this model was trained with negative examples; without --negative it uses an empty "
            "negative set (a zero vector), which it saw rarely in training",
            stacklevel=2,
        )
    pos = [torch.from_numpy(load_example(e, sr, mixture)) for e in examples]
    neg = [torch.from_numpy(load_example(e, sr, mixture)) for e in negatives]
    model.condition(pos, neg)


def fewshot_file(
    mix: str | os.PathLike[str],
    examples: Sequence[ExampleSpec],
    negatives: Sequence[ExampleSpec] = (),
    model: str | os.PathLike[str] | torch.nn.Module = DEFAULT_MODEL,
    out_dir: str | os.PathLike[str] = ".",
    name: str = "target",
    label: str | None = None,
    device: str = "auto",
    bit_depth: str | None = None,
    downmix: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_chunks: Callable[[int], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Path]:
    """Separate ``NAME`` (and ``residual`` = mixture − NAME) from ``mix`` given examples.

    Writes ``out_dir/NAME.wav`` and ``out_dir/residual.wav`` at the input's rate and channel
    count (temporary names, renamed when complete).

    Args:
        mix: the mixture file.
        examples: positive examples (files or ranges of ``mix``), at least one.
        negatives: negative examples (only for models trained with them, Sec. 3.5).
        model: registry name, card/safetensors path, or a few-shot module.
        out_dir: output folder (created; a file or an unwritable folder is a UsageError).
        name: the target stem's file name (letters, digits, ``_.+-``; not ``residual``).
        label: class for the class-conditioned baseline (``fewshot-class``).
        device: ``cpu`` / ``cuda`` / ``mps`` / ``auto``.
        bit_depth: ``16`` | ``24`` | ``float``; ``None``: float for a float input, else 16
            (:meth:`separate.separation.Separator.separate_file`, which warns when it clips).
        downmix: accept more than two channels by downmixing to stereo (as split).
        on_start, on_chunks: progress callbacks (total chunks; chunks done).
        on_progress: the same as :class:`separate.progress.ProgressEvent` values (``"chunks"``).

    Returns:
        ``{NAME: path, "residual": path}``.

    Raises:
        UsageError: bad name, no examples. InputError: bad mixture/example file or range.
        ModelError: model not found or not loadable.
    """
    from separate.separation import Separator

    if not _NAME.match(name) or name == "residual":
        raise UsageError(f"bad --name {name!r}: use letters, digits, _ . + - (not 'residual')")
    m = load_fewshot_model(model, "cpu")
    mix_path = Path(mix)
    needs_mix = any(e.path is None for e in [*examples, *negatives])
    mixture = None
    if needs_mix:
        audio, sr = read_audio_any(mix_path)
        mixture = (audio, sr, str(mix_path))
    condition_model(m, examples, negatives, mixture, label)
    m.set_target_name(name)
    sep = Separator(m, device=device, segment=SEGMENT_S, overlap=OVERLAP)
    out = check_output_dir(out_dir)  # after the cheap checks, before the separation
    res = sep.separate_file(mix_path, out, stems=None, residual=True, fmt="wav",
                            bit_depth=bit_depth, filename="{stem}.{ext}", downmix=downmix,
                            on_start=on_start, on_chunks=on_chunks, on_progress=on_progress)
    return dict(res.outputs)


def fewshot_array(
    model,
    mix: np.ndarray,
    sample_rate: int,
) -> np.ndarray:
    """Separate an in-memory mixture with an already conditioned model.

    Args:
        model: a conditioned few-shot model.
        mix: ``float32 [channels, T]`` or ``[T]`` at ``sample_rate``.

    Returns:
        The target estimate, ``float32`` with the shape of ``mix``.
    """
    from separate.separation import Separator

    x = np.asarray(mix, dtype=np.float32)
    sep = Separator(model, device="cpu", segment=SEGMENT_S, overlap=OVERLAP)
    stems = sep.separate_tensor(x if x.ndim == 2 else x[None], sample_rate)
    y = stems[model.sources[0]].numpy()
    return y if x.ndim == 2 else y[0]
