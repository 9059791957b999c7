"""``separate train``: train a separation model and export it as a model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tomllib
import typer

from separate.cli.app import app
from separate.cli.state import err_console, out_console
from separate.errors import UsageError


@app.command(no_args_is_help=True)
def train(
    data: list[Path] = typer.Option(..., "--data", help="Stems folder in MUSDB18-HQ layout "
                                    "(train/ and valid/ inside, a folder of WAV/FLAC stems per "
                                    "track), or a MUSDB18 folder of .stem.mp4 files (train/; "
                                    "valid = musdb's 14 validation tracks of train/), decoded "
                                    "once into $XDG_CACHE_HOME/separate/musdb (~/.cache; 16-bit "
                                    "WAV, ~2.5 GB per hour of music); repeat to mix several."),
    out: Path = typer.Option(..., "--out", help="Run folder: checkpoint, history, loss.png."),
    arch: str = typer.Option("unet", "--arch", help="Architecture (a registered arch name)."),
    config: Path | None = typer.Option(None, "--config", help="TOML file of training options "
                                       "(keys of separate.training.TrainConfig)."),
    epochs: int | None = typer.Option(None, help="Maximum epochs."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Excerpts per step."),
    lr: float | None = typer.Option(None, help="Adam learning rate."),
    segment: float | None = typer.Option(None, help="Excerpt length in seconds."),
    examples: int | None = typer.Option(None, help="Excerpts per epoch."),
    workers: int | None = typer.Option(None, help="Data-loading processes."),
    real_vocals: list[Path] | None = typer.Option(
        None, "--real-vocals", help="Real solo-voice recording, or folder of them (WAV/FLAC, any "
        "rate, mono or not); repeat for several. Training excerpts then use a random chunk of "
        "real singing as their vocal stem (see --real-vocals-prob). Isolated single voices "
        "only: files beside a mixture.* (multitracks, evaluation clips) are refused."),
    real_vocals_prob: float | None = typer.Option(
        None, "--real-vocals-prob", min=0.0, max=1.0,
        help="Probability per training excerpt of a real vocal stem when --real-vocals (or "
        "real_vocals in --config) is given; default 0.5. Validation keeps the synthetic "
        "vocals."),
    real_other: list[Path] | None = typer.Option(
        None, "--real-other", help="Real isolated instrument recording, or folder of them "
        "(WAV/FLAC); repeat for several. A random chunk is added to the `other` stem of a "
        "training excerpt with probability real_other_prob (default 0.5; --config). Hold "
        "some out for validation with valid_real_other in --config."),
    augment: str | None = typer.Option(
        None, "--augment", help="none (default) or record: training excerpts get random "
        "per-stem effects (compressor, EQ, saturation, chorus, delay, reverb...) and a mix bus "
        "(glue compression, loudness, limiter) applied as one gain curve to all stems, so "
        "they still sum to the mixture. Probabilities: augment_prob, bus_prob, stretch_prob "
        "in --config. Validation is never augmented."),
    init: str | None = typer.Option(
        None, "--init", help="Start from these weights instead of random ones: a model name "
        "(e.g. default), a card .toml, a .safetensors file or a run's best.pt. Tensors with the "
        "same name and shape are copied; the rest (e.g. the mask layer when the sources "
        "differ) start random. Fine-tune a 2-stem model from the 4-stem default with "
        "--init default and sources = [\"vocals\", \"accompaniment\"] in --config."),
    resume: bool = typer.Option(False, "--resume", help="Continue from RUN_DIR/checkpoint.pt."),
    export: str | None = typer.Option(None, "--export", help="After training, write "
                                      "models/NAME.toml + models/NAME.safetensors (best epoch)."),
    models_dir: Path = typer.Option(Path("models"), "--models-dir", help="Where --export writes."),
) -> None:
    """Train a separation model on stems folders, with checkpoints and validation.

    Every epoch draws random excerpts (sources remixed across tracks, random gains, channel
    swaps; with --real-vocals, real singing as the vocal stem; with --real-other, real
    instruments added to `other`), validates on the valid split,
    checkpoints, and redraws RUN_DIR/loss.png. Distributed:
    [bold]torchrun --nproc_per_node N -m separate train ...[/bold] (gloo on CPU, NCCL on GPU).
    """
    from separate.training import TrainConfig
    from separate.training import train as run_training

    opts: dict[str, Any] = {}
    if config is not None:
        try:
            opts.update(tomllib.loads(config.read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"{config}: cannot read training config ({exc})") from None
    opts.update({"data": [str(d) for d in data], "out": str(out), "arch": arch})
    for key, val in {"epochs": epochs, "batch_size": batch_size, "lr": lr, "segment": segment,
                     "examples": examples, "workers": workers,
                     "real_vocals_prob": real_vocals_prob, "init": init,
                     "augment": augment}.items():
        if val is not None:
            opts[key] = val
    if real_vocals:
        opts["real_vocals"] = [str(p) for p in real_vocals]
    if real_other:
        opts["real_other"] = [str(p) for p in real_other]
    try:
        cfg = TrainConfig.from_dict(opts)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None

    from separate.cli.progress import ProgressBars
    from separate.progress import ProgressEvent

    console = err_console()
    with ProgressBars("epoch 1", transient=False) as bars:
        steps = max(1, cfg.examples // cfg.batch_size)
        done = [0]

        def on_progress(kind: str, info: dict[str, Any]) -> None:
            if kind == "data":
                console.print(f"training data: {info['train']} training and {info['valid']} "
                              "validation tracks")
                return
            if kind == "init":
                kept = ", ".join(info["kept"]) or "none"
                console.print(f"initial weights: {info['source']} ({len(info['copied'])} "
                              f"tensors copied; random: {kept})")
                return
            if kind == "initial":
                console.print("initial weights: " + _validation_text(info))
                return
            if kind == "step":
                done[0] += 1
                bars(ProgressEvent("steps", done[0], steps, "steps",
                                   f"epoch {info['epoch']}, loss {info['loss']:.4f}",
                                   value=info["loss"]))
            else:
                console.print(f"epoch {info['epoch']}: train loss {info['train_loss']:.4f}, "
                              + _validation_text(info))
                done[0] = 0

        if any(next(Path(d).glob(g), None) for d in cfg.data
               for g in ("*.stem.mp4", "*/*.stem.mp4")):
            console.print("reading MUSDB18 .stem.mp4 files (each is decoded once, into a cache: "
                          "the first run can take minutes)")
        result = run_training(cfg, resume=resume, on_progress=on_progress)
    if export:
        import sys

        from separate.training.export import export_best

        path = export_best(cfg, export, models_dir, result,
                           command="separate " + " ".join(sys.argv[1:]))
        console.print(f"exported {path}")
    out_console().print_json(json.dumps({k: v for k, v in result.items()
                                             if k not in ("history", "model")}))


def _validation_text(info: dict[str, Any]) -> str:
    """``valid SDR vocals 1.23, ... dB`` (+ ``; real validation: ... dB``, the held-out real
    singers and instruments) of a validation entry."""
    def sdrs(d: dict[str, float]) -> str:
        return ", ".join(f"{k} {x:.2f}" for k, x in d.items()) + " dB"

    text = "valid SDR " + sdrs(info["valid"])
    if "valid_real" in info:
        text += "; real validation: " + sdrs(info["valid_real"])
    return text
