"""Optimisers for adaptation: Ranger = RAdam + Lookahead (Sec. 5: "Ranger was used").

Ranger (Wright 2019) wraps RAdam (Liu et al. 2019, ``torch.optim.RAdam``) in Lookahead (Zhang et
al. 2019): every ``k`` inner steps the slow weights move a fraction ``alpha`` towards the fast
ones, and the fast weights restart from there. Ranger's published defaults are used: ``k = 6``,
``alpha = 0.5``, ``betas = (0.95, 0.999)``, ``eps = 1e-5``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch


class Lookahead(torch.optim.Optimizer):
    """Lookahead around any inner optimiser ("k steps forward, 1 step back").

    Args:
        inner: the fast optimiser (already built on the parameters).
        k: inner steps between two synchronisations (default 6).
        alpha: slow-weight step, ``slow += alpha * (fast - slow)`` (default 0.5).
    """

    def __init__(self, inner: torch.optim.Optimizer, k: int = 6, alpha: float = 0.5):
        if k < 1 or not 0.0 < alpha <= 1.0:
            raise ValueError("Lookahead needs k >= 1 and 0 < alpha <= 1")
        self.inner = inner
        self.k = k
        self.alpha = alpha
        self._steps = 0
        self._slow = [
            [p.detach().clone() for p in group["params"]] for group in inner.param_groups
        ]
        # share the inner optimiser's groups and state (lr schedulers act on them)
        self.param_groups = inner.param_groups
        self.defaults = inner.defaults
        self.state = inner.state

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):  # type: ignore[override]
        loss = self.inner.step(closure)
        self._steps += 1
        if self._steps % self.k == 0:
            for group, slow in zip(self.inner.param_groups, self._slow, strict=True):
                for p, s in zip(group["params"], slow, strict=True):
                    s.add_(p - s, alpha=self.alpha)
                    p.copy_(s)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"inner": self.inner.state_dict(), "slow": self._slow, "steps": self._steps}

    def load_state_dict(self, state_dict: dict) -> None:
        self.inner.load_state_dict(state_dict["inner"])
        self._slow = state_dict["slow"]
        self._steps = state_dict["steps"]


def ranger(params: Iterable[torch.nn.Parameter], lr: float = 1e-5) -> Lookahead:
    """Ranger: ``Lookahead(RAdam(params, lr, betas=(0.95, 0.999), eps=1e-5), k=6, alpha=0.5)``."""
    inner = torch.optim.RAdam(list(params), lr=lr, betas=(0.95, 0.999), eps=1e-5)
    return Lookahead(inner, k=6, alpha=0.5)


def make_optimizer(
    name: str, params: Iterable[torch.nn.Parameter], lr: float
) -> torch.optim.Optimizer:
    """``"ranger"`` (the paper's) or ``"adam"`` (``torch.optim.Adam`` with its defaults)."""
    if name == "ranger":
        return ranger(params, lr)
    if name == "adam":
        return torch.optim.Adam(list(params), lr=lr)
    raise ValueError(f"unknown optimizer {name!r} (ranger or adam)")
