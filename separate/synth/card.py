"""The dataset card ``OUT/README.md`` of a synthetic corpus: counts, hours, SoundFonts, licences."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from separate.synth.soundfonts import SOUNDFONTS

__all__ = ["write_card"]


def write_card(out: Path, kind: str, seed: int, results: list[dict]) -> Path:
    """Write ``out/README.md`` from the track summaries of :func:`generate_corpus`.

    The card depends only on the summaries (no dates, no paths), so it is byte-identical for
    the same seed.
    """
    splits: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        splits[r["split"]].append(r)
    lines = [
        f"# Synthetic {kind} corpus (seed {seed})",
        "",
        "Made by `separate synth`: procedurally composed songs rendered with FluidSynth "
        "SoundFonts (and a source-filter singer for vocals), stems mixed with random gain, pan, "
        "EQ and reverb. The mixture is exactly the sum of the stems (float32 WAV, 44.1 kHz "
        "stereo).",
        "",
        "## Tracks",
        "",
        "| split | tracks | hours |",
        "|---|---|---|",
    ]
    for s in ("train", "valid", "test"):
        rs = splits.get(s, [])
        lines.append(f"| {s} | {len(rs)} | {sum(r['seconds'] for r in rs) / 3600:.3f} |")
    total = sum(r["seconds"] for r in results)
    lines += [f"| all | {len(results)} | {total / 3600:.3f} |", ""]
    lines += ["## Active hours per stem", "",
              "Time where the stem is active (envelope method, confidence >= 0.5).", "",
              "| split | " + " | ".join(sorted({k for r in results for k in r["stems"]})) + " |"]
    stems = sorted({k for r in results for k in r["stems"]})
    lines.append("|---" * (len(stems) + 1) + "|")
    for s in ("train", "valid", "test"):
        rs = splits.get(s, [])
        lines.append(f"| {s} | " + " | ".join(
            f"{sum(r['stems'].get(k, 0) for r in rs) / 3600:.3f}" for k in stems) + " |")
    lines += ["", "## Parts per instrument class", "",
              "Number of parts (tracks x parts) of each class of the 18-class vocabulary.", "",
              "| class | train | valid | test |", "|---|---|---|---|"]
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    fonts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in results:
        for cls, font in r["classes"]:
            counts[str(cls)][r["split"]] += 1
            fonts[font or "source-filter singer"][r["split"]] += 1
    for cls in sorted(counts):
        c = counts[cls]
        lines.append(f"| {cls} | {c['train']} | {c['valid']} | {c['test']} |")
    lines += ["", "## SoundFonts", "", "| SoundFont | Debian package | licence | test only | "
              "parts train | valid | test |", "|---|---|---|---|---|---|---|"]
    for sf in SOUNDFONTS:
        c = fonts.get(sf.key, {})
        lines.append(f"| {sf.key} | {sf.package} | {sf.licence} | "
                     f"{'yes' if sf.test_only else 'no'} | {c.get('train', 0)} | "
                     f"{c.get('valid', 0)} | {c.get('test', 0)} |")
    c = fonts.get("source-filter singer", {})
    lines.append(f"| source-filter singer (ours) | - | MIT (code) | no | {c.get('train', 0)} | "
                 f"{c.get('valid', 0)} | {c.get('test', 0)} |")
    lines += ["", "Held out of train/valid: the SoundFonts marked *test only*, and the GM "
              "programs `separate.synth.classes.TEST_ONLY_PROGRAMS` (accordion, harmonica, "
              "bagpipes, whistle, sitar, banjo).", ""]
    path = Path(out) / "README.md"
    path.write_text("\n".join(lines))
    return path
