"""Procedural pop/rock songs: tempo, key, chord progressions, song structure and the notes of
every part (drums with fills, a bass line on the chords, a vocal melody, keys/guitars/pads/
strings/leads for ``other``), with instruments entering and leaving from section to section.

Everything is drawn from one ``numpy.random.Generator``, so a song is a pure function of its
seed. Times are in seconds, pitches are MIDI note numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from separate.synth.classes import DRUMS_PROGRAM, TEST_ONLY_PROGRAMS, gm_class
from separate.synth.render import NoteEvent

__all__ = ["Part", "Section", "Song", "compose_band_song"]

# GM drum notes.
KICK, SNARE, STICK, CLAP, HH_CLOSED, HH_PEDAL, HH_OPEN = 36, 38, 37, 39, 42, 44, 46
CRASH, RIDE, RIDE_BELL = 49, 51, 53
TOMS = (50, 48, 47, 45, 43, 41)  # high .. low

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)

# Progressions as scale degrees (0 = tonic).
PROG_MAJOR = [
    (0, 4, 5, 3), (0, 3, 4, 3), (5, 3, 0, 4), (0, 5, 3, 4), (0, 3, 5, 4), (1, 4, 0, 0),
    (0, 2, 3, 4), (3, 0, 4, 5), (0, 4, 3, 3), (0, 0, 3, 4), (5, 4, 3, 4), (3, 4, 0, 5),
]
PROG_MINOR = [
    (0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 5, 3, 4), (0, 0, 5, 6),
    (5, 6, 0, 0), (0, 2, 6, 3),
]

# 16-step drum grooves: (kick steps, snare steps, hat steps, hat note).
GROOVES = {
    "rock": ((0, 8, 10), (4, 12), tuple(range(0, 16, 2)), HH_CLOSED),
    "pop": ((0, 6, 8, 11), (4, 12), tuple(range(16)), HH_CLOSED),
    "four": ((0, 4, 8, 12), (4, 12), (2, 6, 10, 14), HH_OPEN),
    "halftime": ((0, 3, 10), (8,), tuple(range(0, 16, 2)), HH_CLOSED),
    "funk": ((0, 3, 7, 10), (4, 12), tuple(range(16)), HH_CLOSED),
    "ballad": ((0, 8, 11), (4, 12), tuple(range(0, 16, 2)), HH_CLOSED),
    "shuffle": ((0, 8), (4, 12), tuple(range(0, 16, 2)), RIDE),
}

# Pools of GM programs for the parts of ``other`` (role -> programs).
OTHER_ROLES = {
    "keys": (0, 1, 2, 4, 5, 7, 16, 17, 18, 6),
    "guitar": (24, 25, 26, 27, 28, 29, 30),
    "pad": (48, 49, 50, 51, 88, 89, 90, 91, 92, 94, 95, 19),
    "lead": (56, 61, 65, 66, 68, 71, 73, 80, 81, 40, 11, 12),
    "arp": (11, 12, 13, 8, 46, 4, 0, 81, 87),
}
TEST_EXTRA = {"keys": (21, 23), "lead": (22, 109, 78), "arp": (104, 105)}

BASS_PROGRAMS = (32, 33, 34, 35, 36, 37, 38, 39)


@dataclass
class Part:
    """One instrument part of a song.

    Args:
        name: unique name within the song (``"vocals"``, ``"bass"``, ``"keys 1"``...).
        stem: the stem it is mixed into (``vocals``, ``drums``, ``bass``, ``other``, ``voiceN``).
        program: GM program 0-127, or ``DRUMS_PROGRAM`` (-1) for a drum kit.
        notes: the notes.
        monophonic: at most one note sounds at a time (an F0 track is written for it).
        renderer: ``"fluidsynth"`` or ``"singer"``.
        font, bank, preset: the FluidSynth preset (filled by the corpus builder).
        voice: singer voice type (``soprano``, ``alto``, ``tenor``, ``bass``) for the singer.
    """

    name: str
    stem: str
    program: int
    notes: list[NoteEvent] = field(default_factory=list)
    monophonic: bool = False
    renderer: str = "fluidsynth"
    font: str | None = None
    bank: int = 0
    preset: int = 0
    voice: str | None = None

    @property
    def is_drum(self) -> bool:
        return self.program == DRUMS_PROGRAM

    @property
    def instrument_class(self) -> str | None:
        return "vocals" if self.renderer == "singer" else gm_class(self.program, self.is_drum)


@dataclass
class Section:
    """A section of the song: ``name`` (intro, verse, chorus, break, bridge, outro), bars."""

    name: str
    start_bar: int
    bars: int


@dataclass
class Song:
    """A composed song: global facts and its parts."""

    tempo: float
    key: int
    mode: str
    sections: list[Section]
    parts: list[Part]
    bar_seconds: float
    duration: float  # end of the last bar (s); rendering adds a tail for releases and reverb
    style: str = ""

    def section_at(self, bar: int) -> Section:
        for s in self.sections:
            if s.start_bar <= bar < s.start_bar + s.bars:
                return s
        return self.sections[-1]


def _chord(scale: tuple[int, ...], degree: int, mode: str, seventh: bool) -> list[int]:
    """Pitch classes (relative to the key) of the diatonic triad/seventh on ``degree``."""
    pcs = [scale[(degree + k) % 7] for k in ((0, 2, 4, 6) if seventh else (0, 2, 4))]
    if mode == "minor" and degree == 4:  # harmonic-minor dominant
        pcs[1] = (pcs[1] + 1) % 12
    return pcs


def _structure(rng: np.random.Generator, total_bars: int) -> list[Section]:
    """Sections filling ``total_bars`` bars (intro, verse, chorus, break, ..., outro)."""
    if total_bars <= 2:
        return [Section("verse", 0, 1), Section("chorus", 1, max(1, total_bars - 1))][
            : max(1, total_bars)
        ]
    plan: list[tuple[str, int]] = []
    intro = int(rng.choice([1, 2, 2, 4])) if total_bars >= 6 else 1
    plan.append(("intro", intro))
    body = ["verse", "chorus", "break", "verse", "chorus", "bridge", "chorus", "chorus"]
    if rng.random() < 0.3:
        body.remove("break")
    i = 0
    used = intro
    outro = 2 if total_bars >= 12 else (1 if total_bars >= 6 else 0)
    while used < total_bars - outro:
        name = body[i % len(body)]
        length = {"verse": int(rng.choice([4, 8])), "chorus": int(rng.choice([4, 8])),
                  "break": int(rng.choice([1, 2])), "bridge": 4}[name]
        if total_bars < 12:
            length = min(length, max(1, (total_bars - outro) // 3))
        length = min(length, total_bars - outro - used)
        plan.append((name, length))
        used += length
        i += 1
    if outro:
        plan.append(("outro", total_bars - used))
    sections, bar = [], 0
    for name, n in plan:
        if n > 0:
            sections.append(Section(name, bar, n))
            bar += n
    return sections


def _presence(
    rng: np.random.Generator, sections: list[Section], role: str
) -> list[bool]:
    """Whether a part of ``role`` plays in each section (instruments enter and leave)."""
    p = {
        "vocals": {"intro": 0.0, "verse": 1.0, "chorus": 1.0, "break": 0.1, "bridge": 0.8,
                   "outro": 0.3},
        "drums": {"intro": 0.4, "verse": 0.95, "chorus": 1.0, "break": 0.3, "bridge": 0.8,
                  "outro": 0.6},
        "bass": {"intro": 0.4, "verse": 0.95, "chorus": 1.0, "break": 0.4, "bridge": 0.9,
                 "outro": 0.6},
        "keys": {"intro": 0.7, "verse": 0.8, "chorus": 0.8, "break": 0.6, "bridge": 0.7,
                 "outro": 0.7},
        "guitar": {"intro": 0.5, "verse": 0.7, "chorus": 0.9, "break": 0.4, "bridge": 0.6,
                   "outro": 0.5},
        "pad": {"intro": 0.6, "verse": 0.4, "chorus": 0.8, "break": 0.6, "bridge": 0.8,
                "outro": 0.7},
        "lead": {"intro": 0.7, "verse": 0.1, "chorus": 0.3, "break": 0.8, "bridge": 0.4,
                 "outro": 0.7},
        "arp": {"intro": 0.5, "verse": 0.5, "chorus": 0.7, "break": 0.5, "bridge": 0.6,
                "outro": 0.5},
    }[role]
    on = [bool(rng.random() < p[s.name]) for s in sections]
    if not any(on):
        # Every part plays somewhere: pick the section where it is likeliest.
        best = max(range(len(sections)), key=lambda i: (p[sections[i].name], -i))
        on[best] = True
    return on


class _Grid:
    """Time helpers: bar/step to seconds with swing and humanisation."""

    def __init__(self, rng: np.random.Generator, tempo: float, swing: float):
        self.rng = rng
        self.beat = 60.0 / tempo
        self.bar = 4 * self.beat
        self.step = self.beat / 4
        self.swing = swing

    def t(self, bar: int, step: float, jitter: float = 0.006) -> float:
        s = bar * self.bar + step * self.step
        if self.swing and int(step) % 4 == 2 and step == int(step):
            s += self.swing * self.step
        return max(0.0, s + float(self.rng.normal(0, jitter)))


def _drums(rng, grid: _Grid, song_sections, on, style: str) -> list[NoteEvent]:
    kick, snare, hats, hat_note = GROOVES[style]
    kick = set(kick)
    if rng.random() < 0.5:
        kick.add(int(rng.choice([2, 6, 7, 14, 15])))
    notes: list[NoteEvent] = []
    snare_note = int(rng.choice([SNARE, SNARE, 40])) if style != "ballad" else STICK
    base_vel = int(rng.integers(80, 110))

    def hit(pitch, bar, step, vel, dur=0.1):
        t = grid.t(bar, step, 0.004)
        v = int(np.clip(vel + rng.normal(0, 6), 20, 127))
        notes.append(NoteEvent(pitch, t, t + dur, v))

    for si, sec in enumerate(song_sections):
        if not on[si]:
            continue
        chorus = sec.name in ("chorus", "bridge")
        sec_hat = RIDE if (chorus and rng.random() < 0.4) else hat_note
        for b in range(sec.bars):
            bar = sec.start_bar + b
            last = b == sec.bars - 1
            fill = last and si + 1 < len(song_sections) and rng.random() < 0.75
            fill_from = 16 - int(rng.choice([4, 8])) if fill else 16
            if b == 0 and (rng.random() < 0.8 or si == 0):
                hit(CRASH, bar, 0, base_vel + 10, 1.0)
            for s in range(16):
                if s >= fill_from:
                    break
                if s in kick:
                    hit(KICK, bar, s, base_vel + 5)
                if s in snare:
                    hit(snare_note, bar, s, base_vel + 8)
                elif style == "funk" and s in (7, 9, 15) and rng.random() < 0.5:
                    hit(SNARE, bar, s, 45)  # ghost notes
                if s in hats and not (b == 0 and s == 0 and sec_hat != RIDE and rng.random() < 0.8):
                    accent = 12 if s % 4 == 0 else 0
                    hit(sec_hat, bar, s, base_vel - 20 + accent)
            if fill:
                toms = list(TOMS)
                n = 16 - fill_from
                pattern = rng.choice(["roll", "toms", "mixed"])
                for k in range(n):
                    s = fill_from + k
                    if pattern == "roll":
                        pitch = SNARE
                    elif pattern == "toms":
                        pitch = toms[min(len(toms) - 1, k * len(toms) // n)]
                    else:
                        pitch = SNARE if k % 2 == 0 else toms[min(5, k * 6 // n)]
                    hit(pitch, bar, s, base_vel - 5 + 2 * k)
                    if k % 4 == 0:
                        hit(KICK, bar, s, base_vel)
    return notes


def _bass(rng, grid: _Grid, song: Song, chords, on, low: int) -> list[NoteEvent]:
    style = str(rng.choice(["whole", "eighths", "root5", "syncopated", "walking", "octaves"]))
    notes: list[NoteEvent] = []
    legato = float(rng.uniform(0.7, 0.95))
    for si, sec in enumerate(song.sections):
        if not on[si]:
            continue
        for b in range(sec.bars):
            bar = sec.start_bar + b
            root_pc = chords[bar][0]
            root = low + (root_pc - low) % 12
            nxt = chords[bar + 1][0] if bar + 1 < len(chords) else chords[bar][0]
            fifth = root + 7
            if style == "whole" or sec.name in ("intro", "outro") and rng.random() < 0.5:
                steps = [(0, root, 8), (8, root if rng.random() < 0.6 else fifth, 8)]
            elif style == "eighths":
                steps = [(s, root, 2) for s in range(0, 16, 2)]
            elif style == "root5":
                steps = [(0, root, 4), (4, fifth, 4), (8, root + 12, 4), (12, fifth, 4)]
            elif style == "syncopated":
                steps = [(0, root, 3), (3, root, 3), (6, root + 12, 2), (8, root, 3),
                         (11, fifth, 2), (14, root, 2)]
            elif style == "octaves":
                steps = [(s, root + (12 if (s // 2) % 2 else 0), 2) for s in range(0, 16, 2)]
            else:  # walking towards the next chord root
                target = low + (nxt - low) % 12
                approach = target - 1 if rng.random() < 0.5 else target + 1
                third = root + (chords[bar][1] - chords[bar][0]) % 12
                steps = [(0, root, 4), (4, third, 4), (8, fifth, 4), (12, approach, 4)]
            for s, pitch, length in steps:
                t0 = grid.t(bar, s)
                t1 = grid.t(bar, s + length * legato, 0.0)
                notes.append(NoteEvent(int(np.clip(pitch, 24, 60)), t0, max(t1, t0 + 0.05),
                                       int(np.clip(rng.normal(95, 10), 40, 127))))
    return _monophonic(notes)


def _monophonic(notes: list[NoteEvent], gap: float = 0.01) -> list[NoteEvent]:
    """Sort and trim so that no two notes overlap (each ends ``gap`` s before the next)."""
    notes = sorted(notes, key=lambda n: n.start)
    out: list[NoteEvent] = []
    for i, n in enumerate(notes):
        end = n.end
        if i + 1 < len(notes):
            end = min(end, notes[i + 1].start - gap)
        if end - n.start >= 0.03:
            out.append(NoteEvent(n.pitch, n.start, end, n.velocity))
    return out


# Syllable rhythms for one bar, in 16th steps (onset, length).
_RHYTHMS = [
    [(0, 4), (4, 4), (8, 4), (12, 4)],
    [(0, 2), (2, 2), (4, 4), (8, 2), (10, 2), (12, 4)],
    [(0, 6), (6, 2), (8, 8)],
    [(2, 2), (4, 2), (6, 2), (8, 4), (12, 2), (14, 2)],
    [(0, 3), (3, 3), (6, 2), (8, 6)],
    [(0, 8), (8, 8)],
    [(0, 2), (2, 2), (4, 2), (6, 2), (8, 2), (10, 6)],
    [(4, 2), (6, 2), (8, 4), (12, 4)],
]


def _melody(rng, grid: _Grid, song: Song, chords, on, scale_pcs, lo: int, hi: int):
    """Vocal melody: phrases of 1-2 bars with rests, steps and leaps, chord tones on beats."""
    notes: list[NoteEvent] = []
    scale = [p for p in range(lo - 12, hi + 13) if (p - song.key) % 12 in scale_pcs]
    centre = (lo + hi) // 2
    prev = min(scale, key=lambda p: abs(p - centre))
    repeats = 0
    for si, sec in enumerate(song.sections):
        if not on[si]:
            continue
        shift = 3 if sec.name == "chorus" else 0
        rhythms = [_RHYTHMS[int(i)] for i in rng.choice(len(_RHYTHMS), size=2)]
        for b in range(sec.bars):
            bar = sec.start_bar + b
            # phrase shape: sing 1-2 bars, then rest (the last bar of a pair often rests more)
            if b % 2 == 1 and rng.random() < 0.45:
                cells = [c for c in rhythms[b % 2] if c[0] < 8]  # half-bar, breath
            elif rng.random() < 0.12:
                continue  # a bar of rest
            else:
                cells = rhythms[b % 2]
            chord = set(chords[bar])
            for onset, length in cells:
                strong = onset % 8 == 0
                if strong:
                    cands = [p for p in scale if (p - song.key) % 12 in chord
                             and lo + shift - 2 <= p <= hi]
                else:
                    step = int(rng.choice([-2, -1, -1, 1, 1, 2, 0, 3, -3, 4, -4],
                                          p=[.1, .18, .18, .18, .18, .06, .04, .03, .03, .01, .01]))
                    idx = scale.index(prev) + step if prev in scale else 0
                    idx = int(np.clip(idx, 0, len(scale) - 1))
                    cands = [scale[idx]]
                if not cands:
                    cands = [prev]
                # arch contour: rise in the first half of a bar pair, fall in the second
                rising = (b % 2 == 0) == (onset < 8)
                pitch = min(cands, key=lambda p: abs(p - prev) + 0.3 * abs(p - centre - shift)
                            + rng.random() * 3 + (3.0 * (1 + repeats) if p == prev else 0.0)
                            + (1.0 if (p < prev) == rising and p != prev else 0.0))
                pitch = int(np.clip(pitch, lo, hi))
                repeats = repeats + 1 if pitch == prev else 0
                t0 = grid.t(bar, onset, 0.01)
                t1 = grid.t(bar, onset + length * 0.92, 0.0)
                notes.append(NoteEvent(pitch, t0, max(t1, t0 + 0.08),
                                       int(np.clip(rng.normal(90, 8), 50, 127))))
                prev = pitch
    return _monophonic(notes, gap=0.02)


def _voicing(chord_pcs, key: int, lo: int, n: int, rng) -> list[int]:
    base = [lo + (key + pc - lo) % 12 for pc in chord_pcs]
    base.sort()
    pitches = list(base)
    k = 0
    while len(pitches) < n:
        pitches.append(base[k % len(base)] + 12 * (1 + k // len(base)))
        k += 1
    if rng.random() < 0.3:
        pitches = pitches[1:] + [pitches[0] + 12]  # inversion
    return pitches[:n]


def _other(rng, grid: _Grid, song: Song, chords, chord_sevenths, on, role: str):
    notes: list[NoteEvent] = []
    pattern = int(rng.integers(0, 4))
    lo = {"keys": 52, "guitar": 45, "pad": 48, "lead": 65, "arp": 60}[role]
    lead_scale = [p for p in range(lo, lo + 19) if (p - song.key) % 12 in
                  (MAJOR if song.mode == "major" else MINOR)]
    prev = lead_scale[len(lead_scale) // 3]
    for si, sec in enumerate(song.sections):
        if not on[si]:
            continue
        for b in range(sec.bars):
            bar = sec.start_bar + b
            pcs = chord_sevenths[bar] if role in ("keys", "pad") else chords[bar]
            v = int(np.clip(rng.normal(80, 10), 30, 120))
            if role == "pad":
                for p in _voicing(pcs, 0, lo, 4, rng):
                    notes.append(NoteEvent(p, grid.t(bar, 0, 0.0), grid.t(bar, 16, 0.0) - 0.02,
                                           v - 10))
            elif role == "keys":
                vo = _voicing(pcs, 0, lo, 4, rng)
                hits = [[(0, 4), (4, 4), (8, 4), (12, 4)], [(0, 6), (6, 6), (12, 4)],
                        [(0, 16)], [(0, 2), (2, 2), (6, 4), (10, 2), (12, 4)]][pattern]
                for s, length in hits:
                    t0 = grid.t(bar, s)
                    for p in vo:
                        notes.append(NoteEvent(p, t0, t0 + length * grid.step * 0.9, v))
                if rng.random() < 0.6:  # left hand root
                    r = 36 + (pcs[0]) % 12
                    notes.append(NoteEvent(r, grid.t(bar, 0), grid.t(bar, 15.5, 0.0), v - 10))
            elif role == "guitar":
                if pattern == 0:  # power-chord eighths
                    r = lo + (pcs[0] - lo) % 12
                    for s in range(0, 16, 2):
                        t0 = grid.t(bar, s)
                        for p in (r, r + 7, r + 12):
                            notes.append(NoteEvent(p, t0, t0 + grid.step * 1.8, v))
                else:  # strumming, staggered strings
                    vo = _voicing(pcs, 0, lo, 5, rng)
                    strums = [[0, 4, 6, 10, 12, 14], [0, 8], [0, 3, 6, 8, 11, 14]][pattern - 1]
                    for k, s in enumerate(strums):
                        t0 = grid.t(bar, s)
                        down = k % 2 == 0
                        order = vo if down else vo[::-1]
                        for j, p in enumerate(order):
                            notes.append(NoteEvent(p, t0 + 0.012 * j, t0 + grid.step * 2.5,
                                                   v - (0 if down else 12)))
            elif role == "arp":
                vo = _voicing(pcs, 0, lo, 4, rng)
                seq = vo + vo[-2:0:-1] if pattern % 2 else vo + [vo[0] + 12] + vo[::-1][1:-1]
                div = 2 if pattern < 2 else 1
                for k, s in enumerate(np.arange(0, 16, div)):
                    t0 = grid.t(bar, float(s))
                    notes.append(NoteEvent(seq[k % len(seq)], t0, t0 + grid.step * div * 0.9, v))
            else:  # lead: a simple monophonic line
                for s, length in _RHYTHMS[int(rng.integers(0, len(_RHYTHMS)))]:
                    idx = lead_scale.index(prev) + int(rng.choice([-2, -1, 1, 2, 0]))
                    prev = lead_scale[int(np.clip(idx, 0, len(lead_scale) - 1))]
                    t0 = grid.t(bar, s)
                    notes.append(NoteEvent(prev, t0, t0 + length * grid.step * 0.9, v))
    if role == "lead":
        notes = _monophonic(notes)
    return notes


def compose_band_song(
    rng: np.random.Generator, seconds: float, test_split: bool = False
) -> Song:
    """Compose a song of about ``seconds`` s with vocals, drums, bass and 1-4 other parts.

    Args:
        rng: the random generator (the song is a pure function of its state).
        seconds: target length (s); the song is a whole number of bars, at least 1.
        test_split: allow the test-only GM programs (:data:`TEST_ONLY_PROGRAMS`).

    Returns:
        the :class:`Song`; parts' ``font``/``bank``/``preset`` are left for the caller.
    """
    tempo = float(rng.choice([rng.uniform(70, 100), rng.uniform(95, 135), rng.uniform(120, 165)]))
    mode = "major" if rng.random() < 0.6 else "minor"
    key = int(rng.integers(0, 12))
    bar_seconds = 240.0 / tempo
    total_bars = max(1, int(round(seconds / bar_seconds)))
    sections = _structure(rng, total_bars)
    total_bars = sum(s.bars for s in sections)
    style = str(rng.choice(list(GROOVES)))
    swing = 0.33 if style == "shuffle" else (0.15 if rng.random() < 0.1 else 0.0)
    grid = _Grid(rng, tempo, swing)
    song = Song(tempo, key, mode, sections, [], bar_seconds, total_bars * bar_seconds, style)

    scale = MAJOR if mode == "major" else MINOR
    progs: dict[str, tuple[int, ...]] = {}
    pool = PROG_MAJOR if mode == "major" else PROG_MINOR
    for name in ("intro", "verse", "chorus", "break", "bridge", "outro"):
        progs[name] = pool[int(rng.integers(0, len(pool)))]
    progs["outro"] = progs["chorus"] if rng.random() < 0.5 else progs["outro"]
    chords, sevenths = [], []
    use7 = rng.random() < 0.4
    for sec in sections:
        per_bar = 2 if (tempo < 90 and rng.random() < 0.3) else 1
        for b in range(sec.bars):
            deg = progs[sec.name][(b // per_bar) % 4] if per_bar == 1 else progs[sec.name][b % 4]
            pcs = [(key + pc) % 12 for pc in _chord(scale, deg, mode, False)]
            chords.append(pcs)
            sevenths.append([(key + pc) % 12 for pc in _chord(scale, deg, mode, use7)])
    chords.append(chords[0])
    sevenths.append(sevenths[0])

    # Drums
    d_on = _presence(rng, sections, "drums")
    song.parts.append(Part("drums", "drums", DRUMS_PROGRAM, _drums(rng, grid, sections, d_on,
                                                                   style)))
    # Bass
    b_on = _presence(rng, sections, "bass")
    bass_prog = int(rng.choice(BASS_PROGRAMS))
    song.parts.append(Part("bass", "bass", bass_prog,
                           _bass(rng, grid, song, chords, b_on, int(rng.integers(28, 36))),
                           monophonic=True))
    # Vocals (rendered by the source-filter singer)
    voice = str(rng.choice(["soprano", "alto", "tenor", "bass"], p=[.3, .25, .3, .15]))
    lo, hi = {"soprano": (60, 79), "alto": (55, 74), "tenor": (48, 67), "bass": (43, 62)}[voice]
    v_on = _presence(rng, sections, "vocals")
    mel = _melody(rng, grid, song, chords, v_on, scale, lo, hi)
    song.parts.append(Part("vocals", "vocals", 54, mel, monophonic=True, renderer="singer",
                           voice=voice))
    # Other: 1-4 parts with distinct roles
    n_other = int(rng.choice([1, 2, 2, 3, 3, 4]))
    roles = [str(r) for r in rng.choice(list(OTHER_ROLES), size=n_other, replace=False)]
    for role in roles:
        pool_p = list(OTHER_ROLES[role])
        if test_split:
            pool_p += list(TEST_EXTRA.get(role, ())) * 2
        prog = int(rng.choice(pool_p))
        assert test_split or prog not in TEST_ONLY_PROGRAMS
        on = _presence(rng, sections, role)
        notes = _other(rng, grid, song, chords, sevenths, on, role)
        song.parts.append(Part(role, "other", prog, notes, monophonic=role == "lead"))
    # Make sure no stem is empty (very short songs): fall back to playing everywhere.
    for part in song.parts:
        if not part.notes:
            full = [True] * len(sections)
            if part.stem == "drums":
                part.notes = _drums(rng, grid, sections, full, style)
            elif part.stem == "bass":
                part.notes = _bass(rng, grid, song, chords, full, 33)
            elif part.stem == "vocals":
                part.notes = _melody(rng, grid, song, chords, full, scale, lo, hi)
            else:
                part.notes = _other(rng, grid, song, chords, sevenths, full, part.name)
    quantise_to_ticks(song)
    return song


MIDI_RESOLUTION = 960
"""Ticks per beat of the written MIDI file; note times are snapped to this grid."""


def quantise_to_ticks(song: Song) -> None:
    """Snap every note to the MIDI tick grid, so the audio, the F0 files and ``song.mid``
    carry exactly the same times."""
    tick = 60.0 / (song.tempo * MIDI_RESOLUTION)
    for part in song.parts:
        snapped = []
        for n in part.notes:
            a, b = round(n.start / tick), round(n.end / tick)
            snapped.append(NoteEvent(n.pitch, a * tick, max(b, a + 1) * tick, n.velocity))
        part.notes = snapped
