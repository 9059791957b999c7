"""`separate adapt`: fine-tune a model on one song from marks of when each instrument plays.

Thin skin over :func:`separate.adapt.run.adapt` (Cantisani et al. 2021): parse, call, render.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import typer

from separate.cli.app import app
from separate.cli.state import err_console
from separate.errors import InputError, UsageError

_HELP = (
    "Adapt a pretrained model to ONE song using your marks of when each instrument plays, "
    "then separate that song with the adapted model.\n"
    "\n"
    "The marks ([bold]--activations[/bold]) say where each source is active; a source you do "
    "not mention is left unconstrained. Accepted files:\n"
    "\n"
    "• CSV of intervals, one row per stretch: [italic]source,start,end[/italic] (seconds)\n"
    "• Audacity label track (File ▸ Export ▸ Labels): "
    "[italic]start<TAB>end<TAB>source[/italic]\n"
    "• MedleyDB-style frame-wise CSV: [italic]time,<source>,...[/italic] with confidences in "
    "[0, 1] (active at ≥ 0.5)\n"
    "\n"
    "[bold]separate marks[/bold] writes such a file from isolated stems.\n"
    "\n"
    "The model is fine-tuned on 4-second segments of the song with the loss of Cantisani et "
    "al. (2021), Eq. 1: the active sources must rebuild the mixture, the silent ones must be "
    "quiet. Only the stages in [bold]--layers[/bold] are trained (the paper's P-Lx:D); the "
    "model stays in eval mode, so batch-norm statistics are not updated. Defaults are the "
    "paper's (Sec. 5).\n"
    "\n"
    "10 epochs over a 3-minute song are 450 steps; over a 10-second excerpt only 30, which at "
    "lr 1e-5 barely changes the model: for short excerpts raise [bold]--lr[/bold] (1e-4 to "
    "1e-3) or overlap the segments ([bold]--hop 1[/bold], as the authors' code did).\n"
    "\n"
    "The stems are written exactly as [bold]separate split[/bold] writes them (same engine, "
    "formats, bit depth, stem choice and residual rule): they sum to the mixture unless "
    "[bold]--no-residual[/bold]; with [bold]--epochs 0[/bold] they are split's. "
    "[bold]--gate[/bold] multiplies the model's outputs by the marks before the stems are "
    "formed, so what it silences goes to the residual stem ([italic]other[/italic], "
    "[italic]accompaniment[/italic] or [italic]residual[/italic]).\n"
    "\n"
    "Example: [bold]separate adapt song.wav --activations marks.csv -o out/ --gate[/bold]"
)


@app.command("adapt", help=_HELP)
def adapt_cmd(
    mix: Path = typer.Argument(..., help="The song (mixture) to adapt to and separate."),
    activations: Path = typer.Option(
        ..., "--activations", "-a", help="Marks of when each source plays (formats above)."
    ),
    model: str = typer.Option(
        "default", "-m", "--model", help="Model name or card/.safetensors path."
    ),
    layers: str = typer.Option(
        "L3:D",
        "--layers",
        help="Stages to fine-tune, a range of the model's stages, e.g. L3:D (P-L3:D), L3:M, "
        "L5:D, 'all'. An unknown name lists the model's stages.",
    ),
    epochs: int = typer.Option(10, "--epochs", min=0, help="Passes over the song."),
    lr: float = typer.Option(1e-5, "--lr", help="Learning rate."),
    lam: float = typer.Option(
        1.0, "--lambda", help="Weight λ of the silent-source term of Eq. 1 (≥ 0)."
    ),
    segment: float = typer.Option(4.0, "--segment", help="Training segment length (s)."),
    hop: float = typer.Option(
        None,
        "--hop",
        help="Seconds between segment starts (default: --segment, no overlap; the authors' code "
        "used 1).",
    ),
    batch_size: int = typer.Option(1, "--batch-size", min=1, help="Segments per step."),
    optimizer: str = typer.Option(
        "ranger", "--optimizer", help="ranger (RAdam + Lookahead, the paper's) or adam."
    ),
    loss: str = typer.Option(
        "activations",
        "--loss",
        help="activations (Eq. 1) or reconstruction (mixture only: the paper's B-Lx baseline, "
        "ignores the marks for training).",
    ),
    gate: bool = typer.Option(
        False, "--gate", help="Multiply each model output by its marks (silence where "
        "inactive) before the stems are formed; the removed part goes to the residual stem."
    ),
    stems: str | None = typer.Option(None, "--stems", help="As split: every source of the "
                                     "model by default; 4, 2, or a list like vocals,bass "
                                     "(+ residual)."),
    residual: bool = typer.Option(True, "--residual/--no-residual",
                                  help="Add the model's residual so stems sum to the mixture "
                                  "(--no-residual: the model's raw outputs)."),
    fmt: str = typer.Option("wav", "--format", help="wav, flac, ogg or mp3."),
    bit_depth: str | None = typer.Option(None, "--bit-depth", help="16, 24 or float; default "
                                         "float for a float input (wav), else 16."),
    filename: str = typer.Option("{stem}.{ext}", "--filename",
                                 help="Output path template in the output folder: {track}, "
                                 "{stem}, {ext}."),
    downmix: bool = typer.Option(False, "--downmix", help="Accept >2 channels by downmixing "
                                 "to stereo."),
    seed: int = typer.Option(0, "--seed", help="Seed for the segment order."),
    output: Path = typer.Option(
        None, "-o", "--out", "--output", help="Folder for the stems (default: "
        "adapted/<song name>/)."
    ),
    save_model: Path = typer.Option(
        None,
        "--save-model",
        help="Also save the adapted model as PATH.toml + PATH.safetensors (use with split -m).",
    ),
    device: str = typer.Option("auto", "--device",
                               help="auto (cuda, then mps, then cpu), cpu, cuda, mps."),
) -> None:
    from separate.audio.io import audio_info, check_output_dir

    # the files first, before torch is imported: a wrong path fails in a fraction of a second
    if mix.is_dir():
        raise InputError(mix, "is a folder, not an audio file (adapt takes one song)")
    audio_info(mix)
    if not activations.is_file():
        raise InputError(activations, "no such file" if not activations.exists()
                         else "is a folder, not a marks file")
    out_dir = check_output_dir(output or Path("adapted") / mix.stem)  # before any training
    from separate.adapt.loop import AdaptConfig
    from separate.adapt.run import adapt

    config = AdaptConfig(
        layers=layers, epochs=epochs, lr=lr, lam=lam, segment=segment, hop=hop,
        batch_size=batch_size,
        optimizer=optimizer, loss=loss, seed=seed,
    )
    try:
        config.check()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    console = err_console()
    from separate.audio.io import ClippingWarning
    from separate.cli.progress import ProgressBars

    with ProgressBars("adapting", transient=False) as bars, warnings.catch_warnings():
        warnings.simplefilter("ignore", ClippingWarning)  # printed below instead
        out = adapt(
            mix, activations, model, config=config, gate_outputs=gate, out_dir=out_dir,
            save_model=save_model, device=device, stems=stems, residual=residual, fmt=fmt,
            bit_depth=bit_depth, filename=filename, downmix=downmix, on_progress=bars,
        )
    r = out.result
    console.print(
        f"trained {', '.join(r.stages)} ({r.trainable_parameters:,} parameters) for "
        f"{r.steps} steps in {r.seconds:.1f} s; loss {r.initial_loss:.5f} → {r.final_loss:.5f}"
    )
    for path in out.written:
        console.print(f"wrote {path}")
    for w in out.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False, soft_wrap=True)
