"""Activations ("marks"): when each source plays, as ``h[source, frame]`` in [0, 1].

A room below ``adapt``, ``synth`` and ``evaluation``, which all read or write marks; it imports
only ``audio`` and ``errors`` (docs/ARCHITECTURE.md, "Rooms and what each may import").

- :mod:`~separate.activations.formats` — marks files (intervals CSV, Audacity labels,
  frame-wise CSV) → ``h[source, frame]``, and the interval writer;
- :mod:`~separate.activations.envelope` — marks from isolated stems (MedleyDB envelope method,
  Cantisani et al. 2021, Eq. 2);
- :mod:`~separate.activations.from_stems` — ``separate marks``: stems folders, plots, the
  silence-quarters protocol.
"""

from separate.activations.formats import load_activations, write_intervals

__all__ = ["load_activations", "write_intervals"]
