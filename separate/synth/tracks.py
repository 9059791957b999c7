"""The files of one rendered track, shared by the band renderer (:mod:`separate.synth.corpus`) and
the ensemble/choir renderer (:mod:`separate.synth.chorale`): the track spec and its random
streams, byte-reproducible float WAVs, stems with exact digital silence and their activations,
F0 CSVs, the MIDI file, and the atomic publication of a finished track folder.

Each track is a pure function of ``(seed, index)`` (:func:`track_rng`), so tracks render in any
order in any number of processes with byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from separate.activations.envelope import activation_confidence
from separate.synth import effects
from separate.synth.compose import MIDI_RESOLUTION, Song
from separate.synth.render import NoteEvent
from separate.synth.singer import F0_HOP_SECONDS

SAMPLE_RATE = 44100
TAIL_SECONDS = 1.0


@dataclass(frozen=True)
class TrackSpec:
    """What to render: ``index`` in the corpus, ``split``, track ``name``, target ``seconds``."""

    seed: int
    index: int
    kind: str
    split: str
    name: str
    seconds: float


def track_rng(spec: TrackSpec, stream: int) -> np.random.Generator:
    return np.random.default_rng([spec.seed, spec.index, stream])


def f0_from_notes(notes: list[NoteEvent], duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact F0 of a monophonic MIDI part (equal temperament, A4 = 440 Hz) on a 10 ms grid."""
    times = np.arange(0, duration, F0_HOP_SECONDS)
    f0 = np.zeros_like(times)
    for n in notes:
        sel = (times >= n.start) & (times < n.end)
        f0[sel] = 440.0 * 2 ** ((n.pitch - 69) / 12)
    return times, f0


_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile command


def write_wav(path: Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write float32 ``[channels, time]`` as a 32-bit float WAV, byte-reproducibly.

    libsndfile adds a PEAK chunk with a time stamp to float WAVs, which would make two runs
    differ; it is switched off here.
    """
    with sf.SoundFile(path, "w", sample_rate, audio.shape[0], subtype="FLOAT",
                      format="WAV") as f:
        sf._snd.sf_command(f._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        f.write(np.ascontiguousarray(audio.T, dtype=np.float32))


def write_stems(folder: Path, names: list[str], stack: np.ndarray) -> np.ndarray:
    """Write the stems ``stack [S, 2, T]`` (float32) as ``folder/<name>.wav`` after
    :func:`effects.digital_silence`, their exact float32 sum as ``mixture.wav``, and
    ``activations.csv`` (Cantisani Sec. 4, Eq. 2); returns the activation confidences
    ``[S, frames]``. Each file is written beside its final name and renamed into place."""
    stack = effects.digital_silence(np.ascontiguousarray(stack, dtype=np.float32))
    mix = stack.sum(axis=0, dtype=np.float32)
    times, conf = activation_confidence(list(stack), SAMPLE_RATE)
    rows = ["time," + ",".join(names)]
    rows += [f"{t:.3f}," + ",".join(f"{c:.4f}" for c in col)
             for t, col in zip(times, conf.T, strict=True)]
    outputs: list[tuple[Path, np.ndarray | str]] = [
        *((folder / f"{n}.wav", a) for n, a in zip(names, stack, strict=True)),
        (folder / "mixture.wav", mix), (folder / "activations.csv", "\n".join(rows) + "\n")]
    for path, content in outputs:
        part = path.with_name(f".{path.name}.part")
        if isinstance(content, str):
            part.write_text(content)
        else:
            write_wav(part, content)
        os.replace(part, path)
    return conf


def publish_track(tmp: Path, final: Path, meta: dict) -> None:
    """Write ``stems.json`` into the finished temporary track folder, then move it into place.

    The rename is the commit point: a crash before it leaves no half-written track under its
    final name, and a re-render replaces an older folder whole.
    """
    (tmp / "stems.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)


def write_f0_csv(path: Path, times: np.ndarray, f0: np.ndarray) -> None:
    lines = ["time,f0"] + [f"{t:.2f},{f:.3f}" for t, f in zip(times, f0, strict=False)]
    path.write_text("\n".join(lines) + "\n")


def write_midi(path: Path, song: Song) -> None:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=MIDI_RESOLUTION, initial_tempo=song.tempo)
    for part in song.parts:
        inst = pretty_midi.Instrument(
            program=0 if part.is_drum else part.program, is_drum=part.is_drum, name=part.name
        )
        for n in part.notes:
            inst.notes.append(pretty_midi.Note(n.velocity, n.pitch, n.start, n.end))
        pm.instruments.append(inst)
    pm.write(str(path))


def active_rms(x: np.ndarray) -> float:
    """RMS over the louder half of 50 ms blocks (level while playing, not diluted by rests)."""
    mono = x.mean(axis=0)
    b = 2205
    n = len(mono) // b
    if n == 0:
        return float(np.sqrt((mono**2).mean() + 1e-20))
    e = (mono[: n * b].reshape(n, b) ** 2).mean(axis=1)
    e = np.sort(e)[n // 2:]
    return float(np.sqrt(e.mean() + 1e-20))
