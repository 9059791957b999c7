"""Convert old pickled checkpoints to the plain format, once: ``python -m
separate.training.migrate RUN_DIR_OR_FILE...``.

Every ``.pt`` file of each folder (recursively) is read with ``torch.load(weights_only=True)``;
one that needs the old data classes (``pathlib.Path``, numpy scalars and arrays;
:data:`separate.training.checkpoint.LEGACY_GLOBALS`) is converted to tensors and plain values
and rewritten in place. Files already plain are left untouched. A file that names any other
global is refused (reported, not run, not changed) and the exit code is 1.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path

import torch

from separate.errors import ModelError
from separate.training.checkpoint import read_legacy, save_checkpoint


def migrate_file(path: str | os.PathLike[str]) -> bool:
    """Rewrite ``path`` in the plain format if it is an old-format checkpoint.

    Returns:
        ``True`` when the file was converted, ``False`` when it was plain already.

    Raises:
        ModelError: refused (a global outside the allow-list) or not a checkpoint.
    """
    path = Path(path)
    try:
        torch.load(path, map_location="cpu", weights_only=True)
        return False
    except pickle.UnpicklingError:
        pass
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable checkpoint ({exc})") from None
    save_checkpoint(path, read_legacy(path, "cpu"))
    return True


def migrate(paths: list[str | os.PathLike[str]]) -> dict[str, list[Path]]:
    """Migrate files and every ``.pt`` under folders.

    Returns:
        ``{"converted": [...], "plain": [...], "refused": [...]}``.
    """
    out: dict[str, list[Path]] = {"converted": [], "plain": [], "refused": []}
    for p in map(Path, paths):
        files = sorted(p.rglob("*.pt")) if p.is_dir() else [p]
        for f in files:
            try:
                out["converted" if migrate_file(f) else "plain"].append(f)
            except ModelError as exc:
                print(f"error: {exc}", file=sys.stderr)
                out["refused"].append(f)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m separate.training.migrate",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="run folders or .pt files")
    a = ap.parse_args(argv)
    res = migrate(a.paths)
    for f in res["converted"]:
        print(f"converted {f}")
    print(f"{len(res['converted'])} converted, {len(res['plain'])} already plain, "
          f"{len(res['refused'])} refused")
    return 1 if res["refused"] else 0


if __name__ == "__main__":
    sys.exit(main())
