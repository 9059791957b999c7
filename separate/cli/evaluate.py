"""``separate eval``: BSS-Eval v4 (museval), SI-SDR, SiSEC aggregation, reports and plots."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from separate.cli.app import app
from separate.cli.state import err_console, out_console
from separate.errors import UsageError

HELP = """Score separated stems against references: SDR, SIR, SAR, ISR (BSS-Eval v4, exactly as
museval computes them for SiSEC 2018) and SI-SDR, on 1 s frames.

ESTIMATES and REFERENCES are folders in MUSDB18-HQ layout ([italic]track/stem.wav[/italic] on
both sides, matched by name; a [italic]test/[/italic] level is looked through), one track folder,
or two audio files. With [bold]--musdb ROOT[/bold] the references come from the musdb package
(stem.mp4 or HQ wav). A missing [italic]accompaniment[/italic] reference is drums+bass+other.

Numbers per stem: [bold]median[/bold] over frames per track, then median over tracks (SiSEC
2018), and the means. Frames where the reference is silent can be left out
([bold]--skip-silent[/bold], or [bold]--activations[/bold] with the user's marks).

Examples:

  separate eval separated/ --reference musdb18hq/test            # tables on the terminal
  separate eval separated/ --musdb ~/MUSDB18 --subset test --fast --jobs 2
  separate eval est/ -r ref/ --out scores/ --json > summary.json  # museval JSON + frames.csv
  separate eval --estimates base=runA/ --estimates adapted=runB/ -r ref/ --plot sdr.png
  separate eval est/vocals.wav -r ref/vocals.wav --activations marks.csv
"""


def _parse_sets(estimates: str | None, extra: list[str]) -> dict[str, Path]:
    items = ([estimates] if estimates else []) + list(extra or [])
    if not items:
        raise UsageError("give ESTIMATES (or one or more --estimates LABEL=PATH)")
    sets: dict[str, Path] = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep or os.path.exists(item):
            label, path = Path(item).name or item, item
        if label in sets:
            raise UsageError(f"two estimate sets are labelled {label!r}: use LABEL=PATH")
        sets[label] = Path(path)
    return sets


@app.command("eval", help=HELP, no_args_is_help=True)
def eval_cmd(
    estimates: str | None = typer.Argument(None, metavar="ESTIMATES",
                                           help="Estimates folder (track/stem.wav) or file."),
    more: list[str] = typer.Option([], "--estimates", "-e", metavar="[LABEL=]PATH",
                                   help="More estimate sets, compared side by side."),
    reference: Path | None = typer.Option(None, "--reference", "-r",
                                          help="References folder (track/stem.wav) or file."),
    musdb_root: Path | None = typer.Option(None, "--musdb", help="MUSDB18(-HQ) root; references "
                                           "read with the musdb package."),
    subset: str = typer.Option("test", help="MUSDB subset (with --musdb)."),
    win: float = typer.Option(1.0, help="Evaluation window (s)."),
    hop: float = typer.Option(1.0, help="Hop between windows (s)."),
    fast: bool = typer.Option(False, "--fast", help="Vectorised BSS-Eval: museval's numbers "
                              "(within 3e-4 dB on the real clips), 16-20x faster on 4-stem "
                              "stereo, 3-9x on mono or 2-source material."),
    mode: str = typer.Option("v4", help="v4: filters from the whole track (SiSEC 2018); v3: "
                             "filters re-estimated in every window."),
    sisdr: bool = typer.Option(True, "--sisdr/--no-sisdr", help="Also compute SI-SDR."),
    bss: bool = typer.Option(True, "--bss/--no-bss", help="Compute BSS-Eval (SDR/SIR/SAR/ISR)."),
    activations: Path | None = typer.Option(None, "--activations", help="Marks of when each "
                                            "source plays (intervals CSV, Audacity labels, "
                                            "MedleyDB time,<source>.. CSV), or a folder of "
                                            "<track>.<ext>: only active frames count."),
    skip_silent: bool = typer.Option(False, "--skip-silent", help="Leave out frames whose "
                                     "reference sum of squares is below --silence-threshold."),
    silence_threshold: float = typer.Option(10.0, help="Sum of squares per frame (all "
                                            "channels) under which a reference frame is silent."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write <track>.json (museval "
                                    "format) and frames.csv here (one subfolder per set when "
                                    "several)."),
    as_json: bool = typer.Option(False, "--json", help="Print the aggregate as JSON on stdout."),
    plot: Path | None = typer.Option(None, "--plot", help="Write box plots per stem to this PNG."),
    plot_metric: str = typer.Option("SDR", help="Metric of --plot (SDR, SIR, SAR, ISR, SI-SDR)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Tracks evaluated in parallel (processes)."),
) -> None:
    from separate.evaluation import aggregate
    from separate.evaluation.metrics import ALL_METRICS
    from separate.evaluation.report import aggregate_table, box_plot, tracks_table
    from separate.evaluation.scores import json_safe, write_frames_csv, write_track_json
    from separate.evaluation.tracks import (
        EvalOptions,
        describe,
        evaluate_jobs,
        folder_jobs,
        musdb_jobs,
    )

    if mode not in ("v3", "v4"):
        raise UsageError(f"--mode {mode!r}: use v4 or v3")
    if win <= 0 or hop <= 0:
        raise UsageError("--win and --hop must be > 0")
    if plot_metric not in ALL_METRICS:
        raise UsageError(f"--plot-metric {plot_metric!r}: one of {', '.join(ALL_METRICS)}")
    if not bss and not sisdr:
        raise UsageError("nothing to compute: --no-bss and --no-sisdr")
    if (reference is None) == (musdb_root is None):
        raise UsageError("give exactly one of --reference and --musdb")
    if activations is not None and not activations.exists():
        raise UsageError(f"--activations: {activations} not found")
    if jobs < 1:
        raise UsageError("--jobs must be >= 1")
    sets = _parse_sets(estimates, more)
    plan = {}
    for label, path in sets.items():
        if musdb_root is not None:
            plan[label] = musdb_jobs(path, musdb_root, subset)
        else:
            plan[label] = folder_jobs(path, reference)
    opts = EvalOptions(win=win, hop=hop, fast=fast, mode=mode, bss=bss, sisdr=sisdr,
                       skip_silent=skip_silent, silence_threshold=silence_threshold,
                       activations=str(activations) if activations else None)
    console = err_console()
    if out is not None:
        from separate.audio.io import check_output_dir

        check_output_dir(out)  # before any scoring
    results = {}
    failures = 0
    total = sum(len(j) for j in plan.values())
    from separate.cli.progress import ProgressBars
    from separate.progress import ProgressEvent

    count = [0]
    with ProgressBars("evaluating", console=console) as bars:
        bars(ProgressEvent("tracks", 0, total, "tracks"))
        for label, jobs_list in plan.items():
            console.print(f"[dim]{label}: {describe(jobs_list)}[/dim]")

            def done(job, _res, label=label):
                count[0] += 1
                bars(ProgressEvent("tracks", count[0], total, "tracks",
                                   f"{label}: {job.name}"[:60]))

            scores, failed = evaluate_jobs(jobs_list, opts, jobs, on_done=done)
            for job, exc in failed:
                text = str(exc)  # an InputError already names its track or file
                if not text.startswith(f"{job.name}: "):
                    text = f"{job.name}: {text}"
                console.print(f"[red]error:[/red] {text}", highlight=False)
            failures += len(failed)
            results[label] = scores

    summary = {}
    for label, scores in results.items():
        if not scores:  # every track of this label failed: no empty table, no empty files
            continue
        agg = aggregate(scores)
        summary[label] = {
            "tracks": len(scores),
            "win": win,
            "hop": hop,
            "mode": mode,
            "fast": fast,
            "aggregate": agg,
            "per_track": {
                tr.name: {t: {m: tr.median(t, m) for m in tr.values[t]} for t in tr.targets}
                for tr in scores
            },
        }
        if out is not None:
            d = out / label if len(results) > 1 else out
            d.mkdir(parents=True, exist_ok=True)
            for tr in scores:
                write_track_json(tr, d)
            write_frames_csv(scores, d / "frames.csv")
            names = ", ".join(f"{tr.name}.json" for tr in scores[:3])
            more = f" and {len(scores) - 3} more" if len(scores) > 3 else ""
            console.print(f"[green]wrote[/green] {names}{more} and frames.csv in {d}")
        if not as_json:
            con = out_console()
            if len(scores) > 1:
                con.print(tracks_table(scores, "SDR" if bss else "SI-SDR"))
            con.print(aggregate_table(
                agg, f"{label}: {len(scores)} track(s), median over {win:g} s frames then "
                     "over tracks (mean in grey)"))
    if plot is not None and any(results.values()):
        plot.parent.mkdir(parents=True, exist_ok=True)
        box_plot(results, plot, plot_metric)
        console.print(f"[green]wrote[/green] {plot}")
    if as_json and summary:
        doc = summary[next(iter(summary))] if len(summary) == 1 else summary
        typer.echo(json.dumps(json_safe(doc), indent=2))
    if failures:
        raise typer.Exit(1)
