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
        "unvoiced); [bold]melody[/bold] separates a song's vocals and tracks their pitch; "
        "[bold]split[/bold] separates a mixture of N voices given their F0 with a "
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
    method: str = typer.Option(
        "auto",
        "--method",
        help="pyin (librosa pYIN; several voices: iterated with harmonic cancellation), hsum "
        "(harmonic-sum salience, iterative cancellation), salience (pitch-salience U-Net, "
        "Jansson Ch. 5 / Bittner et al.: peaks of a learned salience map; trained on synthetic "
        "ensembles and choirs), auto (pyin for 1 voice, else salience).",
    ),
    voices: int = typer.Option(
        1,
        "--voices",
        "-n",
        min=1,
        help="Number of voices N. For N > 1 the per-frame F0 values are assigned to voices by "
        "pitch continuity (Sec. IV-B); voice 1 is the highest.",
    ),
    output: Path = typer.Option(
        None, "-o", "--out", "--output", help="CSV to write (default: AUDIO with suffix "
        ".f0.csv)."
    ),
    plot: Path = typer.Option(
        None,
        "--plot",
        help="Also save a PNG: the tracks over the salience map (--method salience) or over a "
        "spectrogram (other methods).",
    ),
    fmin: float = typer.Option(65.0, help="Lowest F0 searched (Hz)."),
    fmax: float = typer.Option(1047.0, help="Highest F0 searched (Hz)."),
    model: str = typer.Option(
        None,
        "-m",
        "--model",
        help="--method salience only: salience model card (name or .toml path). Default: the "
        "shipped f0-salience (embedded weights, no network).",
    ),
    threshold: float = typer.Option(
        None,
        "--threshold",
        min=0.0,
        max=1.0,
        help="--method salience only: voicing threshold on the salience (default 0.3); lower "
        "finds more (and more spurious) notes.",
    ),
) -> None:
    """Track the F0 of N monophonic voices and write [italic]time,f0_1..f0_N[/italic] as CSV.

    Examples:
      [bold]separate f0 track duet.wav --voices 2 -o duet.f0.csv --plot duet.png[/bold]
      [bold]separate f0 track quartet.wav --method salience -n 4 --plot quartet.png[/bold]
    """
    from separate.f0.io import read_mono
    from separate.f0.track import METHODS, plot_f0, track_f0, write_f0_csv

    if method not in METHODS:
        raise UsageError(f"unknown --method {method!r}; available: {', '.join(METHODS)}")
    if method != "salience" and (model is not None or threshold is not None):
        raise UsageError("--model and --threshold apply to --method salience only")
    if not 0 < fmin < fmax:
        raise UsageError("--fmin must be positive and below --fmax")
    from separate.audio.io import check_output_file

    out = check_output_file(output or audio.with_name(audio.stem + ".f0.csv"))  # before work
    net = None
    if method == "salience":
        from separate.f0.salience import load_salience_model

        net = load_salience_model(model)
    mono, sr = read_mono(audio)
    with err_console().status(f"tracking {voices} voice(s) with {method}…"):
        result = track_f0(
            mono, sr, voices=voices, method=method, fmin=fmin, fmax=fmax, model=net,
            threshold=threshold,
        )
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


@f0_app.command("melody")
def melody(
    song: Path = typer.Argument(..., help="A song (mixture; any format `separate split` reads)."),
    output: Path = typer.Option(
        None, "-o", "--output", help="CSV to write: time,f0_1 (default: SONG with .melody.csv)."
    ),
    plot: Path = typer.Option(
        None,
        "--plot",
        help="Also save a PNG: the melody over the separated vocals' spectrogram (their "
        "salience map with --method salience).",
    ),
    model: str = typer.Option(
        "default",
        "-m",
        "--model",
        help="Separation model with a vocals source (registry name or card path), e.g. default "
        "or vocals (the same weights), htdemucs (downloads).",
    ),
    method: str = typer.Option(
        "pyin",
        "--method",
        help="Pitch tracker run on the separated vocals: pyin (default) or salience (one voice).",
    ),
    vocals_out: Path = typer.Option(
        None, "--vocals", help="Also write the separated vocals (mono WAV) here."
    ),
    fmin: float = typer.Option(65.0, help="Lowest F0 searched (Hz)."),
    fmax: float = typer.Option(1047.0, help="Highest F0 searched (Hz)."),
    device: str = typer.Option("auto", "--device",
                               help="auto (cuda, then mps, then cpu), cpu, cuda, mps."),
) -> None:
    """Vocal melody of a song: separate the vocals, then track their pitch.

    Jansson's 'separately trained' pipeline (Ch. 5): a separation model isolates the vocals,
    pYIN tracks them. Writes [italic]time,f0_1[/italic] (Hz, 0 = unvoiced).

    Example: [bold]separate f0 melody song.flac -o song.melody.csv --plot song.png[/bold]
    """
    from separate.f0.io import write_mono
    from separate.f0.melody import MELODY_METHODS, track_melody_file
    from separate.f0.track import plot_f0, write_f0_csv

    if method not in MELODY_METHODS:
        raise UsageError(f"unknown --method {method!r}; available: {', '.join(MELODY_METHODS)}")
    if not 0 < fmin < fmax:
        raise UsageError("--fmin must be positive and below --fmax")
    with err_console().status(f"separating the vocals with {model}, then {method}…"):
        res = track_melody_file(song, model=model, method=method, fmin=fmin, fmax=fmax,
                                device=device)
    out = output or song.with_name(song.stem + ".melody.csv")
    write_f0_csv(out, res.track)
    voiced = float((res.track.f0[0] > 0).mean())
    err_console().print(f"wrote {out} ({len(res.track.times)} frames, {100 * voiced:.0f}% voiced)")
    if vocals_out is not None:
        write_mono(vocals_out, res.vocals, res.sample_rate)
        err_console().print(f"wrote {vocals_out}")
    if plot is not None:
        plot_f0(plot, res.vocals, res.sample_rate, res.track)
        err_console().print(f"wrote {plot}")


@f0_app.command("split")
def split(
    audio: Path = typer.Argument(..., help="Mixture of N monophonic voices (mixed to mono)."),
    voices: int = typer.Option(..., "--voices", "-n", min=1, help="Number of voices N."),
    f0: str = typer.Option(
        "estimate",
        "--f0",
        help="F0 CSV from `separate f0 track` (time,f0_1..f0_N; N columns), or 'estimate' to "
        "track the mixture here (as `f0 track --method auto`).",
    ),
    method: str = typer.Option(
        "model",
        "--method",
        help="model: the source-filter model (Schulze-Forster et al.); nmf: F0-informed NMF "
        "baseline (NMF1, Ewert & Müller).",
    ),
    model: str = typer.Option(
        "f0-choir",  # separate.f0.split.DEFAULT_MODEL (not imported here: it pulls in torch)
        "-m",
        "--model",
        help="Source-filter model card (name or .toml path). Default: f0-choir (embedded, "
        "trained unsupervised on choir mixtures). 'untrained': random weights, meaningful only "
        "with --fit-steps.",
    ),
    fit_steps: int = typer.Option(
        0,
        "--fit-steps",
        min=0,
        help="Optimise the model on this mixture for K Adam steps first (unsupervised: needs "
        "only the mixture and F0). Works from an untrained model (learning-free use).",
    ),
    fit_lr: float = typer.Option(1e-3, "--fit-lr", help="Learning rate of --fit-steps."),
    hidden: int = typer.Option(
        256, "--hidden", help="Width of an untrained model (-m untrained); 128 fits ~2x faster."
    ),
    output: Path = typer.Option(
        None, "-o", "--out", "--output", help="Output folder (default: separated/<AUDIO "
        "name>/, as split)."
    ),
    seed: int = typer.Option(0, help="Seed of the noise and the untrained weights."),
) -> None:
    """Separate a mixture of N voices given their F0; writes voice1.wav..voiceN.wav.

    Voice 1 is the first F0 column (with --f0 estimate: the highest voice).
    One mono file per voice at the input's rate; the voices add up to the (mono) mixture.

    Examples:
      [bold]separate f0 split duet.wav --voices 2 --method nmf[/bold]
      [bold]separate f0 split quartet.wav -n 4 --f0 quartet.f0.csv --fit-steps 200[/bold]
    """
    from separate.audio.io import audio_info, check_output_dir

    audio_info(audio)  # a wrong path fails before torch is imported
    from separate.f0.io import read_mono, write_mono
    from separate.f0.split import (
        DEFAULT_MODEL,
        UNTRAINED,
        check_length,
        load_source_filter,
        split_voices,
    )
    from separate.f0.track import read_f0_csv, track_f0, write_f0_csv

    if method not in ("model", "nmf"):
        raise UsageError(f"unknown --method {method!r}; use model or nmf")
    if method == "nmf" and (model != DEFAULT_MODEL or fit_steps):
        raise UsageError("--model and --fit-steps apply to --method model only")

    net = None
    if method == "model":  # the model first: an unknown -m fails before any F0 analysis
        net = load_source_filter(model, seed, hidden=hidden)
    mono, sr = read_mono(audio)
    check_length(mono, sr, audio)  # before any F0 analysis or output
    out_dir = check_output_dir(output or Path("separated") / audio.stem)
    if f0 == "estimate":
        with err_console().status(f"tracking {voices} voices…"):
            track_result = track_f0(mono, sr, voices=voices)
        write_f0_csv(out_dir / "f0.csv", track_result)
        err_console().print(f"F0 estimated: {out_dir / 'f0.csv'}")
    else:
        track_result = read_f0_csv(f0)
        if track_result.voices != voices:
            raise UsageError(
                f"--f0 {f0} has {track_result.voices} F0 column(s) but --voices is {voices}"
            )
    if method == "model":
        if model == UNTRAINED and fit_steps == 0:
            err_console().print(
                "[yellow]warning:[/yellow] untrained source-filter model without --fit-steps: "
                "the masks follow the F0 only"
            )
    from separate.cli.progress import ProgressBars
    from separate.progress import ProgressEvent

    with ProgressBars() as bars:

        def progress(phase: str, done: int, total: int) -> None:
            bars(ProgressEvent(phase, done, total))

        est = split_voices(
            mono, sr, track_result, method=method, model=net, fit_steps=fit_steps,
            fit_lr=fit_lr, seed=seed, progress=progress,
        )
    for j, voice in enumerate(est):
        write_mono(out_dir / f"voice{j + 1}.wav", voice, sr)
    err_console().print(f"wrote {len(est)} voices to {out_dir}/ ({method})")


@f0_app.command("train")
def train(
    data: list[Path] = typer.Argument(
        ...,
        help="Folder(s) of mixtures with F0: <track>/mixture.wav + <track>/f0/*.csv (separate "
        "synth), or <name>.wav + <name>.f0.csv (separate f0 track).",
    ),
    voices: list[int] = typer.Option(
        ..., "--voices", "-n", min=1, help="Voices per mixture (J); repeat (-n 2 -n 4) to "
        "train on several J, each batch one J, drawn in proportion to its total duration."),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Output path without suffix: writes OUT.safetensors + OUT.toml."
    ),
    steps: int = typer.Option(1000, min=1, help="Adam steps."),
    batch: int = typer.Option(16, min=1, help="Excerpts per step (paper: 16)."),
    lr: float = typer.Option(1e-4, help="Learning rate (paper: 1e-4)."),
    segment: float = typer.Option(4.0, help="Excerpt length in seconds (paper: 4)."),
    hidden: int = typer.Option(256, help="Width of the GRUs/MLPs (new models only)."),
    init: str = typer.Option(None, "--init", help="Continue from this source-filter card."),
    seed: int = typer.Option(0, help="Random seed."),
    lr_final: float = typer.Option(
        None, "--lr-final", help="Cosine decay of the rate from --lr to this over --steps."),
    checkpoint: Path = typer.Option(
        None, "--checkpoint", help="Checkpoint file: written every --checkpoint-seconds, "
        "and resumed from when it exists (run the same command again to continue)."),
    checkpoint_seconds: float = typer.Option(300.0, "--checkpoint-seconds", min=1.0),
    max_cpu_seconds: float = typer.Option(
        None, "--max-cpu-seconds", help="Stop (and write the card) after this much CPU time of "
        "this process, counting the time before a resume."),
) -> None:
    """Train the source-filter model on mixtures only (unsupervised, Schulze-Forster et al.).

    The loss compares the sum of the synthesised voices with the mixture; isolated voices are
    never read. Example:
    [bold]separate f0 train data/choirs --voices 4 -o models/f0-choir --steps 20000[/bold]
    """
    from separate.cli.progress import ProgressBars
    from separate.f0.split import load_source_filter
    from separate.f0.train import train as run_train
    from separate.progress import ProgressEvent

    init_model = load_source_filter(init) if init else None
    with ProgressBars("training") as bars:
        summary = run_train(
            [str(d) for d in data], voices if len(voices) > 1 else voices[0], output,
            steps=steps, batch=batch, lr=lr, segment_seconds=segment,
            model_args={"hidden": hidden}, init=init_model, seed=seed,
            progress=lambda s, t, loss: bars(ProgressEvent("steps", s, t, "steps",
                                                           f"loss {loss:.3f}", value=loss)),
            lr_final=lr_final, checkpoint=checkpoint, checkpoint_seconds=checkpoint_seconds,
            max_cpu_seconds=max_cpu_seconds,
        )
    err_console().print(
        f"wrote {summary['weights']} and {summary['card']} ({summary['items']} mixtures, "
        f"loss {summary['loss_first']:.3f} -> {summary['loss_last']:.3f}, {summary['seconds']} s)"
    )
