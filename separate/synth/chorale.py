"""Ensembles and choirs from the music21 corpus (``--kind ensemble`` / ``--kind choir``).

Pieces: Bach chorales, Palestrina (mass movements, motets), Monteverdi madrigals and folk tunes
(Ryan's Mammoth Collection; a tune gets a drone voice on the tonic and fifth, as folk music is
often played). A track is a window of about ``seconds`` s of one piece, transposed by a few
semitones, at a tempo that gives typical note lengths.

- ``choir``: four source-filter singers (soprano, alto, tenor, bass; :mod:`separate.synth.singer`)
  on the four parts of a chorale, or four parts of a Palestrina piece chosen by register.
- ``ensemble``: two to five voices, each one instrument (a General MIDI program rendered with a
  random SoundFont, or now and then a singer), chosen by register from many classes of the
  18-class vocabulary; the test-only classes appear only in the test split.

Files per track: ``voice1..voiceN.wav``, ``mixture.wav`` (their exact sum), ``f0/voiceK.csv``
(every voice is monophonic), ``activations.csv``, ``stems.json``, ``song.mid``.
Pieces are assigned to splits by a hash of their corpus path, so no piece is in two splits.
"""

from __future__ import annotations

import hashlib
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np

from separate.synth import effects
from separate.synth.classes import TEST_ONLY_PROGRAMS, gm_class
from separate.synth.compose import Part, Section, Song, _monophonic, quantise_to_ticks
from separate.synth.render import NoteEvent, renderer
from separate.synth.singer import VOICE_RANGES, SingerVoice, sing
from separate.synth.soundfonts import melodic_fonts
from separate.synth.tracks import (
    SAMPLE_RATE,
    TAIL_SECONDS,
    active_rms,
    f0_from_notes,
    publish_track,
    track_rng,
    write_f0_csv,
    write_midi,
    write_stems,
)

__all__ = ["render_chorale_track", "piece_pool", "load_piece"]

MAX_VOICES = 5

# Instruments by register: (GM program, lowest MIDI note, highest MIDI note).
_INSTRUMENTS = [
    (40, 55, 100), (41, 48, 88), (42, 36, 76), (43, 28, 67), (48, 36, 96), (49, 36, 96),  # strings
    (45, 36, 96), (46, 24, 103),  # pizzicato, harp
    (56, 54, 82), (57, 40, 72), (58, 28, 58), (60, 34, 77), (61, 36, 84), (59, 52, 82),  # brass
    (64, 56, 88), (65, 49, 81), (66, 44, 76), (67, 36, 69),  # saxophones
    (68, 58, 91), (69, 52, 81), (70, 34, 75), (71, 50, 91),  # oboe, english horn, bassoon, clar.
    (72, 74, 108), (73, 60, 96), (74, 60, 96), (75, 60, 96), (79, 60, 96),  # flutes, ocarina
    (0, 21, 108), (4, 28, 103), (6, 29, 89), (16, 24, 96), (19, 24, 96), (20, 36, 96),  # keys
    (11, 53, 89), (12, 45, 96), (13, 65, 96), (8, 60, 108),  # mallets
    (24, 40, 84), (25, 40, 84), (26, 40, 86), (27, 40, 86),  # guitars
    (32, 28, 67), (33, 28, 67), (35, 28, 67),  # basses
    (80, 36, 96), (81, 36, 96), (87, 28, 84), (89, 36, 96),  # synths
    (110, 55, 100), (111, 60, 91), (104, 48, 77),  # fiddle, shanai, sitar (test only)
    (21, 53, 89), (22, 60, 84), (23, 53, 89), (109, 55, 79), (78, 60, 96),  # test-only classes
    (105, 48, 84),  # banjo (test only)
]


def _split_of(path: str) -> str:
    """Split of a piece from a stable hash of its corpus path (80 % train, 10 % / 10 %)."""
    h = int(hashlib.sha256(path.encode()).hexdigest()[:8], 16) % 10
    return "test" if h == 0 else ("valid" if h == 1 else "train")


@lru_cache(maxsize=4)
def piece_pool(kind: str, split: str) -> tuple[tuple[str, str], ...]:
    """The music21 corpus pieces ``(source, path)`` of ``split`` usable for ``kind``."""
    from music21 import corpus

    root = Path(corpus.getComposer("bach")[0]).parent.parent
    sources = {
        "bach": [p for p in corpus.getComposer("bach") if str(p).endswith((".mxl", ".xml"))],
        "palestrina": list(corpus.getComposer("palestrina")),
    }
    if kind == "ensemble":
        sources["folk"] = list(corpus.getComposer("ryansMammoth"))
        sources["monteverdi"] = [p for p in corpus.getComposer("monteverdi")
                                 if str(p).endswith(".mxl")]
    pool = []
    for src, paths in sorted(sources.items()):
        for p in sorted(str(x) for x in paths):
            rel = str(Path(p).relative_to(root)) if p.startswith(str(root)) else p
            if _split_of(rel) == split:
                pool.append((src, rel))
    return tuple(pool)


def load_piece(rel_path: str) -> list[list[tuple[float, float, int, str | None]]]:
    """Parse a corpus piece into monophonic voices: per part, ``(onset ql, duration ql,
    MIDI pitch, lyric syllable or None)`` with ties merged and chords reduced to their top
    note."""
    from music21 import corpus

    score = corpus.parse(rel_path)
    voices = []
    for part in score.parts:
        notes = []
        for n in part.stripTies().flatten().notes:
            dur = float(n.quarterLength)
            if dur <= 0:
                continue  # grace notes
            pitch = max(p.midi for p in n.pitches) if n.isChord else n.pitch.midi
            lyric = n.lyrics[0].text if n.lyrics else None  # first verse
            notes.append((float(n.offset), dur, int(pitch), lyric or None))
        if notes:
            voices.append(sorted(notes))
    return voices


def _choose_piece(rng, kind: str, split: str):
    pool = piece_pool(kind, split)
    if not pool:
        raise RuntimeError(f"no music21 piece for {kind}/{split}")
    weights = {"bach": 0.4, "palestrina": 0.3, "folk": 0.2, "monteverdi": 0.1}
    by_src: dict[str, list[str]] = {}
    for src, p in pool:
        by_src.setdefault(src, []).append(p)
    srcs = sorted(by_src)
    for _ in range(12):
        w = np.array([weights[s] for s in srcs])
        src = srcs[int(rng.choice(len(srcs), p=w / w.sum()))]
        path = by_src[src][int(rng.integers(0, len(by_src[src])))]
        try:
            voices = load_piece(path)
        except Exception:  # noqa: BLE001 - a corpus file music21 cannot read: take another
            continue
        if kind == "choir" and len(voices) < 4:
            continue
        if src != "folk" and len(voices) < 2:
            continue
        if not voices:
            continue
        return src, path, voices
    raise RuntimeError(f"could not load a usable music21 piece for {kind}/{split}")


def _drone(melody: list[tuple]) -> list[tuple[float, float, int, None]]:
    """Drone on the tonic (the melody's last note, an octave or two lower), one per bar of 4
    quarters, alternating tonic and fifth."""
    tonic = melody[-1][2] % 12
    low = 43 + (tonic - 43) % 12
    end = max(n[0] + n[1] for n in melody)
    out = []
    t = 0.0
    k = 0
    while t < end:
        out.append((t, min(4.0, end - t), low + (7 if k % 4 == 3 else 0), None))
        t += 4.0
        k += 1
    return out


def _pick_voices(rng, voices, kind: str):
    """Choose the voices to render (choir: four, by register, S A T B order)."""
    means = [np.mean([n[2] for n in v]) for v in voices]
    order = list(np.argsort(means)[::-1])  # high to low
    if kind == "choir":
        if len(order) == 4:
            idx = order
        else:  # four parts spread over the registers
            idx = [order[int(round(i * (len(order) - 1) / 3))] for i in range(4)]
        return [voices[i] for i in idx]
    n = min(len(voices), MAX_VOICES)
    if len(voices) > n:
        keep = sorted(rng.choice(len(voices), size=n, replace=False).tolist())
        voices = [voices[i] for i in keep]
    return voices


def _window(rng, voices, seconds: float, tempo: float):
    """Cut a window of about ``seconds`` s (in quarter lengths) starting at a note onset."""
    spq = 60.0 / tempo
    total = max(n[0] + n[1] for v in voices for n in v)
    span = seconds / spq
    onsets = sorted({n[0] for n in voices[0] if n[0] <= max(0.0, total - span)})
    start = float(onsets[int(rng.integers(0, len(onsets)))]) if onsets else 0.0
    stop = start + span
    out = []
    for v in voices:
        cut = []
        for o, d, p, lyr in v:
            if o >= stop or o + d <= start:
                continue
            a, b = max(o, start), min(o + d, stop)
            cut.append((a - start, b - a, p, lyr if o >= start else None))
        out.append(cut)
    return out, min(stop, total) - start


def _fit_range(notes, lo: int, hi: int, centre: bool = False):
    """Shift a voice by octaves so that its median pitch lies inside [lo, hi] (``centre``:
    as close as possible to the middle of the range, for singers)."""
    if not notes:
        return notes
    med = float(np.median([n[2] for n in notes]))
    if centre:
        mid = (lo + hi) / 2
        shift = 12 * int(np.round((mid - med) / 12))
    else:
        shift = 0
        while med + shift > hi:
            shift -= 12
        while med + shift < lo:
            shift += 12
    return [(o, d, int(np.clip(p + shift, 0, 127)), lyr) for o, d, p, lyr in notes]


def _instrument(rng, mean_pitch: float, split: str, used: set[int]) -> int:
    cands = [
        prog for prog, lo, hi in _INSTRUMENTS
        if lo + 3 <= mean_pitch <= hi - 3 and (split == "test" or prog not in TEST_ONLY_PROGRAMS)
        and prog not in used
    ]
    if split == "test":
        cands += [p for p in cands if p in TEST_ONLY_PROGRAMS] * 2  # make unseen classes common
    if not cands:
        cands = [48]
    return int(cands[int(rng.integers(0, len(cands)))])


def render_chorale_track(spec, out_root) -> dict:
    """Render one ``ensemble``/``choir`` track (see the module docstring); returns its summary."""
    rng = track_rng(spec, 1)
    src, path, voices = _choose_piece(rng, spec.kind, spec.split)
    if src == "folk" and len(voices) == 1:
        voices = [voices[0], _drone(voices[0])]
    voices = _pick_voices(rng, voices, spec.kind)
    # Tempo from the typical note length: a median note of 0.3-0.6 s.
    med = float(np.median([n[1] for v in voices for n in v]))
    tempo = float(np.clip(60.0 * med / rng.uniform(0.3, 0.6), 30, 360))
    voices, span_ql = _window(rng, voices, spec.seconds, tempo)
    transpose = int(rng.integers(-3, 4))
    voices = [[(o, d, p + transpose, lyr) for o, d, p, lyr in v] for v in voices]
    voices = [v for v in voices if v] or voices[:1]
    spq = 60.0 / tempo
    lead_in = 0.2
    song = Song(tempo, 0, "", [Section("piece", 0, 1)], [], span_ql * spq, lead_in + span_ql * spq)
    fonts = melodic_fonts(spec.split)
    srng = track_rng(spec, 2)
    used: set[int] = set()
    lyrics: dict[str, list[str | None]] = {}
    for k, v in enumerate(voices):
        name = f"voice{k + 1}"
        if spec.kind == "choir":
            vt = ("soprano", "alto", "tenor", "bass")[k]
            v = _fit_range(v, *VOICE_RANGES[vt], centre=True)
            part = Part(name, name, 52, renderer="singer", voice=vt, monophonic=True)
        else:
            mean = float(np.mean([n[2] for n in v]))
            if srng.random() < 0.12:
                vt = min(VOICE_RANGES, key=lambda t: abs(np.mean(VOICE_RANGES[t]) - mean))
                v = _fit_range(v, *VOICE_RANGES[vt], centre=True)
                part = Part(name, name, 52, renderer="singer", voice=vt, monophonic=True)
            else:
                prog = _instrument(srng, mean, spec.split, used)
                used.add(prog)
                lo, hi = next((a, b) for p, a, b in _INSTRUMENTS if p == prog)
                v = _fit_range(v, lo + 3, hi - 3)
                part = Part(name, name, prog, monophonic=True)
                part.font = fonts[int(srng.integers(0, len(fonts)))]
                part.bank, part.preset = 0, prog
        notes = [NoteEvent(p, lead_in + o * spq, lead_in + (o + d) * spq - 0.01,
                           int(np.clip(srng.normal(85, 8), 40, 120))) for o, d, p, _ in v]
        part.notes = _monophonic(notes, gap=0.005)
        lyric_at = {round(lead_in + o * spq, 6): lyr for o, _, _, lyr in v}
        lyrics[name] = [lyric_at.get(round(n.start, 6)) for n in part.notes]
        song.parts.append(part)
    # Chorale files often carry the text in the soprano only: voices without lyrics borrow
    # the syllables of a texted voice at the same onsets (other notes are melismas).
    texted = next((lyrics[p.name] for p in song.parts if any(lyrics.get(p.name) or [])), None)
    if texted:
        ref_part = next(p for p in song.parts if lyrics.get(p.name) is texted)
        at = {round(n.start, 6): w for n, w in zip(ref_part.notes, texted, strict=True) if w}
        for p in song.parts:
            if not any(lyrics.get(p.name) or []):
                lyrics[p.name] = [at.get(round(n.start, 6)) for n in p.notes]
    quantise_to_ticks(song)

    out_root = Path(out_root)
    final = out_root / spec.split / spec.name
    tmp = out_root / spec.split / f".{spec.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "f0").mkdir(parents=True)
    num = int(round((song.duration + TAIL_SECONDS) * SAMPLE_RATE))
    fx = track_rng(spec, 3)
    room = effects.Room(fx, SAMPLE_RATE, num)
    n_v = len(song.parts)
    positions = np.linspace(-0.7, 0.7, n_v) if n_v > 1 else np.zeros(1)
    positions = positions[fx.permutation(n_v)]
    stems, infos = [], []
    for k, part in enumerate(song.parts):
        prng = np.random.default_rng([spec.seed, spec.index, 10 + k])
        info = {"voice": part.name, "renderer": part.renderer}
        if part.renderer == "singer":
            sv = SingerVoice.random(prng, part.voice or "tenor")
            words = lyrics.get(part.name)
            words = words if words and any(words) else None
            mono, f0_t, f0 = sing(part.notes, num, SAMPLE_RATE, prng, sv, lyrics=words)
            audio = np.empty((2, num), dtype=np.float32)
            audio[:] = mono
            info.update({"class": "vocals", "program": None, "soundfont": None,
                         "singer_voice": sv.voice,
                         "lyrics": " ".join(w or "-" for w in words) if words else None})
        else:
            audio = renderer(SAMPLE_RATE).render(part.notes, part.font, part.bank, part.preset,
                                                 num)
            f0_t, f0 = f0_from_notes(part.notes, num / SAMPLE_RATE)
            info.update({"class": gm_class(part.program), "program": part.program,
                         "soundfont": part.font,
                         "preset_name": renderer(SAMPLE_RATE).preset_name(part.font, 0,
                                                                          part.program)})
        level = active_rms(audio)
        if level > 0:
            audio *= np.float32(0.1 / level)
        audio, eq = effects.random_eq(audio, SAMPLE_RATE, fx)
        g = float(fx.uniform(-4, 2))
        audio = effects.pan(audio, float(positions[k]), effects.db_to_gain(g))
        wet = float(fx.uniform(-20, -8))
        audio = room.apply(audio, wet)
        info.update({**eq, "pan": round(float(positions[k]), 3), "gain_db": round(g, 2),
                     "reverb_wet_db": round(wet, 2), "notes": len(part.notes),
                     "pitch_range": [min(n.pitch for n in part.notes),
                                     max(n.pitch for n in part.notes)]})
        write_f0_csv(tmp / "f0" / f"{part.name}.csv", f0_t, f0)
        stems.append(audio)
        infos.append(info)
    stack = np.stack(stems).astype(np.float32)
    peak = float(np.abs(stack.sum(axis=0)).max())
    stack *= np.float32(float(fx.uniform(0.5, 0.95)) / peak) if peak > 0 else np.float32(1)
    names = [p.name for p in song.parts]
    conf = write_stems(tmp, names, stack)
    write_midi(tmp / "song.mid", song)
    seconds = round(num / SAMPLE_RATE, 4)
    meta = {
        "track": spec.name, "split": spec.split, "kind": spec.kind,
        "sample_rate": SAMPLE_RATE, "seconds": seconds, "tempo": round(tempo, 3),
        "source": {"corpus": "music21", "collection": src, "path": path,
                   "transpose": transpose},
        "room": room.describe(),
        "voices": infos,
        "f0": names,
        "active_fraction": {n: round(float((c >= 0.5).mean()), 4)
                            for n, c in zip(names, conf, strict=True)},
    }
    publish_track(tmp, final, meta)
    return {
        "name": spec.name,
        "split": spec.split,
        "seconds": seconds,
        "stems": {n: seconds * meta["active_fraction"][n] for n in names},
        "classes": [(i["class"], i.get("soundfont"), seconds * meta["active_fraction"][n])
                    for i, n in zip(infos, names, strict=True)],
        "source": src,
    }
