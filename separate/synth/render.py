"""Render note lists with FluidSynth, driven directly through pyfluidsynth's C library.

One ``fluid_synth_t`` per process, every SoundFont loaded once (with dynamic sample loading, so
the 85 MB MuseScore .sf3 costs nothing until a preset is used). A part is rendered by sending its
note-on/off events in time order and asking FluidSynth for the float samples in between, written
straight into the output array (``fluid_synth_write_float``): no MIDI file, no int16 round trip,
no dithering noise, so the result is deterministic. FluidSynth's own reverb and chorus are off;
effects are applied per stem afterwards (:mod:`separate.synth.effects`).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from separate.synth.soundfonts import available, font_path, melodic_fonts

__all__ = ["NoteEvent", "FluidRenderer", "renderer"]


@dataclass(frozen=True)
class NoteEvent:
    """One note: MIDI ``pitch`` (0-127), ``start``/``end`` in s, ``velocity`` (1-127)."""

    pitch: int
    start: float
    end: float
    velocity: int


class FluidRenderer:
    """A FluidSynth synthesiser rendering one part at a time to float32 stereo.

    Args:
        sample_rate: output rate in Hz.
        gain: FluidSynth master gain (linear).
    """

    def __init__(self, sample_rate: int = 44100, gain: float = 0.4):
        import fluidsynth  # pyfluidsynth

        self._fl = fluidsynth._fl
        self.polyphony = 128
        # Silence FluidSynth's warnings (voice allocation while priming every slot, below).
        for level in (2, 3, 4):  # FLUID_WARN, FLUID_INFO, FLUID_DBG
            self._fl.fluid_set_log_function(level, None, None)
        self.sample_rate = sample_rate
        self.synth = fluidsynth.Synth(
            gain=gain,
            samplerate=sample_rate,
            channels=16,
            **{
                "synth.reverb.active": 0,
                "synth.chorus.active": 0,
                "synth.dynamic-sample-loading": 1,
                "synth.polyphony": self.polyphony,
                "synth.cpu-cores": 1,
            },
        )
        self._fonts: dict[str, int] = {}
        self._prime_font = "FluidR3_GM" if "FluidR3_GM" in available() else melodic_fonts("test")[0]
        self._pinned: set[tuple[int, int, int]] = set()
        self._written = 0  # samples produced so far, to realign on FluidSynth's 64-sample blocks
        write = self._fl.fluid_synth_write_float
        write.restype = ctypes.c_int
        write.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
        ]
        self._write = write
        pin = self._fl.fluid_synth_pin_preset
        pin.restype = ctypes.c_int
        pin.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._pin = pin

    def _font_id(self, key: str) -> int:
        if key not in self._fonts:
            sfid = self.synth.sfload(str(font_path(key)))
            if sfid < 0:
                raise RuntimeError(f"FluidSynth could not load SoundFont {key}")
            self._fonts[key] = sfid
        return self._fonts[key]

    def preset_name(self, font: str, bank: int, program: int) -> str | None:
        """Name of a preset, or None when the SoundFont has no such preset."""
        name = self.synth.sfpreset_name(self._font_id(font), bank, program)
        return name or None

    def _render_into(self, out: np.ndarray, start: int, stop: int) -> None:
        if stop <= start:
            return
        base_l = out[0].ctypes.data + 4 * start
        base_r = out[1].ctypes.data + 4 * start
        n = stop - start
        self._written += n
        # FluidSynth accepts any length; feed it in blocks to keep its buffers small.
        step = 65536
        for off in range(0, n, step):
            m = min(step, n - off)
            self._write(self.synth.synth, m, base_l + 4 * off, 0, 1, base_r + 4 * off, 0, 1)

    def _canonical_state(self) -> None:
        # FluidSynth's voice slots keep stale data from the notes they last played, which
        # changes later notes slightly (measured: the same part rendered after different parts
        # differed by up to 1e-2). Each slot holds two render voices that are swapped when a
        # sounding voice is killed (drum hi-hat chokes do that), so before every part: twice
        # fill every slot with one canonical note and kill them all. Every part then starts
        # from the same state whatever was rendered before (checked by rendering a track after
        # different histories; a `system_reset` here breaks that again).
        ch = 15
        sfid = self._font_id(self._prime_font)
        scratch = np.zeros((2, 128 + (-(self._written + 128)) % 64), dtype=np.float32)
        for _ in range(2):
            self.synth.program_select(ch, sfid, 0, 0)
            for key in range(self.polyphony):
                self.synth.noteon(ch, 24 + key % 72, 64)
            self._render_into(scratch, 0, scratch.shape[1])
            self.synth.all_sounds_off(ch)
            self._render_into(scratch, 0, 128)
            self.synth.all_notes_off(ch)
        rest = np.zeros((2, 128 + (-(self._written + 128)) % 64), dtype=np.float32)
        self._render_into(rest, 0, rest.shape[1])

    def render(
        self,
        notes: Sequence[NoteEvent],
        font: str,
        bank: int,
        program: int,
        num_samples: int,
        channel: int = 0,
    ) -> np.ndarray:
        """Render ``notes`` with one preset.

        Args:
            notes: the notes (any order).
            font: SoundFont key (:mod:`separate.synth.soundfonts`).
            bank, program: the preset (drum kits of GM fonts are bank 128).
            num_samples: length of the output (samples); notes and tails past it are cut.
            channel: MIDI channel (9 for GM drum kits).

        Returns:
            float32 ``[2, num_samples]``, FluidSynth's stereo output at ``sample_rate``.

        Raises:
            RuntimeError: the SoundFont cannot be loaded or has no such preset.
        """
        sfid = self._font_id(font)
        if self.synth.program_select(channel, sfid, bank, program) != 0:
            raise RuntimeError(f"{font} has no preset bank {bank} program {program}")
        if (sfid, bank, program) not in self._pinned:
            # With dynamic sample loading a preset's samples are freed when no channel uses it
            # (and the .sf3 ones decompressed again on the next use): keep them in memory.
            self._pin(self.synth.synth, sfid, bank, program)
            self._pinned.add((sfid, bank, program))
        self._canonical_state()
        sr = self.sample_rate
        events: list[tuple[int, int, int, int]] = []  # (sample, order, pitch, velocity)
        for n in notes:
            s = int(round(n.start * sr))
            e = max(s + 1, int(round(n.end * sr)))
            events.append((s, 1, n.pitch, n.velocity))
            events.append((e, 0, n.pitch, 0))  # note-offs first at equal times
        events.sort()
        out = np.zeros((2, num_samples), dtype=np.float32)
        pos = 0
        for sample, kind, pitch, vel in events:
            sample = min(sample, num_samples)
            self._render_into(out, pos, sample)
            pos = sample
            if pos >= num_samples:
                break
            if kind == 1:
                self.synth.noteon(channel, pitch, vel)
            else:
                self.synth.noteoff(channel, pitch)
        self._render_into(out, pos, num_samples)
        # Leave the synth clean for the next part (no voice outlives its part).
        self.synth.all_sounds_off(channel)
        self.synth.all_notes_off(channel)
        # Events are applied at FluidSynth's 64-sample block boundaries: end on a boundary so
        # every part starts at the same block phase, whatever was rendered before (determinism).
        flush = 4096 + (-(self._written + 4096)) % 64
        scratch = np.zeros((2, flush), dtype=np.float32)
        self._render_into(scratch, 0, flush)
        return out


_RENDERER: FluidRenderer | None = None


def renderer(sample_rate: int = 44100) -> FluidRenderer:
    """The process-wide renderer (created on first use; one per worker process)."""
    global _RENDERER
    if _RENDERER is None or _RENDERER.sample_rate != sample_rate:
        _RENDERER = FluidRenderer(sample_rate)
    return _RENDERER
