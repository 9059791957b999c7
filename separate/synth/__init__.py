"""Synthetic multitrack corpus from procedurally composed MIDI, FluidSynth SoundFonts and a
source-filter singer (``separate synth``).

Public API: :func:`generate_corpus` (a whole corpus), :func:`render_track` (one track),
:func:`plan_tracks`; the pieces live in ``compose`` (songs), ``singer`` (the voice), ``render``
(FluidSynth), ``effects`` (gain/pan/EQ/reverb), ``classes`` (the 18-class vocabulary),
``soundfonts``, ``card`` (dataset card).
"""

from separate.synth.corpus import generate_corpus, plan_tracks, render_track

__all__ = ["generate_corpus", "plan_tracks", "render_track"]
