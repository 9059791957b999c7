"""``separate models``: list, show, pull, verify, locate and publish registry models."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from separate.cli.app import app
from separate.cli.state import err_console, out_console
from separate.errors import ModelError, UsageError

HELP = (
    "List, download, verify and publish models (cards in [italic]models/*.toml[/italic]).\n\n"
    "Cards are searched in the folders of [bold]SEPARATE_MODELS[/bold] (separated by ':'), "
    "then among the cards shipped with separate. Hub weights live in the Hugging Face cache "
    "([bold]HF_HOME[/bold], default ~/.cache/huggingface); [bold]HF_HUB_OFFLINE=1[/bold] never "
    "touches the network; [bold]HF_ENDPOINT[/bold] selects a mirror.\n\n"
    "Examples:\n\n"
    "  separate models list\n"
    "  separate models pull htdemucs                  # into the HF cache, sha256 checked\n"
    "  separate models pull htdemucs --to usb/models  # card + weights for an offline machine\n"
    "  SEPARATE_MODELS=usb/models HF_HUB_OFFLINE=1 separate split song.wav -m htdemucs\n"
    "  separate models verify htdemucs\n"
    "  separate models push my.toml --repo me/my-separator   # needs HF_TOKEN\n"
)

models_app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode="rich")
app.add_typer(models_app, name="models")


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return "?"


def _sdr(metrics: dict) -> str:
    """The card's headline SDR (dB) from ``[metrics]``: a key ``sdr`` / ``sdr_db`` / ``*sdr*``."""
    for key in ("sdr", "sdr_db", "median_sdr", "mean_sdr"):
        if isinstance(metrics.get(key), (int, float)):
            return f"{metrics[key]:.2f} dB"
    for key, value in metrics.items():
        if "sdr" in key.lower() and isinstance(value, (int, float)):
            return f"{value:.2f} dB"
    return "—"


def _summary(card) -> dict:  # noqa: ANN001 - ModelCard
    from separate.registry import hub

    status = hub.file_status(card)
    files = card.weights.file_hashes()
    if not files:
        where, cached = "none", "—"
    elif card.weights.hf_repo is not None:
        rev = card.weights.revision or ""
        pinned = all(files.values()) and len(rev) == 40
        where = f"hub: {card.weights.hf_repo}" + ("" if pinned else " (unpinned)")
        cached = "yes" if all(s.path for s in status) else "no"
    else:
        where, cached = "embedded", "yes" if all(s.path for s in status) else "missing"
    sizes = [s.path.stat().st_size for s in status if s.path is not None]
    size = sum(sizes) if files and len(sizes) == len(status) else card.weights.extra.get("size")
    return {
        "name": card.name,
        "sources": list(card.sources),
        "sample_rate": card.sample_rate,
        "size": size if files else 0,
        "weights": where,
        "cached": cached,
        "license": card.license,
        "sdr": _sdr(card.metrics),
        "card": str(card.path) if card.path else None,
        "files": [{"name": s.name, "sha256": s.sha256, "path": str(s.path) if s.path else None,
                   "where": s.where} for s in status],
    }


@models_app.command("list")
def list_models(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per model on stdout."),
) -> None:
    """Table of every model: sources, rate, size, where the weights are, cached, licence, SDR."""
    from separate.registry import list_cards

    rows = [_summary(c) for c in sorted(list_cards(), key=lambda c: c.name)]
    if as_json:
        for row in rows:
            out_console().print_json(json.dumps(row))
        return
    header = ["name", "sources", "rate", "size", "weights", "cached", "licence", "SDR"]
    cells = [[r["name"], ",".join(r["sources"]), f"{r['sample_rate']} Hz",
              "—" if r["size"] == 0 else _human(r["size"]), r["weights"], r["cached"],
              r["license"] or "?", r["sdr"]] for r in rows]
    if not out_console().is_terminal:
        # a pipe or a file: one line per model, columns aligned with spaces, never folded
        # (grep, awk and `column` read it; the boxed table folds in an 80-column pipe)
        widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
        for row in [header, *cells]:
            typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        return
    table = Table(title="separate models", title_justify="left")
    table.add_column("name", no_wrap=True)  # names are what users copy into -m
    for col in header[1:]:
        table.add_column(col, overflow="fold", min_width=len(col))  # headers never fold
    for row in cells:
        table.add_row(*row)
    out_console().print(table)


@models_app.command()
def show(name: str = typer.Argument(..., help="Model name or path to a card.")) -> None:
    """Everything a card says, and where its files are."""
    from separate.registry import find_card

    card = find_card(name)
    s = _summary(card)
    con = out_console()

    def say(text: str) -> None:
        con.print(text, highlight=False, markup=False, soft_wrap=True)

    con.print(f"[bold]{card.name}[/bold]", highlight=False)
    if card.description:
        say(card.description)
    say(f"card: {s['card']}")
    say(f"arch: {card.arch} (provider {card.provider}), args: {card.args}")
    say(f"sources: {', '.join(card.sources)}; {card.sample_rate} Hz, "
        f"{card.audio_channels} channel(s); licence: {card.license or '?'}")
    if card.weights.hf_repo:
        say(f"hub: {card.weights.hf_repo} @ {card.weights.revision or 'main'}")
    for f in s["files"]:
        say(f"  {f['name']}  sha256 {f['sha256'] or '(not pinned)'}  [{f['where']}]"
            f"{'  ' + f['path'] if f['path'] else ''}")
    for title, table in (("engine", card.engine), ("training", card.training),
                         ("metrics", card.metrics)):
        if table:
            say(f"{title}:")
            for k, v in table.items():
                say(f"  {k} = {v}")


@models_app.command()
def pull(
    name: str = typer.Argument(..., help="Model name or path to a card."),
    force: bool = typer.Option(False, "--force", help="Download again even if cached."),
    to: Path | None = typer.Option(
        None, "--to", help="Also copy the card and its weights into this folder (for "
        "SEPARATE_MODELS on an offline machine)."),
) -> None:
    """Download a model's weights into the Hugging Face cache and check their sha256."""
    from separate.registry import find_card, hub
    from separate.registry.loader import verified_files

    card = find_card(name)
    if not card.weights.file_hashes():
        err_console().print(f"{card.name}: no weights to download", markup=False)
        return
    if card.weights.hf_repo is not None:
        err_console().print(f"pulling {card.name} from {card.weights.hf_repo} @ "
                            f"{card.weights.revision or 'main'} ({hub.settings().endpoint})",
                            highlight=False, markup=False)
    files = verified_files(card, force=force)
    for fname, path in files.items():
        out_console().print(f"{fname}  ok  {path}", highlight=False, markup=False, soft_wrap=True)
    if to is not None:
        dest = hub.export_folder(card, to)
        err_console().print(f"copied card and weights to {dest.parent} (use SEPARATE_MODELS="
                            f"{dest.parent})", highlight=False, markup=False, soft_wrap=True)


@models_app.command()
def verify(name: str = typer.Argument(..., help="Model name or path to a card.")) -> None:
    """Check the sha256 of a model's local weights against its card (no download)."""
    from separate.registry import find_card, hub, sha256_file

    card = find_card(name)
    bad = 0
    for s in hub.file_status(card):
        if s.path is None:
            out_console().print(f"{s.name}  missing  (run `separate models pull {card.name}`)",
                                highlight=False, markup=False)
            bad += 1
            continue
        digest = sha256_file(s.path)
        if s.sha256 is None:
            out_console().print(f"{s.name}  unpinned (sha256 {digest})  {s.path}",
                                highlight=False, markup=False, soft_wrap=True)
        elif digest == s.sha256:
            out_console().print(f"{s.name}  ok  {s.path}", highlight=False, markup=False,
                                soft_wrap=True)
        else:
            out_console().print(f"{s.name}  MISMATCH sha256 {digest}, card {s.sha256}  "
                                f"{s.path}", highlight=False, markup=False, soft_wrap=True)
            bad += 1
    if bad:
        raise ModelError(f"model {card.name!r}: {bad} weights file(s) missing or corrupt")


@models_app.command()
def path(
    name: str = typer.Argument(..., help="Model name or path to a card."),
    card_path: bool = typer.Option(False, "--card", help="Print the card's path instead."),
) -> None:
    """Print the local path of a model's weights (one per line), without downloading."""
    from separate.registry import find_card, hub

    card = find_card(name)
    if card_path:
        out_console().print(str(card.path), highlight=False, markup=False, soft_wrap=True)
        return
    status = hub.file_status(card)
    if not status:
        raise ModelError(f"model {card.name!r} has no weights files")
    missing = [s.name for s in status if s.path is None]
    if missing:
        raise ModelError(f"model {card.name!r}: {', '.join(missing)} not downloaded "
                         f"(run `separate models pull {card.name}`)")
    for s in status:
        out_console().print(str(s.path), highlight=False, markup=False, soft_wrap=True)


@models_app.command()
def push(
    card_file: Path = typer.Argument(..., metavar="CARD", help="The card (.toml) to publish."),
    repo: str = typer.Option(..., "--repo", help="Hub repository user/name (created if "
                             "missing)."),
    private: bool = typer.Option(False, "--private", help="Create the repository private."),
    token: str | None = typer.Option(None, "--token", envvar="HF_TOKEN",
                                     help="Hugging Face token (default: HF_TOKEN or `hf auth "
                                     "login`)."),
    out: Path | None = typer.Option(None, "-o", "--out", help="Write the published card "
                                    "here (default: print it)."),
) -> None:
    """Upload a card's weights to the Hugging Face Hub and publish the card pinned to them."""
    from separate.registry import find_card, hub

    if repo.count("/") != 1 or not all(repo.split("/")):
        raise UsageError(f"--repo {repo!r}: expected user/name")
    if not card_file.is_file() or card_file.suffix != ".toml":
        raise UsageError(f"{card_file}: expected a card file (.toml)")
    card = find_card(card_file)
    result = hub.push_card(card, repo, token=token, private=private)
    err_console().print(f"pushed {card.name} to {result.url} (weights commit "
                        f"{result.revision[:12]})", highlight=False, markup=False, soft_wrap=True)
    if out is not None:
        out.write_text(result.card_text, encoding="utf-8")
        err_console().print(f"pinned card written to {out}", highlight=False, markup=False)
    else:
        out_console().print(result.card_text, highlight=False, markup=False, soft_wrap=True)
