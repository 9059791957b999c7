"""Build a synthetic multitrack corpus: plan the tracks, render each one, write the dataset card.

Layout (``band``, MUSDB18-HQ style)::

    OUT/README.md                       dataset card
    OUT/{train,valid,test}/<track>/
        mixture.wav vocals.wav drums.wav bass.wav other.wav   44.1 kHz stereo float32
        stems.json       parts: class (18-class vocabulary), GM program, SoundFont, effects
        f0/<stem>.csv    time (s), F0 (Hz, 0 = unvoiced) of the monophonic stems
        activations.csv  time (s) + confidence per stem (Cantisani Sec. 4, Eq. 2)
        song.mid         the notes of every part

Each track is a pure function of ``(seed, index)``: tracks are rendered in any order by any
number of worker processes and the files are byte-identical.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from separate.errors import UsageError
from separate.synth import effects
from separate.synth.compose import Part, Song, compose_band_song
from separate.synth.render import renderer
from separate.synth.singer import SingerVoice, sing
from separate.synth.soundfonts import available, drum_kits, melodic_fonts
from separate.synth.tracks import (
    SAMPLE_RATE,
    TAIL_SECONDS,
    TrackSpec,
    active_rms,
    f0_from_notes,
    publish_track,
    track_rng,
    write_f0_csv,
    write_midi,
    write_stems,
)

__all__ = ["TrackSpec", "plan_tracks", "render_track", "generate_corpus", "KINDS", "SAMPLE_RATE"]

KINDS = ("band", "ensemble", "choir")
BAND_STEMS = ("vocals", "drums", "bass", "other")
SPLITS = ("train", "valid", "test")
ACOUSTIC_KITS = ("Black_Pearl_4_LV2", "Red_Zeppelin_4_LV2")




def plan_tracks(
    hours: float,
    seed: int,
    kind: str = "band",
    track_seconds: float | None = None,
    tracks: int | None = None,
) -> list[TrackSpec]:
    """Decide the tracks of a corpus: how many, how long, which split.

    Track lengths are drawn uniformly in 20-40 s (or fixed to ``track_seconds``) until ``hours``
    are reached (or exactly ``tracks`` tracks). Splits are by song: 80 % train, 10 % valid,
    10 % test, with at least one valid and one test track when there are 3 tracks or more.

    Raises:
        UsageError: unknown kind, or nothing to render.
    """
    if kind not in KINDS:
        raise UsageError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    rng = np.random.default_rng([seed, 0xC0FFEE])
    lengths: list[float] = []
    budget = hours * 3600.0
    while (tracks is None and sum(lengths) < budget) or (tracks is not None and len(lengths)
                                                         < tracks):
        lengths.append(float(track_seconds) if track_seconds else float(rng.uniform(20, 40)))
        if len(lengths) > 1_000_000:
            raise UsageError("too many tracks")
    if not lengths:
        raise UsageError("nothing to render: give --hours > 0 or --tracks > 0")
    n = len(lengths)
    n_test = max(1, round(0.1 * n)) if n >= 3 else (1 if n == 2 else 0)
    n_valid = max(1, round(0.1 * n)) if n >= 3 else 0
    order = rng.permutation(n)
    split = ["train"] * n
    for i in order[:n_test]:
        split[i] = "test"
    for i in order[n_test:n_test + n_valid]:
        split[i] = "valid"
    return [
        TrackSpec(seed, i, kind, split[i], f"{kind}_{seed}_{i:05d}", lengths[i]) for i in range(n)
    ]




def _choose_presets(song: Song, split: str, rng: np.random.Generator) -> None:
    fonts = melodic_fonts(split)
    kits = drum_kits(split)
    test_kits = [k for k in kits if available()[k.font].test_only]
    for part in song.parts:
        if part.renderer == "singer":
            continue
        if part.is_drum:
            # The real acoustic kits (avldrums) are a third of the drums; in the test split
            # the test-only kit takes 40 %.
            acoustic = [k for k in kits if k.font in ACOUSTIC_KITS and k not in test_kits]
            u = rng.random()
            if test_kits and u < 0.4:
                pool = test_kits
            elif acoustic and u < (0.6 if test_kits else 0.33):
                pool = acoustic
            else:
                pool = [k for k in kits if k not in test_kits and k not in acoustic] or kits
            kit = pool[int(rng.integers(0, len(pool)))]
            part.font, part.bank, part.preset = kit.font, kit.bank, kit.program
        else:
            part.font = fonts[int(rng.integers(0, len(fonts)))]
            part.bank, part.preset = 0, part.program










def repair_silence(track: str | os.PathLike) -> bool:
    """Give a track rendered before the digital-silence floor (stems with a -140 dBFS residue
    where nothing plays) exact zeros there, as a fresh render would: stems, ``mixture.wav``,
    ``activations.csv`` and ``stems.json``'s ``active_fraction`` are rewritten.

    Returns:
        True when some stem changed (False: already clean, nothing written).

    Raises:
        UsageError: not a rendered track (no ``activations.csv``/``stems.json``).
    """
    folder = Path(track)
    try:
        names = (folder / "activations.csv").read_text().splitlines()[0].split(",")[1:]
        meta = json.loads((folder / "stems.json").read_text())
        stack = np.stack([sf.read(str(folder / f"{n}.wav"), dtype="float32",
                                  always_2d=True)[0].T for n in names])
    except (OSError, IndexError, ValueError, sf.LibsndfileError) as exc:
        raise UsageError(f"{folder}: not a rendered track ({exc})") from None
    before = stack.copy()
    if np.array_equal(effects.digital_silence(stack), before):
        return False
    conf = write_stems(folder, names, before)
    meta["active_fraction"] = {n: round(float((c >= 0.5).mean()), 4)
                               for n, c in zip(names, conf, strict=True)}
    (folder / "stems.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return True








def _render_part(part: Part, num_samples: int, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                                  dict]:
    """Render one part to stereo float32 ``[2, time]`` (before effects) and describe it."""
    info: dict = {"part": part.name, "class": part.instrument_class, "renderer": part.renderer}
    if part.renderer == "singer":
        voice = SingerVoice.random(rng, part.voice or "tenor")
        mono, f0_t, f0 = sing(part.notes, num_samples, SAMPLE_RATE, rng, voice)
        info.update({"voice": voice.voice, "program": None, "soundfont": None,
                     "singer": {k: (round(v, 4) if isinstance(v, float) else v)
                                for k, v in voice.__dict__.items()}})
        audio = np.empty((2, len(mono)), dtype=np.float32)
        audio[:] = mono
        info["_f0"] = (f0_t, f0)
        return audio, info
    r = renderer(SAMPLE_RATE)
    channel = 9 if (part.is_drum and part.bank == 128) else 0
    audio = r.render(part.notes, part.font, part.bank, part.preset, num_samples, channel)
    if np.abs(audio).max() < 1e-5 and part.notes and part.font != "FluidR3_GM":
        # A preset that does not sound (missing in this font): fall back to FluidR3_GM.
        part.font = "FluidR3_GM"
        audio = r.render(part.notes, part.font, part.bank, part.preset, num_samples, channel)
    info.update({"program": part.program, "soundfont": part.font, "bank": part.bank,
                 "preset": part.preset, "preset_name": r.preset_name(part.font, part.bank,
                                                                      part.preset)})
    return audio, info




def render_track(spec: TrackSpec, out_root: str | os.PathLike) -> dict:
    """Render one track into ``out_root/<split>/<name>/`` (written to a temporary folder, then
    renamed). Returns its summary (durations per stem and class, SoundFonts) for the card.
    """
    if spec.kind != "band":
        from separate.synth.chorale import render_chorale_track

        return render_chorale_track(spec, out_root)
    out_root = Path(out_root)
    final = out_root / spec.split / spec.name
    tmp = out_root / spec.split / f".{spec.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "f0").mkdir(parents=True)

    song = compose_band_song(track_rng(spec, 1), spec.seconds, test_split=spec.split == "test")
    _choose_presets(song, spec.split, track_rng(spec, 2))
    fx_rng = track_rng(spec, 3)
    num = int(round((song.duration + TAIL_SECONDS) * SAMPLE_RATE))
    stems = {s: np.zeros((2, num), dtype=np.float32) for s in BAND_STEMS}
    parts_info = []
    f0_tracks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    part_rngs = {p.name: np.random.default_rng([spec.seed, spec.index, 10 + i])
                 for i, p in enumerate(song.parts)}
    for part in song.parts:
        audio, info = _render_part(part, num, part_rngs[part.name])
        if "_f0" in info:
            f0_tracks[part.stem] = info.pop("_f0")
        elif part.monophonic and part.stem in ("bass",):
            f0_tracks[part.stem] = f0_from_notes(part.notes, num / SAMPLE_RATE)
        level = active_rms(audio)
        if level > 0:
            audio *= np.float32(0.1 / level)  # -20 dBFS while playing
        audio, eq = effects.random_eq(audio, SAMPLE_RATE, fx_rng)
        position = float(np.clip(fx_rng.normal(0, 0.2 if part.stem in ("vocals", "bass",
                                                                    "drums") else 0.5), -1, 1))
        gain_db = float(fx_rng.uniform(-4, 2)) - (3 if part.stem == "other" else 0)
        audio = effects.pan(audio, position, effects.db_to_gain(gain_db))
        info.update(eq)
        info.update({"pan": round(position, 3), "gain_db": round(gain_db, 2),
                     "notes": len(part.notes), "monophonic": part.monophonic})
        stems[part.stem] += audio
        parts_info.append((part.stem, info))
    # Two rooms per song; each stem is sent to one of them at its own level.
    rooms = [effects.Room(fx_rng, SAMPLE_RATE, num) for _ in range(2)]
    stem_fx = {}
    for s in BAND_STEMS:
        r = int(fx_rng.integers(0, 2))
        wet_db = float(fx_rng.uniform(-24, -8))
        stems[s] = rooms[r].apply(stems[s], wet_db)
        g = float(fx_rng.uniform(-3, 3)) + (2 if s == "vocals" else 0)
        stems[s] *= np.float32(effects.db_to_gain(g))
        stem_fx[s] = {"reverb": {"room": r, **rooms[r].describe(), "wet_db": round(wet_db, 2)},
                      "stem_gain_db": round(g, 2)}
    stack = np.stack([stems[s] for s in BAND_STEMS]).astype(np.float32)
    mix = stack.sum(axis=0)
    peak = float(np.abs(mix).max())
    target = float(fx_rng.uniform(0.5, 0.95))
    scale = np.float32(target / peak) if peak > 0 else np.float32(1)
    stack = stack * scale
    conf = write_stems(tmp, list(BAND_STEMS), stack)
    for s, (t, f) in f0_tracks.items():
        write_f0_csv(tmp / "f0" / f"{s}.csv", t, f)
    write_midi(tmp / "song.mid", song)

    meta = {
        "track": spec.name,
        "split": spec.split,
        "kind": spec.kind,
        "sample_rate": SAMPLE_RATE,
        "seconds": round(num / SAMPLE_RATE, 4),
        "tempo": round(song.tempo, 3),
        "key": song.key,
        "mode": song.mode,
        "groove": song.style,
        "sections": [{"name": x.name, "start": round(x.start_bar * song.bar_seconds, 4),
                      "end": round((x.start_bar + x.bars) * song.bar_seconds, 4)}
                     for x in song.sections],
        "stems": {s: {"parts": [i for st, i in parts_info if st == s], **stem_fx[s]}
                  for s in BAND_STEMS},
        "f0": sorted(f0_tracks),
        "active_fraction": {s: round(float((c >= 0.5).mean()), 4)
                            for s, c in zip(BAND_STEMS, conf, strict=False)},
    }
    publish_track(tmp, final, meta)
    return {
        "name": spec.name,
        "split": spec.split,
        "seconds": meta["seconds"],
        "stems": {s: meta["seconds"] * meta["active_fraction"][s] for s in BAND_STEMS},
        "classes": [(i["class"], i.get("soundfont"),
                     meta["seconds"] * meta["active_fraction"][st]) for st, i in parts_info],
    }


def _worker(args: tuple[TrackSpec, str]) -> dict:
    return render_track(*args)


def generate_corpus(
    out: str | os.PathLike,
    hours: float,
    seed: int,
    kind: str = "band",
    jobs: int = 1,
    track_seconds: float | None = None,
    tracks: int | None = None,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Render a corpus into ``out`` and write its dataset card ``out/README.md``.

    Args:
        out: output folder (created; existing tracks of the same names are replaced).
        hours: total length to render (h), ignored when ``tracks`` is given.
        seed: the corpus seed; the same seed gives byte-identical files.
        kind: ``band``, ``ensemble`` or ``choir``.
        jobs: worker processes.
        track_seconds: fixed track length (s) instead of 20-40 s (for tiny test corpora).
        tracks: render exactly this many tracks.
        progress: called with each finished track's summary.

    Returns:
        the summaries of the tracks, in track order.

    Raises:
        UsageError: bad arguments, output not writable, SoundFonts missing.
    """
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    available()  # fail early when no SoundFont is installed
    specs = plan_tracks(hours, seed, kind, track_seconds, tracks)
    out = Path(out)
    try:
        for s in SPLITS:
            (out / s).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out}: {exc}") from exc
    results: list[dict] = []
    args = [(s, str(out)) for s in specs]
    if jobs == 1:
        for a in args:
            results.append(_worker(a))
            if progress:
                progress(results[-1])
    else:
        ctx = mp.get_context("fork" if hasattr(os, "fork") else "spawn")
        with ctx.Pool(jobs) as pool:
            for res in pool.imap(_worker, args, chunksize=1):
                results.append(res)
                if progress:
                    progress(res)
    from separate.synth.card import write_card

    write_card(out, kind, seed, results)
    return results
