"""``separate split``: separate songs into stems with a registry model."""

from __future__ import annotations

import json
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from separate.cli.app import app
from separate.cli.state import err_console, out_console
from separate.errors import InputError, SeparateError, UsageError

HELP = """Separate songs into stems (vocals, drums, bass, other) with a pretrained model.

INPUT is any mix of files, folders (searched recursively for audio files) and glob patterns.
Each track gets a folder under OUT with one file per stem; the stems sum to the mixture (the
model's residual goes to [italic]other[/italic], [italic]accompaniment[/italic] or
[italic]residual[/italic]). Output keeps the input's sample rate and channels.

Examples:

  separate split song.flac                       # ./separated/song/{vocals,drums,bass,other}.wav
  separate split album/ -o stems --stems 2       # vocals + accompaniment
  separate split '*.mp3' --stems vocals,bass --format flac --bit-depth 24
  separate split catalogue/ --shard 3/16 --skip-existing --json   # job 3 of 16, resumable
"""


def _parse_shard(shard: str | None) -> tuple[int, int] | None:
    if shard is None:
        return None
    try:
        k, n = (int(v) for v in shard.split("/"))
    except ValueError:
        raise UsageError(f"--shard {shard!r}: expected K/N, e.g. 0/4") from None
    if n < 1 or not 0 <= k < n:
        raise UsageError(f"--shard {shard!r}: need 0 <= K < N")
    return k, n


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None


@app.command(help=HELP, no_args_is_help=True)
def split(
    inputs: list[str] = typer.Argument(..., metavar="INPUT...", help="Files, folders or globs."),
    out: Path = typer.Option(Path("separated"), "-o", "--out", help="Output folder."),
    model: str = typer.Option("default", "-m", "--model",
                              help="Registry name, or path to a card / .safetensors file."),
    stems: str = typer.Option("4", "--stems", help="4 (vocals, drums, bass, other), 2 (vocals, "
                              "accompaniment), or a list like vocals,bass (+ residual)."),
    device: str = typer.Option("auto", help="auto (cuda, then mps, then cpu), cpu, cuda, mps."),
    segment: float | None = typer.Option(None, help="Chunk length in seconds (model default)."),
    overlap: float | None = typer.Option(None, help="Overlap between chunks, 0-0.99 "
                                         "(model default, 0.25)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Chunks per model call."),
    fmt: str = typer.Option("wav", "--format", help="wav, flac, ogg or mp3."),
    bit_depth: str = typer.Option("16", "--bit-depth", help="16, 24 or float (wav, flac)."),
    filename: str = typer.Option("{track}/{stem}.{ext}", "--filename",
                                 help="Output path template: {track}, {stem}, {ext}."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Tracks separated in parallel."),
    shard: str | None = typer.Option(None, "--shard", help="K/N: process only shard K "
                                     "(0-based) of N, chosen by a hash of each file's name."),
    skip_existing: bool = typer.Option(False, "--skip-existing/--overwrite",
                                       help="Skip tracks whose stems all exist (resume)."),
    residual: bool = typer.Option(True, "--residual/--no-residual",
                                  help="Add the model's residual so stems sum to the mixture."),
    downmix: bool = typer.Option(False, "--downmix", help="Accept >2 channels by downmixing "
                                 "to stereo."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    from separate.api import Separator, shard_of
    from separate.audio.io import find_audio_files, output_subtype

    console = err_console()
    try:
        output_subtype(fmt, bit_depth)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    shard_kn = _parse_shard(shard)
    failures: list[dict[str, str]] = []
    files: list[Path] = []
    for item in inputs:
        try:
            files.extend(find_audio_files([item]))
        except InputError as exc:
            failures.append({"input": exc.path, "error": exc.problem})
            console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    if shard_kn is not None:
        files = [f for f in files if shard_of(f, shard_kn[1]) == shard_kn[0]]
    if not files and failures:
        raise UsageError("nothing to separate")
    _check_writable(out)
    separator = Separator(model, device=device, segment=segment, overlap=overlap,
                          batch_size=batch_size)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=console, transient=True,
                        disable=not console.is_terminal)

    def run_one(path: Path) -> None:
        task = progress.add_task(path.name[:40], total=None)
        try:
            res = separator.separate_file(
                path, out, stems=stems, residual=residual, fmt=fmt, bit_depth=bit_depth,
                filename=filename, skip_existing=skip_existing, downmix=downmix,
                on_start=lambda n: progress.update(task, total=n),
                on_chunks=lambda k: progress.advance(task, k))
            entry: dict[str, Any] = {
                "input": str(path), "status": "skipped" if res.skipped else "ok",
                "outputs": {k: str(v) for k, v in res.outputs.items()},
                "duration": round(res.duration, 3), "seconds": round(res.seconds, 3),
                "realtime_factor": round(res.realtime_factor, 2) if res.outputs else None}
            if res.skipped:
                msg = f"[yellow]skipped[/yellow] {path} (stems exist)"
            else:
                folder = next(iter(res.outputs.values())).parent
                msg = (f"[green]done[/green] {path} → {folder} ({res.duration:.1f} s of audio "
                       f"in {res.seconds:.1f} s, {res.realtime_factor:.1f}× real time)")
            console.print(msg, highlight=False, soft_wrap=True)
        except SeparateError as exc:
            if isinstance(exc, UsageError):
                raise
            problem = exc.problem if isinstance(exc, InputError) else str(exc)
            entry = {"input": str(path), "status": "failed", "error": problem}
            console.print(f"[red]error:[/red] {path}: {problem}", highlight=False,
                          soft_wrap=True)
        finally:
            progress.remove_task(task)
        with lock:
            results.append(entry)
            progress.advance(overall)

    with progress:
        overall = progress.add_task("tracks", total=len(files))
        if jobs == 1:
            for f in files:
                run_one(f)
        else:
            with ThreadPoolExecutor(jobs) as pool:
                list(pool.map(run_one, files))
    expansion: list[dict[str, Any]] = [
        {"input": f["input"], "status": "failed", "error": f["error"]} for f in failures]
    order = {str(f): i for i, f in enumerate(files)}
    results.sort(key=lambda r: order.get(str(r["input"]), 0))
    entries = results + expansion
    done = [r for r in entries if r["status"] == "ok"]
    failed = [r for r in entries if r["status"] == "failed"]
    audio = sum(float(r["duration"]) for r in done)
    spent = sum(float(r["seconds"]) for r in done)
    if as_json:
        summary = {"model": model, "out": str(out), "files": entries,
                   "separated": len(done), "failed": len(failed),
                   "skipped": sum(r["status"] == "skipped" for r in entries),
                   "audio_seconds": round(audio, 3), "seconds": round(spent, 3),
                   "realtime_factor": round(audio / spent, 2) if spent else None}
        out_console().print_json(json.dumps(summary))
    if failed:
        console.print(f"{len(failed)} of {len(entries)} input(s) failed", highlight=False)
        raise typer.Exit(1)
