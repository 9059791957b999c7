"""`separate synth`: render a synthetic multitrack corpus (thin skin over separate.synth)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from separate.cli.app import app
from separate.cli.state import err_console


@app.command(
    "synth",
    help=(
        "Render a synthetic multitrack corpus with exact stems, F0 and activations.\n\n"
        "[bold]band[/bold]: procedurally composed songs (vocals by a source-filter singer, "
        "drums, bass, other) in MUSDB18-HQ layout OUT/{train,valid,test}/<track>/"
        "{mixture,vocals,drums,bass,other}.wav, 44.1 kHz stereo float32, plus stems.json, "
        "f0/<stem>.csv, activations.csv and song.mid.\n\n"
        "[bold]ensemble[/bold] / [bold]choir[/bold]: music21 corpus pieces (Bach chorales, "
        "Palestrina, Monteverdi, folk tunes) as voice1..voiceN.wav + mixture.wav; choir = "
        "four source-filter singers (SATB), ensemble = one instrument per voice.\n\n"
        "Splits are by song (80/10/10); the Red Zeppelin drum kit and the GM programs "
        "accordion, harmonica, bagpipes, whistle, sitar and banjo appear only in test. "
        "Byte-identical output for a seed, whatever --jobs.\n\n"
        "Silent stretches of a stem are exact zeros (as in real multitrack stems; museval "
        "skips them). A corpus rendered before that (a -140 dBFS residue everywhere) is "
        "fixed in place, without rendering, by [bold]--repair-silence[/bold].\n\n"
        "Example: separate synth data/synth --hours 2 --seed 1 --jobs 2"
    ),
)
def synth(
    out: Path = typer.Argument(..., help="Output folder of the corpus."),
    hours: float = typer.Option(1.0, "--hours", help="Total hours of audio to render."),
    seed: int = typer.Option(0, "--seed", help="Corpus seed; the same seed gives identical files."),
    kind: str = typer.Option("band", "--kind", help="band | ensemble | choir."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes."),
    track_seconds: float = typer.Option(
        None, "--track-seconds", help="Fixed track length in s (default: random 20-40 s)."
    ),
    tracks: int = typer.Option(
        None, "--tracks", help="Render exactly this many tracks (overrides --hours)."
    ),
    repair_silence: bool = typer.Option(
        False, "--repair-silence", help="Render nothing: give the tracks already in OUT exact "
        "digital silence where their stems do not sound (stems, mixture, activations)."
    ),
) -> None:
    if repair_silence:
        _repair(out)
        return
    from separate.synth import generate_corpus
    from separate.synth.corpus import plan_tracks

    specs = plan_tracks(hours, seed, kind, track_seconds, tracks)
    total = sum(s.seconds for s in specs)
    console = err_console()
    t0 = time.perf_counter()
    from separate.cli.progress import ProgressBars
    from separate.progress import ProgressEvent

    count = [0]
    with ProgressBars(f"synth {kind}", console=console, transient=False) as bars:
        bars(ProgressEvent("tracks", 0, len(specs), "tracks"))

        def one_done(_r) -> None:
            count[0] += 1
            bars(ProgressEvent("tracks", count[0], len(specs), "tracks"))

        generate_corpus(out, hours, seed, kind, jobs, track_seconds, tracks, progress=one_done)
    dt = time.perf_counter() - t0
    console.print(
        f"{len(specs)} tracks, {total / 60:.1f} min of audio in {dt:.1f} s "
        f"({total / max(dt, 1e-9):.0f}x real time) -> {out}"
    )


def _repair(out: Path) -> None:
    from separate.errors import UsageError
    from separate.synth.corpus import repair_silence

    tracks = sorted(p.parent for p in out.glob("*/*/stems.json"))
    if not tracks:
        raise UsageError(f"{out}: no rendered tracks (*/<track>/stems.json) to repair")
    changed = 0
    from separate.cli.progress import ProgressBars
    from separate.progress import ProgressEvent

    with ProgressBars("repair-silence", transient=False) as bars:
        for i, t in enumerate(tracks):
            changed += repair_silence(t)
            bars(ProgressEvent("tracks", i + 1, len(tracks), "tracks"))
    err_console().print(f"{changed} of {len(tracks)} tracks rewritten with digital silence")
