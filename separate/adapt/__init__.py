"""User-guided one-shot adaptation (Cantisani et al., WASPAA 2021).

The marks ("activations") it reads live one room below, in :mod:`separate.activations`
(formats, the envelope method, marks from stems), shared with ``synth`` and ``evaluation``.

- :mod:`~separate.adapt.loss` — Eq. 1 and the reconstruction-only baseline;
- :mod:`~separate.adapt.stages` — ``--layers L3:D`` stage ranges and freezing;
- :mod:`~separate.adapt.optim` — Ranger (RAdam + Lookahead);
- :mod:`~separate.adapt.loop` — the fine-tuning loop on one mixture;
- :mod:`~separate.adapt.run` — :func:`adapt`, the whole ``separate adapt`` job;
- :mod:`~separate.adapt.export` — saving an adapted model as a card + safetensors.
"""

from separate.activations.formats import load_activations, write_intervals
from separate.adapt.loop import AdaptConfig, AdaptResult, adapt_model
from separate.adapt.loss import activation_loss, reconstruction_loss
from separate.adapt.run import AdaptOutput, adapt

__all__ = [
    "AdaptConfig",
    "AdaptOutput",
    "AdaptResult",
    "activation_loss",
    "adapt",
    "adapt_model",
    "load_activations",
    "reconstruction_loss",
    "write_intervals",
]
