"""`separate marks`: activations (when each source plays) from isolated stems.

Thin skin over :mod:`separate.activations.from_stems`: parse, call, render.
"""

from __future__ import annotations

from pathlib import Path

import typer

from separate.cli.app import app
from separate.cli.state import err_console
from separate.errors import UsageError

_HELP = (
    "Write marks of when each source plays, computed from its isolated stem.\n"
    "\n"
    "STEMS_DIR holds one audio file per source, named after it (vocals.wav, bass.flac, …); a "
    "[italic]mixture.*[/italic] file there is used for the plot. Activations come from the "
    "MedleyDB envelope method with the logistic of Cantisani et al. (2021), Eq. 2 (γ = 20, θ "
    "= 0.15, active when the confidence is ≥ 0.5) and are written as intervals "
    "([italic]source,start,end[/italic]), the format [bold]separate adapt "
    "--activations[/bold] reads.\n"
    "\n"
    "With [bold]--silence-quarters[/bold], build the paper's controlled test item instead "
    "(Sec. 4): the track is cut into four equal parts, each source is silenced in a random "
    "one (in the STFT domain, so transitions are smooth), and OUT_DIR receives the new stems, "
    "[italic]mixture.wav[/italic], [italic]activations.csv[/italic], "
    "[italic]quarters.json[/italic] and a plot.\n"
    "\n"
    "Examples:\n"
    "[bold]separate marks stems/ -o marks.csv --plot marks.png[/bold]\n"
    "[bold]separate marks --silence-quarters stems/ -o item/ --seed 3[/bold]"
)


@app.command("marks", help=_HELP)
def marks_cmd(
    stems_dir: Path = typer.Argument(..., help="Folder with one audio file per source."),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Intervals CSV to write (a folder with --silence-quarters)."
    ),
    plot: Path = typer.Option(
        None, "--plot", help="Also draw the marks over the mixture waveform (PNG)."
    ),
    silence_quarters: bool = typer.Option(
        False, "--silence-quarters", help="Build the paper's silence-quarters test item."
    ),
    seed: int = typer.Option(
        None, "--seed", help="Seed of the quarter assignment (required with --silence-quarters)."
    ),
) -> None:
    from separate.activations import from_stems as marks

    console = err_console()
    if silence_quarters:
        if seed is None:
            raise UsageError("--silence-quarters needs --seed S (which source loses which quarter)")
        if output.exists() and not output.is_dir():
            raise UsageError(f"{output}: exists and is not a folder")
        with console.status("silencing quarters…"):
            info = marks.silence_quarters(stems_dir, output, seed)
        for name, (start, end) in info["quarters"].items():
            console.print(f"{name}: silent from {start:.2f} s to {end:.2f} s")
        console.print(f"wrote {output}/ (stems, mixture.wav, activations.csv, quarters.json)")
        if plot is not None:
            console.print("[yellow]note:[/yellow] the plot goes to activations.png in OUT_DIR")
        return
    if output.is_dir():
        raise UsageError(f"{output}: is a folder; give the CSV file to write")
    with console.status("computing activations…"):
        names, h, frame_rate = marks.marks_from_stems(stems_dir, output, plot)
    share = ", ".join(f"{n} {100 * h[i].mean():.0f}%" for i, n in enumerate(names))
    console.print(f"wrote {output} ({h.shape[1]} frames at {frame_rate:.2f}/s; active: {share})")
    if plot is not None:
        console.print(f"wrote {plot}")
