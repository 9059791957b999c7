"""Benchmark `separate synth`: corpus throughput (x real time) and FluidSynth rendering against
pretty_midi's own FluidSynth path.

    .venv/bin/python benchmarks/bench_synth.py [--tracks 12] [--jobs 2] [--kind band]

Prints: wall-clock and CPU-time speed of a corpus run (CPU time of the workers, so the number
is meaningful on a shared machine too), the machine's load average around it, and for the parts
of a few songs: our renderer (float output written in place, one synth per process) vs
``pretty_midi.Instrument.fluidsynth`` (a new synth per call) on the same notes.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time

import numpy as np


def corpus_speed(tracks: int, jobs: int, kind: str, seed: int) -> None:
    from separate.synth.corpus import generate_corpus, plan_tracks

    specs = plan_tracks(0, seed, kind, None, tracks)
    audio = sum(s.seconds for s in specs)
    out = tempfile.mkdtemp(prefix="bench_synth_")
    load0 = os.getloadavg()[0]
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    generate_corpus(out, 0, seed, kind, jobs, None, tracks)
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime
           + s1.ru_utime - s0.ru_utime + s1.ru_stime - s0.ru_stime)
    shutil.rmtree(out, ignore_errors=True)
    print(f"corpus: {kind}, {tracks} tracks, {audio:.0f} s of audio, --jobs {jobs}")
    print(f"  wall {wall:.1f} s -> {audio / wall:.1f}x real time "
          f"(load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after, "
          f"{os.cpu_count()} cores)")
    print(f"  CPU {cpu:.1f} s -> {audio / cpu:.1f}x real time per core; "
          f"{jobs} idle cores would give ~{jobs * audio / cpu:.0f}x")


def render_vs_pretty_midi(songs: int, seed: int) -> None:
    import pretty_midi

    from separate.synth.compose import compose_band_song
    from separate.synth.render import renderer
    from separate.synth.soundfonts import font_path

    sf2 = str(font_path("FluidR3_GM"))
    r = renderer(44100)
    ours = peer = 0.0
    seconds = 0.0
    for k in range(songs):
        song = compose_band_song(np.random.default_rng([seed, k]), 30.0)
        n = int((song.duration + 1) * 44100)
        seconds += song.duration * sum(p.renderer == "fluidsynth" for p in song.parts)
        for p in song.parts:
            if p.renderer != "fluidsynth":
                continue
            bank, prog, ch = (128, 0, 9) if p.is_drum else (0, p.program, 0)
            t = time.perf_counter()
            r.render(p.notes, "FluidR3_GM", bank, prog, n, ch)
            ours += time.perf_counter() - t
            inst = pretty_midi.Instrument(program=0 if p.is_drum else p.program,
                                          is_drum=p.is_drum)
            inst.notes = [pretty_midi.Note(x.velocity, x.pitch, x.start, x.end) for x in p.notes]
            t = time.perf_counter()
            inst.fluidsynth(fs=44100, synthesizer=sf2)
            peer += time.perf_counter() - t
    print(f"rendering {seconds:.0f} s of parts with FluidR3_GM:")
    print(f"  ours (stereo float, one synth)      {seconds / ours:6.1f}x real time")
    print(f"  pretty_midi Instrument.fluidsynth   {seconds / peer:6.1f}x real time "
          f"(mono, new synth per part)")
    print(f"  ratio ours / pretty_midi            {peer / ours:6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=12)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--kind", default="band")
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--songs", type=int, default=3, help="songs for the renderer comparison")
    args = ap.parse_args()
    corpus_speed(args.tracks, args.jobs, args.kind, args.seed)
    render_vs_pretty_midi(args.songs, args.seed)


if __name__ == "__main__":
    main()
