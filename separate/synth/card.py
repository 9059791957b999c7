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
    what = {
        "band": "procedurally composed songs (vocals by a source-filter singer; drums, bass and "
        "other rendered with FluidSynth SoundFonts) in MUSDB18-HQ layout",
        "ensemble": "windows of music21 corpus pieces (Bach chorales, Palestrina, Monteverdi "
        "madrigals, folk tunes with a drone), each voice one instrument (FluidSynth SoundFonts, "
        "now and then a source-filter singer)",
        "choir": "windows of Bach chorales and Palestrina pieces (music21 corpus) sung by four "
        "source-filter singers (soprano, alto, tenor, bass)",
    }.get(kind, kind)
    lines = [
        f"# Synthetic {kind} corpus (seed {seed})",
        "",
        f"Made by `separate synth --kind {kind} --seed {seed}`: {what}. Every part gets a "
        "random gain, pan and EQ, every stem a reverb send. The mixture is exactly the sum of "
        "the stems (float32 WAV, 44.1 kHz stereo). Per track: stems.json (instrument class of "
        "every part in the 18-class vocabulary, GM program, SoundFont, effects), f0/*.csv "
        "(exact F0 of the monophonic stems, 10 ms hop, 0 = unvoiced), activations.csv "
        "(confidence per stem, MedleyDB envelope method, Cantisani et al. 2021 Sec. 4) and "
        "song.mid.",
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
    lines += ["", "## Instrument classes", "",
              "Parts of each class of the 18-class vocabulary (Wang et al. 2022), and the "
              "active hours of the stems holding them (for `band`, a stem may hold several "
              "parts).", "",
              "| class | parts train | valid | test | active hours train | valid | test |",
              "|---|---|---|---|---|---|---|"]
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    hours: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    fonts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in results:
        for cls, font, active in r["classes"]:
            counts[str(cls)][r["split"]] += 1
            hours[str(cls)][r["split"]] += active / 3600
            fonts[font or "source-filter singer"][r["split"]] += 1
    for cls in sorted(counts):
        c, h = counts[cls], hours[cls]
        lines.append(f"| {cls} | {c['train']} | {c['valid']} | {c['test']} | "
                     f"{h['train']:.3f} | {h['valid']:.3f} | {h['test']:.3f} |")
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
