"""The 18-class instrument vocabulary and the General MIDI program → class map.

Source: Wang, Stoller, Bittner, Bello, *Few-shot musical source separation* (ICASSP 2022),
Sec. 2.1: the class-conditioned baseline uses an 18-dimensional one-hot vector; "the y-axis in
Figure 2 shows 14 of these instrument classes, and the remaining 4 are *mallets*, *pipe organ*,
*bagpipes*, and *whistling*". The text also names *vocals*, *drums*, *bass* (MUSDB18, Sec. 3.2),
*guitars* and *synthesizers* (D_real, Sec. 3.1), *keyboards*, *woodwinds* and *accordion*
(Sec. 4.1). Figure 2 itself is not in the text we have, so the last six entries below
(piano, strings, brass, percussion, plucked strings, harmonica) are our completion of the list
to 18 with the remaining instrument families of General MIDI; they are marked in
:data:`NAMED_IN_PAPER`.
"""

from __future__ import annotations

__all__ = [
    "CLASSES",
    "NAMED_IN_PAPER",
    "TEST_ONLY_CLASSES",
    "TEST_ONLY_PROGRAMS",
    "gm_class",
    "DRUMS_PROGRAM",
]

CLASSES: tuple[str, ...] = (
    "vocals",
    "drums",
    "bass",
    "guitar",
    "synthesizer",
    "keyboards",
    "woodwinds",
    "accordion",
    "mallets",
    "pipe organ",
    "bagpipes",
    "whistling",
    # our completion (Figure 2 of Wang et al. is not in the text copy):
    "piano",
    "strings",
    "brass",
    "percussion",
    "plucked strings",
    "harmonica",
)
"""The 18 instrument classes (Wang et al. 2022, Sec. 2.1; see the module docstring)."""

NAMED_IN_PAPER: frozenset[str] = frozenset(CLASSES[:12])
"""Classes named in the text of Wang et al. (the rest complete the list to 18)."""

DRUMS_PROGRAM = -1
"""Pseudo program number used for drum kits (GM channel 10) in stems.json and the class map."""

# General MIDI program (0-127) -> class. Sound effects (120-127) have no class.
_GM: dict[int, str] = {}
for _p in range(0, 4):
    _GM[_p] = "piano"  # acoustic grand, bright, electric grand, honky-tonk
for _p in range(4, 8):
    _GM[_p] = "keyboards"  # electric pianos, harpsichord, clavinet
for _p in range(8, 16):
    _GM[_p] = "mallets"  # celesta .. dulcimer
_GM[15] = "plucked strings"  # dulcimer
for _p in (16, 17, 18, 20):
    _GM[_p] = "keyboards"  # drawbar/percussive/rock organ, reed organ
_GM[19] = "pipe organ"  # church organ
_GM[21] = "accordion"
_GM[22] = "harmonica"
_GM[23] = "accordion"  # tango accordion
for _p in range(24, 32):
    _GM[_p] = "guitar"
for _p in range(32, 40):
    _GM[_p] = "bass"
for _p in range(40, 46):
    _GM[_p] = "strings"  # violin, viola, cello, contrabass, tremolo, pizzicato
_GM[46] = "plucked strings"  # harp
_GM[47] = "percussion"  # timpani
for _p in range(48, 52):
    _GM[_p] = "strings"  # ensembles, synth strings
for _p in range(52, 55):
    _GM[_p] = "vocals"  # choir aahs, voice oohs, synth voice
_GM[55] = "synthesizer"  # orchestra hit
for _p in range(56, 64):
    _GM[_p] = "brass"
for _p in range(64, 72):
    _GM[_p] = "woodwinds"  # saxophones, oboe, english horn, bassoon, clarinet
for _p in range(72, 80):
    _GM[_p] = "woodwinds"  # piccolo, flute, recorder, pan flute, bottle, shakuhachi, ocarina
_GM[78] = "whistling"  # whistle
for _p in range(80, 104):
    _GM[_p] = "synthesizer"  # leads, pads, effects
for _p in range(104, 108):
    _GM[_p] = "plucked strings"  # sitar, banjo, shamisen, koto
_GM[108] = "mallets"  # kalimba
_GM[109] = "bagpipes"
_GM[110] = "strings"  # fiddle
_GM[111] = "woodwinds"  # shanai
_GM[112] = "mallets"  # tinkle bell
_GM[113] = "percussion"  # agogo
_GM[114] = "mallets"  # steel drums
for _p in range(115, 120):
    _GM[_p] = "percussion"  # woodblock, taiko, melodic tom, synth drum, reverse cymbal

TEST_ONLY_CLASSES: frozenset[str] = frozenset({"accordion", "bagpipes", "whistling", "harmonica"})
"""Classes whose every program is held out of the train and valid splits (unseen classes)."""

TEST_ONLY_PROGRAMS: frozenset[int] = frozenset(
    {p for p, c in _GM.items() if c in TEST_ONLY_CLASSES} | {104, 105}  # + sitar, banjo
)
"""GM programs used only in the test split (all of the test-only classes, plus sitar and banjo
inside the seen class *plucked strings*)."""


def gm_class(program: int, is_drum: bool = False) -> str | None:
    """Instrument class of a General MIDI program (0-127), ``"drums"`` for a drum kit.

    Returns None for the sound-effect programs 120-127.

    Raises:
        ValueError: a program outside 0-127.
    """
    if is_drum or program == DRUMS_PROGRAM:
        return "drums"
    if not 0 <= program <= 127:
        raise ValueError(f"GM program must be in 0..127, got {program}")
    return _GM.get(program)
