"""Export trained weights as a model card + safetensors (``models/NAME.toml``,
``models/NAME.safetensors``, sha256 in the card)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from separate.registry.card import write_card
from separate.registry.checksum import sha256_file
from separate.registry.weights import save_weights


def export_model(model: torch.nn.Module, name: str, out_dir: str | Path, *, arch: str,
                 args: dict[str, Any], description: str = "", license: str = "MIT",
                 engine: dict[str, Any] | None = None, training: dict[str, Any] | None = None,
                 metrics: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/NAME.safetensors`` and ``out_dir/NAME.toml``; returns the card path.

    The card's ``[weights] embedded`` is the safetensors file name (relative to the card), with
    its sha256, so the pair can be moved together anywhere (``SEPARATE_MODELS``). The card's
    ``subcommand`` is ``split`` (the training loop trains separation models).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{name}.safetensors"
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_weights(state, weights, metadata={"name": name, "arch": arch})
    card: dict[str, Any] = {
        "name": name,
        "description": description,
        "arch": arch,
        "sources": list(model.sources),  # type: ignore[arg-type]
        "sample_rate": int(model.sample_rate),  # type: ignore[arg-type]
        "audio_channels": int(model.audio_channels),  # type: ignore[arg-type]
        "license": license,
        "args": args,
        "weights": {"embedded": weights.name, "sha256": sha256_file(weights)},
    }
    if engine:
        card["engine"] = engine
    if training:
        card["training"] = training
    if metrics:
        card["metrics"] = metrics
    return write_card(out / f"{name}.toml", card, subcommand="split")


def export_best(cfg: Any, name: str, models_dir: str | Path, result: dict[str, Any],
                command: str = "") -> Path:
    """Export the best checkpoint of a finished run (``cfg.out/best.pt``) as
    ``models_dir/NAME.{toml,safetensors}``, with the run's training record in the card.

    Args:
        cfg: the run's :class:`separate.training.TrainConfig`.
        name: model name (file stem and card ``name``).
        models_dir: where to write.
        result: what :func:`separate.training.train` returned (``history``, ``best_epoch``,
            ``seconds``, optional ``initial``).
        command: the command line that trained it, recorded in the card.

    Returns:
        The card's path.
    """
    from dataclasses import asdict

    from separate.training.checkpoint import load_checkpoint
    from separate.training.loop import build_model

    model = build_model(cfg)
    best = load_checkpoint(Path(cfg.out) / "best.pt")
    model.load_state_dict(best["model"])
    hist = result["history"]
    by_epoch = {h["epoch"]: h for h in hist}
    if result.get("initial"):
        by_epoch[0] = result["initial"]  # best_epoch 0: no epoch beat the --init weights
    best_entry = by_epoch.get(result["best_epoch"], {})
    training = {
        "command": command,
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("out",)},
        "epochs": len(hist),
        "best_epoch": result["best_epoch"],
        "wall_time_seconds": round(result["seconds"], 1),
        "best_valid_sdr_db": best_entry.get("valid", {}),
        **({"best_valid_real_singers_sdr_db": best_entry["valid_real"]}
           if "valid_real" in best_entry else {}),
    }
    return export_model(model, name, models_dir, arch=cfg.arch, args=cfg.args,
                        engine={"segment": cfg.segment, "overlap": 0.25},
                        training=training)
