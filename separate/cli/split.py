"""``separate split``: separate songs into stems with a registry model.

A thin skin over :func:`separate.batch.separate_many`: parse, call, render.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import typer

from separate.cli.app import app
from separate.cli.state import err_console, out_console

HELP = """Separate songs into stems (vocals, drums, bass, other) with a pretrained model.

INPUT is any mix of files, folders (searched recursively for audio files) and glob patterns.
Each track gets a folder under OUT with one file per stem; the stems sum to the mixture (the
model's residual goes to [italic]other[/italic], [italic]accompaniment[/italic] or
[italic]residual[/italic]). Output keeps the input's sample rate and channels; a float input is
written as float WAV unless [bold]--bit-depth[/bold] is given, and a stem that has to be clipped
to fit 16/24-bit (or a lossy format) is reported with a warning, since the stems then no longer
sum to the mixture.

Examples:

  separate split song.flac                       # ./separated/song/{vocals,drums,bass,other}.wav
  separate split album/ -o stems --stems 2       # vocals + accompaniment
  separate split '*.mp3' --stems vocals,bass --format flac --bit-depth 24
  separate split catalogue/ --shard 3/16 --skip-existing --json   # job 3 of 16, resumable
"""


@app.command(help=HELP, no_args_is_help=True)
def split(
    inputs: list[str] = typer.Argument(..., metavar="INPUT", help="Files, folders or globs."),
    out: Path = typer.Option(Path("separated"), "-o", "--out", help="Output folder."),
    model: str = typer.Option("default", "-m", "--model",
                              help="Registry name, or path to a card / .safetensors file."),
    stems: str | None = typer.Option(None, "--stems", help="Default: every source of the "
                                     "model. 4 (vocals, drums, bass, other; a 6-stem model's "
                                     "guitar and piano go to other), 2 (vocals, accompaniment), "
                                     "or a list like vocals,bass (+ residual)."),
    device: str = typer.Option("auto", help="auto (cuda, then mps, then cpu), cpu, cuda, mps."),
    segment: float | None = typer.Option(None, help="Chunk length in seconds (model default)."),
    overlap: float | None = typer.Option(None, help="Overlap between chunks, 0-0.99 "
                                         "(model default, 0.25)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Chunks per model call."),
    fmt: str = typer.Option("wav", "--format", help="wav, flac, ogg or mp3."),
    bit_depth: str | None = typer.Option(None, "--bit-depth", help="16, 24 or float (wav, "
                                         "flac); default float for a float input (wav), else "
                                         "16."),
    filename: str = typer.Option("{track}/{stem}.{ext}", "--filename",
                                 help="Output path template: {track}, {stem}, {ext}."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Tracks separated in parallel."),
    shard: str | None = typer.Option(None, "--shard", help="K/N: process only shard K "
                                     "(0-based) of N, chosen by a hash of each file's name."),
    skip_existing: bool = typer.Option(False, "--skip-existing/--overwrite",
                                       help="Skip tracks whose stems all exist (resume)."),
    residual: bool = typer.Option(True, "--residual/--no-residual",
                                  help="Add the model's residual so stems sum to the mixture "
                                  "(--no-residual: the model's raw outputs)."),
    downmix: bool = typer.Option(False, "--downmix", help="Accept >2 channels by downmixing "
                                 "to stereo."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    from separate.audio.io import ClippingWarning
    from separate.batch import FileReport, separate_many
    from separate.cli.progress import ProgressBars

    console = err_console()

    def show(rep: FileReport) -> None:
        if rep.status == "failed":
            msg = f"[red]error:[/red] {rep.input}: {rep.error}"
        elif rep.status == "skipped":
            msg = f"[yellow]skipped[/yellow] {rep.input} (stems exist)"
        else:
            folder = Path(next(iter(rep.outputs.values()))).parent
            msg = (f"[green]done[/green] {rep.input} → {folder} ({rep.duration:.1f} s of audio "
                   f"in {rep.seconds:.1f} s, {rep.realtime_factor or 0:.1f}× real time)")
        console.print(msg, highlight=False, soft_wrap=True)
        for w in rep.warnings:
            console.print(f"[yellow]warning:[/yellow] {w}", highlight=False, soft_wrap=True)

    if stems == "2" and model == "default":
        console.print("note: --stems 2 sums the 4-stem model's drums, bass and other; "
                      "-m vocals is the model trained for vocals + accompaniment",
                      highlight=False, soft_wrap=True)
    with ProgressBars("tracks") as bars, warnings.catch_warnings():
        warnings.simplefilter("ignore", ClippingWarning)  # shown by show() instead
        report = separate_many(
            inputs, out, model, stems=stems, residual=residual, fmt=fmt, bit_depth=bit_depth,
            filename=filename, jobs=jobs, shard=shard, skip_existing=skip_existing,
            downmix=downmix, device=device, segment=segment, overlap=overlap,
            batch_size=batch_size, on_progress=bars, on_file=show)
    if as_json:
        out_console().print_json(json.dumps(report.to_dict()))
    if report.failed:
        console.print(f"{report.failed} of {len(report.files)} input(s) failed", highlight=False)
        raise typer.Exit(1)
