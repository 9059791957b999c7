"""separate: music source separation toolkit (split, adapt, fewshot, f0, eval, train).

``from separate import Separator`` is the main entry point of the Python API; see
:mod:`separate.api` for the rest.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Separator", "__version__"]


def __getattr__(name: str):  # lazy: `import separate` stays cheap (no torch import)
    if name == "Separator":
        from separate.separation import Separator

        return Separator
    raise AttributeError(name)
