"""`separate fewshot` (extract an instrument from a few audio examples) and
`separate fewshot-train` (train the few-shot model or its class-conditioned baseline)."""

from __future__ import annotations

import warnings
from pathlib import Path

import typer

from separate.cli.app import app
from separate.cli.state import err_console, out_console


@app.command(
    "fewshot",
    epilog=(
        "Examples:\n\n"
        "  separate fewshot song.flac --example @12.5-15.5 --example @40-43 --name sax\n\n"
        "  separate fewshot song.flac --example sax_solo.wav --negative @0-3 -m fewshot-neg\n\n"
        "Examples may be whole files, time ranges of other files (FILE@START-END) or time "
        "ranges of the mixture itself (@START-END); times are seconds or m:ss. Three to five "
        "examples of 3 s where the instrument plays work best (Wang et al. 2022)."
    ),
)
def fewshot(
    mix: Path = typer.Argument(..., help="The mixture (any audio file `separate` reads)."),
    example: list[str] = typer.Option(
        [], "--example", "-e",
        help="An example of the instrument to extract: FILE, FILE@START-END or @START-END "
        "(a range of the mixture). Repeat for a few (1-5).",
    ),
    negative: list[str] = typer.Option(
        [], "--negative",
        help="An example of what NOT to extract (same syntax). Only for models trained with "
        "negative examples.",
    ),
    model: str = typer.Option(
        "fewshot", "--model", "-m",
        help="Model name or path to a card (.toml) / weights (.safetensors).",
    ),
    out: Path | None = typer.Option(None, "--out", "-o", "--output",
                                    help="Output folder (default: separated/<mix name>/)."),
    name: str = typer.Option("target", "--name", help="File name of the extracted stem."),
    label: str = typer.Option(
        None, "--class", help="Instrument class, for the class-conditioned baseline model.",
    ),
    device: str = typer.Option("auto", "--device",
                               help="auto (cuda, then mps, then cpu), cpu, cuda, mps."),
    bit_depth: str | None = typer.Option(None, "--bit-depth", help="16, 24 or float; default "
                                         "float for a float input, else 16 (as split)."),
    downmix: bool = typer.Option(False, "--downmix", help="Accept >2 channels by downmixing "
                                 "to stereo (as split)."),
) -> None:
    """Extract one instrument from MIX given a few audio examples of it.

    Writes OUT/NAME.wav (the instrument; OUT defaults to separated/<mix name>/) and OUT/residual.wav (everything else) at the input's sample rate and channels; NAME + residual = the mixture. The model runs at 22.05 kHz mono on 3 s chunks with 50 % overlap, each channel of a stereo file separately.
    """  # noqa: E501 - one line per paragraph, so that --help reflows it
    from separate.audio.io import audio_info

    audio_info(mix)  # a missing, empty or undecodable mixture fails before torch is imported
    out = out or Path("separated") / mix.stem  # checked before separation by fewshot_file
    from separate.cli.progress import ProgressBars
    from separate.fewshot import fewshot_file, parse_example

    pos = [parse_example(e) for e in example]
    neg = [parse_example(e) for e in negative]
    with ProgressBars("fewshot") as bars:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            outputs = fewshot_file(
                mix, pos, neg, model=model, out_dir=out, name=name, label=label, device=device,
                bit_depth=bit_depth, downmix=downmix, on_progress=bars,
            )
    for w in caught:
        err_console().print(f"[yellow]warning:[/yellow] {w.message}", highlight=False)
    for stem, path in outputs.items():
        out_console().print(f"{stem}: {path}", highlight=False)


@app.command("fewshot-train")
def fewshot_train(
    corpus: Path = typer.Argument(
        ..., help="Corpus root with train/ and valid/ (`separate synth OUT --kind ensemble`)."
    ),
    out: Path = typer.Option(
        Path("models/fewshot.safetensors"), "--out", "-o",
        help="Weights to write (.safetensors); the card goes beside it (.toml).",
    ),
    kind: str = typer.Option("fewshot", "--kind", help="fewshot, or class (the baseline)."),
    negatives: int = typer.Option(
        0, "--negatives", help="Negative examples per episode (5 = the paper's +Neg model)."
    ),
    examples_from: str = typer.Option(
        "same", "--examples-from", help="same (the target's own stem) or other (other tracks)."
    ),
    multi_source: float = typer.Option(
        0.0, "--multi-source", help="Probability that an example also holds one other "
        "instrument (0.5 = the paper's MS model)."
    ),
    held_out: str = typer.Option(
        "", "--held-out", help="Comma-separated classes removed from training entirely."
    ),
    steps: int = typer.Option(20000, "--steps", help="Maximum optimiser steps."),
    batch_size: int = typer.Option(16, "--batch-size"),
    lr: float = typer.Option(1e-3, "--lr"),
    valid_every: int = typer.Option(250, "--valid-every", help="Steps between validations."),
    valid_batches: int = typer.Option(8, "--valid-batches", help="Fixed validation batches."),
    patience: int = typer.Option(8, "--patience", help="Early stopping: validations without "
                                 "improvement."),
    channels: str = typer.Option(
        "16,32,64,128,256,512", "--channels", help="U-Net encoder widths (six, comma-separated)."
    ),
    filters: int = typer.Option(64, "--filters", help="Conditioning-encoder filters."),
    n_mels: int = typer.Option(128, "--n-mels", help="Conditioning-encoder mel rows (÷16)."),
    max_tracks: int = typer.Option(None, "--max-tracks", help="Read at most N tracks per split."),
    threads: int = typer.Option(None, "--threads", help="torch threads."),
    seed: int = typer.Option(0, "--seed"),
    max_cpu_minutes: float = typer.Option(
        None, "--max-cpu-minutes", help="Stop once the run has used this much CPU time "
        "(summed over resumes); the best state so far is exported."
    ),
    checkpoint_dir: Path = typer.Option(
        None, "--checkpoint-dir", help="Write last.pt here every --checkpoint-minutes and at "
        "every validation (and stepN.pt at the --save-at steps)."
    ),
    checkpoint_minutes: float = typer.Option(5.0, "--checkpoint-minutes"),
    save_at: str = typer.Option(
        "", "--save-at", help="Comma-separated steps whose checkpoint is kept as stepN.pt."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue from CHECKPOINT_DIR/last.pt."),
    init: Path = typer.Option(
        None, "--init", help="Start from this checkpoint (.pt) or model (.safetensors/.toml), "
        "e.g. fine-tune +Neg from a few-shot checkpoint."
    ),
) -> None:
    """Train the few-shot model (or its class-conditioned baseline) on a multitrack corpus.

    Adam (lr 1e-3, batch 16), SDR loss + magnitude L1, early stopping on valid/ (Wang et al. 2022, Sec. 2-3). Exports the best state (float16 safetensors) and its model card.
    """  # noqa: E501 - one line per paragraph, so that --help reflows it
    from separate.cli.progress import ProgressBars
    from separate.errors import UsageError
    from separate.fewshot.train import TrainConfig, train
    from separate.progress import ProgressEvent

    if kind not in ("fewshot", "class"):
        raise UsageError(f"--kind must be fewshot or class, got {kind!r}")
    if examples_from not in ("same", "other"):
        raise UsageError(f"--examples-from must be same or other, got {examples_from!r}")
    if out.suffix != ".safetensors":
        raise UsageError(f"--out must end in .safetensors, got {out}")
    try:
        widths = [int(c) for c in channels.split(",")]
    except ValueError:
        raise UsageError(f"--channels must be comma-separated integers, got {channels!r}") from None
    try:
        keep = [int(c) for c in save_at.split(",") if c.strip()]
    except ValueError:
        raise UsageError(f"--save-at must be comma-separated integers, got {save_at!r}") from None
    if (resume or keep) and checkpoint_dir is None:
        raise UsageError("--resume and --save-at need --checkpoint-dir")
    cfg = TrainConfig(
        corpus=str(corpus), out=str(out), kind=kind, negatives=negatives,
        examples_from=examples_from, multi_source_p=multi_source,
        held_out=[c.strip() for c in held_out.split(",") if c.strip()], steps=steps,
        batch_size=batch_size, lr=lr, valid_every=valid_every, patience=patience,
        valid_batches=valid_batches,
        max_tracks=max_tracks, threads=threads, seed=seed, channels=widths, filters=filters,
        n_mels=n_mels, max_cpu_minutes=max_cpu_minutes,
        checkpoint_dir=str(checkpoint_dir) if checkpoint_dir else None,
        checkpoint_minutes=checkpoint_minutes, save_at=keep, resume=resume,
        init=str(init) if init else None,
    )
    with ProgressBars("train", transient=False) as bars:
        last = {"valid": float("nan")}

        def on_step(step: int, rec: dict) -> None:
            if "valid_loss" in rec and "loss" not in rec:
                last["valid"] = rec["valid_loss"]
                bars.console.print(f"step {step}: valid loss {rec['valid_loss']:.3f}")
                return
            bars(ProgressEvent("steps", step, steps, "steps",
                               f"loss {rec['loss']:.3f} valid {last['valid']:.3f}",
                               value=rec["loss"]))

        try:
            result = train(cfg, on_step)
        except (FileNotFoundError, ValueError) as exc:
            raise UsageError(str(exc)) from None
    out_console().print(
        f"best valid loss {result['best_valid']:.3f} at step {result['best_step']} of "
        f"{result['steps']} ({result['seconds']:.0f} s, {result['cpu_seconds']:.0f} CPU-s): "
        f"{result['weights']}, {result['card']}", highlight=False,
    )
