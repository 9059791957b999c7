"""The SoundFonts the corpus is rendered with, where Debian installs them, and their licences.

Melodic parts pick a melodic SoundFont at random; drum parts pick one of the drum kits (the GM
kits of bank 128 of the melodic fonts, or the real acoustic kits of avldrums). One SoundFont,
the *Red Zeppelin* acoustic kit, is used only in the test split, so generalisation to an unseen
kit can be measured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from separate.errors import UsageError

__all__ = ["SoundFont", "SOUNDFONTS", "available", "melodic_fonts", "drum_kits", "DrumKit"]


@dataclass(frozen=True)
class SoundFont:
    """One SoundFont file.

    Args:
        key: short name used in stems.json and the dataset card.
        paths: candidate locations, first existing wins.
        licence: licence of the samples.
        package: the Debian package that installs it.
        melodic: has the 128 GM melodic presets in bank 0.
        drum_presets: drum kit presets as (bank, program) pairs.
        test_only: used only in the test split.
    """

    key: str
    paths: tuple[str, ...]
    licence: str
    package: str
    melodic: bool
    drum_presets: tuple[tuple[int, int], ...]
    test_only: bool = False

    @property
    def path(self) -> str | None:
        """The first existing candidate path, or None."""
        for p in self.paths:
            if os.path.exists(p):
                return p
        return None


_GM_KITS = ((128, 0), (128, 8), (128, 16), (128, 24), (128, 25), (128, 32), (128, 40))

SOUNDFONTS: tuple[SoundFont, ...] = (
    SoundFont(
        "FluidR3_GM",
        ("/usr/share/sounds/sf2/FluidR3_GM.sf2",),
        "MIT",
        "fluid-soundfont-gm",
        True,
        _GM_KITS,
    ),
    SoundFont(
        "MuseScore_General",
        (
            "/usr/share/sounds/sf3/MuseScore_General_Full.sf3",
            "/usr/share/sounds/sf3/MuseScore_General.sf3",
        ),
        "MIT",
        "musescore-general-soundfont",
        True,
        _GM_KITS,
    ),
    SoundFont(
        "Black_Pearl_4_LV2",
        (
            "/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2",
            "/usr/lib/lv2/avldrums.lv2/Black_Pearl_4_LV2.sf2",
        ),
        "CC-BY-SA-3.0",
        "avldrums.lv2-soundfont",
        False,
        ((0, 0),),
    ),
    SoundFont(
        "Red_Zeppelin_4_LV2",
        (
            "/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2",
            "/usr/lib/lv2/avldrums.lv2/Red_Zeppelin_4_LV2.sf2",
        ),
        "CC-BY-SA-3.0",
        "avldrums.lv2-soundfont",
        False,
        ((0, 0),),
        test_only=True,
    ),
)


@dataclass(frozen=True)
class DrumKit:
    """A drum kit preset: SoundFont key, bank and program."""

    font: str
    bank: int
    program: int


def available() -> dict[str, SoundFont]:
    """The SoundFonts present on this machine, by key.

    Raises:
        UsageError: no melodic SoundFont is installed (tells which Debian packages to install).
    """
    found = {sf.key: sf for sf in SOUNDFONTS if sf.path is not None}
    if not any(sf.melodic for sf in found.values()):
        raise UsageError(
            "no General MIDI SoundFont found; install the Debian packages fluid-soundfont-gm "
            "musescore-general-soundfont avldrums.lv2-soundfont"
        )
    return found


def melodic_fonts(split: str) -> list[str]:
    """Keys of the melodic SoundFonts allowed in ``split`` (sorted, deterministic)."""
    return sorted(
        k for k, sf in available().items() if sf.melodic and (split == "test" or not sf.test_only)
    )


def drum_kits(split: str) -> list[DrumKit]:
    """Drum kits allowed in ``split``; the test-only kits are listed only for ``"test"``."""
    kits = []
    for k, sf in sorted(available().items()):
        if sf.test_only and split != "test":
            continue
        for bank, prog in sf.drum_presets:
            kits.append(DrumKit(k, bank, prog))
    return kits


def font_path(key: str) -> Path:
    """Path of the SoundFont ``key``.

    Raises:
        UsageError: it is not installed.
    """
    sf = available().get(key)
    if sf is None or sf.path is None:
        raise UsageError(f"SoundFont {key} is not installed")
    return Path(sf.path)
