"""`separate f0 ...`: pitch tracking and F0-informed separation of voices (Schulze-Forster et al.).

Thin skin over :mod:`separate.f0`: parse, call, render.
"""

from __future__ import annotations

from pathlib import Path

import typer

from separate.cli.app import app
from separate.cli.state import err_console
from separate.errors import UsageError

f0_app = typer.Typer(
    name="f0",
    help=(
        "Pitch tracks and F0-informed separation of monophonic voices (choirs, ensembles).\n\n"
        "[bold]track[/bold] writes the F0 of N voices to a CSV (time, f0_1..f0_N; 0 Hz = "
        "unvoiced); [bold]split[/bold] separates a mixture of N voices given their F0 with a "
        "differentiable source-filter model (Schulze-Forster et al. 2023) or an F0-informed NMF "
        "baseline; [bold]train[/bold] trains the source-filter model on mixtures only "
        "(unsupervised)."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(f0_app, name="f0")


@f0_app.command("track")
def track(
    audio: Path = typer.Argument(..., help="Audio file (any channels; mixed to mono)."),
    method: str = typer.Option("pyin", "--method", help="Tracker: pyin (librosa pYIN)."),
    voices: int = typer.Option(
        1,
        "--voices",
        "-n",
        min=1,
        help="Number of voices N. N > 1 runs pYIN iteratively with harmonic cancellation and "
        "assigns values to voices by pitch continuity (Sec. IV-B); voice 1 is the highest.",
    ),
    output: Path = typer.Option(
        None, "-o", "--output", help="CSV to write (default: AUDIO with suffix .f0.csv)."
    ),
    plot: Path = typer.Option(
        None, "--plot", help="Also save a spectrogram with the tracks (PNG)."
    ),
    fmin: float = typer.Option(65.0, help="Lowest F0 searched (Hz)."),
    fmax: float = typer.Option(1047.0, help="Highest F0 searched (Hz)."),
) -> None:
    """Track the F0 of N monophonic voices and write [italic]time,f0_1..f0_N[/italic] as CSV.

    Example: [bold]separate f0 track duet.wav --voices 2 -o duet.f0.csv --plot duet.png[/bold]
    """
    from separate.f0.io import read_mono
    from separate.f0.track import plot_f0, track_f0, write_f0_csv

    if method not in ("pyin",):
        raise UsageError(f"unknown --method {method!r}; available: pyin (salience: not yet)")
    if not 0 < fmin < fmax:
        raise UsageError("--fmin must be positive and below --fmax")
    mono, sr = read_mono(audio)
    with err_console().status(f"tracking {voices} voice(s) with {method}…"):
        result = track_f0(mono, sr, voices=voices, method=method, fmin=fmin, fmax=fmax)
    out = output or audio.with_name(audio.stem + ".f0.csv")
    write_f0_csv(out, result)
    voiced = (result.f0 > 0).mean(axis=1)
    err_console().print(
        f"wrote {out} ({len(result.times)} frames; voiced: "
        + ", ".join(f"f0_{j + 1} {100 * v:.0f}%" for j, v in enumerate(voiced))
        + ")"
    )
    if plot is not None:
        plot_f0(plot, mono, sr, result)
        err_console().print(f"wrote {plot}")
