"""Training checkpoints (``.pt``): plain data only, never unpickled code.

A checkpoint is a dict of tensors and plain values: ``dict`` (``str``/``int`` keys), ``list``,
``tuple``, ``str``, ``int``, ``float``, ``bool``, ``None`` — what ``torch.load(weights_only=True)``
reads without running any code. Every trainer of the package (``separate train``,
``fewshot-train``, ``f0 train``, the salience trainer) writes them with :func:`save_checkpoint`
and reads them with :func:`load_checkpoint`.

Checkpoints written before this rule could hold a few non-plain *data* objects (a
``pathlib.Path`` in a configuration, a numpy scalar or array in a summary or RNG state), which
``weights_only=True`` refuses. :func:`load_checkpoint` then reads the file once more, still with
``weights_only=True`` but with exactly those data classes allowed (:data:`LEGACY_GLOBALS`; no
function and no class of ours), and converts them to plain values (``Path`` → ``str``, numpy
scalar → Python number, array → tensor). With ``migrate=True`` (a run being resumed) the file
is rewritten in the plain format, once; ``python -m separate.training.migrate RUN_DIR`` does it
for every ``.pt`` of a run folder. A file that names any other global (e.g. ``os.system`` in a
crafted pickle) is refused without running it.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from separate.errors import ModelError

_PLAIN = (str, int, float, bool, type(None))


def _legacy_globals() -> list[Any]:
    """The data classes that old checkpoints may contain (module docstring)."""
    multiarray = getattr(np, "_core", None) or np.core  # numpy 2 / numpy 1
    classes: list[Any] = [
        pathlib.PosixPath, pathlib.WindowsPath, pathlib.PurePosixPath, pathlib.PureWindowsPath,
        multiarray.multiarray.scalar, multiarray.multiarray._reconstruct, np.ndarray, np.dtype,
    ]
    for name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
                 "uint16", "uint32", "uint64", "bool_", "complex64", "complex128"):
        classes.append(type(np.dtype(getattr(np, name))))
    return classes


#: The globals allowed when reading a checkpoint of the old format (data classes only).
LEGACY_GLOBALS: list[Any] = _legacy_globals()


def check_plain(obj: Any, where: str = "checkpoint") -> None:
    """Raise ``TypeError`` naming the first value of ``obj`` that is not a tensor or plain
    (``where`` is the path to it, e.g. ``checkpoint['config']['out']``)."""
    if isinstance(obj, torch.Tensor) or isinstance(obj, _PLAIN):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"{where}: key {k!r} is a {type(k).__name__}, not str or int")
            check_plain(v, f"{where}[{k!r}]")
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}, not a "
                    "tensor or plain value (checkpoints hold no objects)")


def to_plain(obj: Any) -> Any:
    """``obj`` with the legacy data objects replaced by plain values: ``Path`` → ``str``, numpy
    scalar → Python number, numpy array → tensor (recursively in dicts, lists, tuples).

    Raises:
        TypeError: something else that is not plain (named by :func:`check_plain`).
    """
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj))
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(to_plain(v) for v in obj)
    check_plain(obj)
    return obj


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` (``PATH.tmp``, then renamed: never a half-written file).

    Raises:
        TypeError: a value that is not a tensor or plain (named; nothing is written).
    """
    path = Path(path)
    check_plain(state)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def _refusal(exc: BaseException) -> str:
    """What torch refused, e.g. ``the global posix.system``."""
    found = re.search(r"GLOBAL ([\w.]+)", str(exc))
    if found:
        return f"it names the global {found.group(1)}, which is not allowed"
    lines = [ln.strip() for ln in str(exc).splitlines() if "WeightsUnpickler" in ln]
    return lines[0] if lines else type(exc).__name__


def read_legacy(path: Path, map_location: Any) -> Any:
    """Read an old-format checkpoint with ``weights_only=True`` and :data:`LEGACY_GLOBALS`
    allowed, converted by :func:`to_plain`.

    Raises:
        ModelError: a global outside the allow-list (named; nothing of it runs), or a value
            that cannot be made plain.
    """
    try:
        with torch.serialization.safe_globals(LEGACY_GLOBALS):
            old = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(
            f"{path}: refused by torch.load(weights_only=True): {_refusal(exc)}; a checkpoint "
            "holds tensors and plain values only, and nothing else is unpickled"
        ) from None
    try:
        return to_plain(old)
    except TypeError as exc:
        raise ModelError(f"{path}: cannot convert the old checkpoint: {exc}") from None


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu", *,
                    migrate: bool = False) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)``.

    An old-format checkpoint (module docstring) is converted to plain values; with
    ``migrate=True`` it is also rewritten in the plain format (a warning says so), else a
    warning says how to convert it once.

    Args:
        path: the ``.pt`` file.
        map_location: as for ``torch.load``.
        migrate: rewrite an old-format file in place (resuming a run of one's own).

    Returns:
        the checkpoint's dict.

    Raises:
        FileNotFoundError: no such file.
        ModelError: the file is not a checkpoint, or names a global that is not allowed (a
            pickle carrying code is refused without running it); the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        state = read_legacy(path, map_location)
        if migrate:
            save_checkpoint(path, state)
            warnings.warn(f"{path}: converted from the old pickled format to plain tensors and "
                          "values (once; it loads with weights_only=True from now on)",
                          stacklevel=2)
        else:
            warnings.warn(f"{path}: old checkpoint format, converted in memory; run `python -m "
                          f"separate.training.migrate {path}` to convert the file once",
                          stacklevel=2)
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(state, dict):
        raise ModelError(f"{path}: not a checkpoint (a {type(state).__name__}, not a dict)")
    return state
