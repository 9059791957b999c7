"""Which stems to write, and how the model's residual keeps their sum equal to the mixture.

A *stem plan* maps output stem names to sets of model sources. ``residual_into`` names the
output that also receives the model's residual ``mixture − Σ sources``, so that the written
stems sum exactly to the mixture (to float precision).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from separate.errors import UsageError

FOUR = ["vocals", "drums", "bass", "other"]


@dataclass(frozen=True)
class StemPlan:
    """Output stems as sums of model sources.

    Attributes:
        outputs: ``[(stem name, [source index, ...]), ...]`` in writing order.
        residual_into: the output that receives ``mixture − Σ sources``, or ``None``.
    """

    outputs: list[tuple[str, list[int]]]
    residual_into: str | None

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.outputs]

    def apply(self, mix: np.ndarray, sources: np.ndarray) -> dict[str, np.ndarray]:
        """``mix [C, n]``, ``sources [S, C, n]`` → ``{stem: [C, n]}``."""
        out: dict[str, np.ndarray] = {}
        for name, idx in self.outputs:
            out[name] = sources[idx].sum(axis=0) if idx else np.zeros_like(mix)
        if self.residual_into is not None:
            covered = sum(out.values()) if out else np.zeros_like(mix)
            out[self.residual_into] = out[self.residual_into] + (mix - covered)
        return out


def plan_stems(sources: list[str], spec: str | None, residual: bool = True) -> StemPlan:
    """Build the plan for ``--stems``.

    Args:
        sources: the model's sources.
        spec: ``None`` (every source), ``"4"`` (vocals, drums, bass, other; extra sources go to
            other), ``"2"`` (vocals, accompaniment), or a comma-separated list of sources (plus a
            ``residual`` stem holding everything else).
        residual: add the model's residual (``mixture − Σ sources``) to ``other``,
            ``accompaniment`` or ``residual`` so that stems sum to the mixture.

    Raises:
        UsageError: the model lacks a requested source (the message lists the model's sources).
    """
    have = ", ".join(sources)
    index = {s: i for i, s in enumerate(sources)}
    if spec is None or spec == "":
        outputs = [(s, [i]) for i, s in enumerate(sources)]
        target = next((s for s in ("other", "accompaniment", "residual") if s in index), None)
        if residual and target is None:
            outputs.append(("residual", []))
            target = "residual"
        return StemPlan(outputs, target if residual else None)
    if spec == "4":
        missing = [s for s in FOUR if s not in index]
        if missing:
            raise UsageError(f"--stems 4 needs {', '.join(missing)}; this model has: {have}")
        rest = [i for s, i in index.items() if s not in FOUR]
        outputs = [(s, [index[s]] + (rest if s == "other" else [])) for s in FOUR]
        return StemPlan(outputs, "other" if residual else None)
    if spec == "2":
        if "vocals" not in index:
            raise UsageError(f"--stems 2 needs vocals; this model has: {have}")
        rest = [i for s, i in index.items() if s != "vocals"]
        return StemPlan([("vocals", [index["vocals"]]), ("accompaniment", rest)],
                        "accompaniment" if residual else None)
    wanted = [w.strip() for w in spec.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in index]
    if unknown or not wanted:
        raise UsageError(f"unknown stem(s) {', '.join(unknown) or spec!r}; this model has: {have}"
                         " (or use 4 or 2)")
    rest = [i for s, i in index.items() if s not in wanted]
    outputs = [(w, [index[w]]) for w in wanted]
    if rest or residual:
        outputs.append(("residual", rest))
    return StemPlan(outputs, "residual" if residual else None)
