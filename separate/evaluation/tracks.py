"""Finding what to evaluate: folders in MUSDB18-HQ layout, a MUSDB root, or one pair of files.

* **folders**: ``ESTIMATES/<track>/<stem>.<ext>`` against ``REFERENCES/<track>/<stem>.<ext>``
  (MUSDB18-HQ: ``mixture, drums, bass, other, vocals``), tracks and stems matched by name; a
  ``test``/``train`` level under either root is looked through. If ``ESTIMATES`` itself holds
  audio files it is one track. A missing ``accompaniment`` reference is the sum of the
  non-vocal stems, as musdb defines it.
* **musdb**: ``musdb.DB(root, subsets=...)`` (stem.mp4 or HQ wav, detected), estimates under
  ``ESTIMATES/[<subset>/]<track>/``.
* **pair**: ``ESTIMATE`` and ``REFERENCE`` are files: one source, named by the reference's stem.

Each job is loaded lazily (:meth:`EvalJob.load`), so ``--jobs N`` workers read their own audio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from separate.errors import InputError, UsageError

AUDIO_EXTS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".m4a", ".mp4")
IGNORED_STEMS = ("mixture", "mix", "linear_mixture")
MUSDB_ACCOMPANIMENT = ("drums", "bass", "other")
MUSDB_ORDER = ("vocals", "drums", "bass", "other", "accompaniment")


def _read(path: Path) -> tuple[np.ndarray, int]:
    from separate.audio.io import read_audio

    return read_audio(path)


def _stem_name(p: Path) -> str:
    name = p.name
    for ext in (".stem.mp4",):
        if name.endswith(ext):
            return name[: -len(ext)]
    return p.stem


def audio_files(folder: Path) -> dict[str, Path]:
    """``{stem name: path}`` of the audio files directly in ``folder`` (mixtures left out),
    MUSDB's stems first in MUSDB's order (vocals, drums, bass, other, accompaniment)."""
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in AUDIO_EXTS and not p.name.startswith("."):
            name = _stem_name(p)
            if name.lower() not in IGNORED_STEMS:
                out.setdefault(name, p)
    order = {s: i for i, s in enumerate(MUSDB_ORDER)}
    return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


@dataclass
class EvalJob:
    """One track to evaluate: where its estimates and references come from.

    Attributes:
        name: track name.
        estimates: ``{source: path}``.
        references: ``{source: path}`` (or empty when ``loader`` is given).
        loader: callable ``loader(wanted_sources)`` returning ``({source: [ch, time]},
            sample_rate)`` references (musdb mode).
    """

    name: str
    estimates: dict[str, Path]
    references: dict[str, Path] = field(default_factory=dict)
    loader: Callable[[list[str]], tuple[dict[str, np.ndarray], int]] | None = None

    def load(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], int]:
        """``(estimates, references, sample_rate)``, arrays ``[channels, time]``.

        Raises:
            InputError: unreadable audio or sample rates that differ.
        """
        if self.loader is not None:
            refs, sr = self.loader(list(self.estimates))
        else:
            refs, sr = {}, None
            for s, p in self.references.items():
                a, r = _read(p)
                if sr is not None and r != sr:
                    raise InputError(p, f"sample rate {r} Hz differs from the other stems ({sr})")
                refs[s], sr = a, r
            if "accompaniment" in self.estimates and "accompaniment" not in refs:
                if all(s in refs for s in MUSDB_ACCOMPANIMENT):
                    refs["accompaniment"] = sum(refs[s] for s in MUSDB_ACCOMPANIMENT)
        ests = {}
        for s, p in self.estimates.items():
            if s not in refs:
                continue
            a, r = _read(p)
            if r != sr:
                raise InputError(p, f"sample rate {r} Hz, but the references are at {sr} Hz")
            ests[s] = a
        return ests, refs, int(sr)


def _track_dirs(root: Path) -> dict[str, Path]:
    """Track folders under ``root`` (or under ``root/test``, ``root/train``)."""
    out: dict[str, Path] = {}
    for sub in (root, root / "test", root / "train"):
        if sub.is_dir():
            for d in sorted(sub.iterdir()):
                if d.is_dir() and d.name not in ("test", "train") and audio_files(d):
                    out.setdefault(d.name, d)
    return out


def folder_jobs(estimates: Path, references: Path) -> list[EvalJob]:
    """Jobs for an estimates folder against a references folder (see the module doc).

    Raises:
        UsageError: a path is missing, or no track/stem matches.
    """
    if not estimates.exists():
        raise UsageError(f"estimates not found: {estimates}")
    if not references.exists():
        raise UsageError(f"references not found: {references}")
    if estimates.is_file() or references.is_file():
        if not (estimates.is_file() and references.is_file()):
            raise UsageError("give two files, or two folders, not one of each")
        name = _stem_name(references)
        return [EvalJob(name, {name: estimates}, {name: references})]
    if audio_files(estimates):  # one track folder
        ref_dir = references
        if not audio_files(references):
            cand = _track_dirs(references).get(estimates.name)
            if cand is None:
                raise UsageError(f"no reference track '{estimates.name}' in {references}")
            ref_dir = cand
        return [EvalJob(estimates.name, audio_files(estimates), audio_files(ref_dir))]
    est_tracks = _track_dirs(estimates)
    ref_tracks = _track_dirs(references)
    names = [n for n in est_tracks if n in ref_tracks]
    if not names:
        raise UsageError(
            f"no track folder of {estimates} has a namesake in {references} "
            f"({len(est_tracks)} estimate tracks, {len(ref_tracks)} reference tracks)"
        )
    return [
        EvalJob(n, audio_files(est_tracks[n]), audio_files(ref_tracks[n])) for n in names
    ]


def musdb_jobs(estimates: Path, root: Path, subset: str = "test") -> list[EvalJob]:
    """Jobs for MUSDB18 (stem.mp4) or MUSDB18-HQ (wav) at ``root`` through the musdb package.

    Raises:
        UsageError: no track of the subset has estimates.
    """
    import musdb

    if not root.is_dir():
        raise UsageError(f"MUSDB root not found: {root}")
    is_wav = not any((root / subset).glob("*.stem.mp4"))
    db = musdb.DB(root=str(root), subsets=subset, is_wav=is_wav)
    jobs = []
    for i, track in enumerate(db.tracks):
        for d in (estimates / subset / track.name, estimates / track.name):
            if d.is_dir() and audio_files(d):
                jobs.append(EvalJob(track.name, audio_files(d), loader=_MusdbLoader(
                    str(root), subset, is_wav, i)))
                break
    if not jobs:
        raise UsageError(
            f"none of the {len(db.tracks)} '{subset}' tracks of {root} has estimates in "
            f"{estimates} (expected {estimates}/<track>/<target>.wav)"
        )
    return jobs


class _MusdbLoader:
    """Picklable reference loader for one musdb track (``track.targets[name].audio``)."""

    def __init__(self, root: str, subset: str, is_wav: bool, index: int):
        self.root, self.subset, self.is_wav, self.index = root, subset, is_wav, index

    def __call__(self, wanted: list[str]) -> tuple[dict[str, np.ndarray], int]:
        import musdb

        db = musdb.DB(root=self.root, subsets=self.subset, is_wav=self.is_wav)
        track = db.tracks[self.index]
        # track.targets order, as museval.eval_mus_track builds its groups
        refs = {n: np.asarray(t.audio).T for n, t in track.targets.items() if n in wanted}
        return refs, int(track.rate)


def describe(jobs: list[EvalJob]) -> str:
    """One line: how many tracks and which stems."""
    stems = sorted({s for j in jobs for s in j.estimates})
    return f"{len(jobs)} track(s), stems: {', '.join(stems)}"



@dataclass
class EvalOptions:
    """Options of :func:`separate.evaluation.evaluate` shared by every track (picklable)."""

    win: float = 1.0
    hop: float = 1.0
    fast: bool = False
    mode: str = "v4"
    bss: bool = True
    sisdr: bool = True
    skip_silent: bool = False
    silence_threshold: float = 10.0
    activations: str | None = None  # a file (one track) or a folder of <track>.<ext>


def _activations_for(opts: EvalOptions, track: str) -> str | None:
    if opts.activations is None:
        return None
    p = Path(opts.activations)
    if p.is_dir():
        for f in sorted(p.iterdir()):
            if f.is_file() and f.stem == track:
                return str(f)
        return None
    return str(p)


def run_job(job: EvalJob, opts: EvalOptions):
    """Load and evaluate one job → :class:`separate.evaluation.TrackScores`."""
    from separate.evaluation.core import evaluate

    ests, refs, sr = job.load()
    return evaluate(
        ests,
        refs,
        sr,
        name=job.name,
        win=opts.win,
        hop=opts.hop,
        fast=opts.fast,
        mode=opts.mode,
        bss=opts.bss,
        sisdr=opts.sisdr,
        activations=_activations_for(opts, job.name),
        skip_silent=opts.skip_silent,
        silence_threshold=opts.silence_threshold,
    )


def evaluate_jobs(
    jobs: list[EvalJob],
    opts: EvalOptions,
    workers: int = 1,
    on_done: Callable[[EvalJob, object], None] | None = None,
) -> tuple[list, list[tuple[EvalJob, Exception]]]:
    """Evaluate jobs, ``workers`` processes at a time.

    Returns:
        ``(scores in job order, [(job, InputError)])``: a track that fails (unreadable file,
        mismatched rate, ...) is reported and the others go on.
    """
    from separate.errors import SeparateError

    results: dict[int, object] = {}
    failed: list[tuple[EvalJob, Exception]] = []
    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            try:
                results[i] = run_job(job, opts)
            except SeparateError as exc:
                failed.append((job, exc))
            if on_done:
                on_done(job, results.get(i))
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers) as pool:
            futs = {pool.submit(run_job, job, opts): i for i, job in enumerate(jobs)}
            for fut in as_completed(futs):
                i = futs[fut]
                try:
                    results[i] = fut.result()
                except SeparateError as exc:
                    failed.append((jobs[i], exc))
                if on_done:
                    on_done(jobs[i], results.get(i))
    return [results[i] for i in sorted(results)], failed
