"""Separating many files: :func:`separate_many` (the library behind ``separate split``).

Inputs are expanded (files, folders searched recursively, glob patterns), optionally cut to one
shard, and separated one by one or on a thread pool. A bad input never stops the batch: it
becomes a ``failed`` entry with a one-line message naming the file. The result is a
:class:`BatchReport` (``report.to_dict()`` is the CLI's ``--json`` summary).

Example::

    from separate.batch import separate_many

    report = separate_many(["album/"], "stems", model="default", jobs=2)
    print(report.separated, report.failed)
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from separate.audio.io import (
    DEFAULT_FILENAME,
    AudioInfo,
    audio_info,
    check_output_dir,
    find_audio_files,
    output_subtype,
    track_name,
)
from separate.errors import InputError, SeparateError, UsageError
from separate.progress import ProgressCallback, ProgressEvent

if TYPE_CHECKING:  # torch is imported only when a batch runs: argument errors come fast
    from separate.separation import Separator


@dataclass
class FileReport:
    """One input of a batch.

    Attributes:
        input: the input as found (a path, or the pattern/folder that failed to expand).
        status: ``"ok"``, ``"skipped"`` (stems existed) or ``"failed"``.
        outputs: ``{stem: path}`` written.
        duration: seconds of audio; seconds: wall time (s).
        error: the one-line problem when failed.
        warnings: one-line warnings (e.g. clipping).
    """

    input: str
    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0
    seconds: float = 0.0
    error: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def realtime_factor(self) -> float | None:
        """Seconds of audio per second of wall time (``None`` if nothing was separated)."""
        return self.duration / self.seconds if self.outputs and self.seconds > 0 else None

    def to_dict(self) -> dict[str, Any]:
        if self.status == "failed":
            return {"input": self.input, "status": "failed", "error": self.error}
        rtf = self.realtime_factor
        d: dict[str, Any] = {"input": self.input, "status": self.status,
                             "outputs": dict(self.outputs), "duration": round(self.duration, 3),
                             "seconds": round(self.seconds, 3),
                             "realtime_factor": round(rtf, 2) if rtf is not None else None}
        if self.warnings:
            d["warnings"] = list(self.warnings)
        return d


@dataclass
class BatchReport:
    """What :func:`separate_many` did: one :class:`FileReport` per input, in input order
    (expansion failures last)."""

    model: str
    out: str
    files: list[FileReport] = field(default_factory=list)

    def _with(self, status: str) -> list[FileReport]:
        return [f for f in self.files if f.status == status]

    @property
    def separated(self) -> int:
        return len(self._with("ok"))

    @property
    def failed(self) -> int:
        return len(self._with("failed"))

    @property
    def skipped(self) -> int:
        return len(self._with("skipped"))

    @property
    def audio_seconds(self) -> float:
        return sum(f.duration for f in self._with("ok"))

    @property
    def seconds(self) -> float:
        return sum(f.seconds for f in self._with("ok"))

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` summary."""
        spent = self.seconds
        return {"model": self.model, "out": self.out,
                "files": [f.to_dict() for f in self.files], "separated": self.separated,
                "failed": self.failed, "skipped": self.skipped,
                "audio_seconds": round(self.audio_seconds, 3), "seconds": round(spent, 3),
                "realtime_factor": round(self.audio_seconds / spent, 2) if spent else None}


def shard_of(path: Path, num_shards: int) -> int:
    """Deterministic shard (``0 .. num_shards-1``) of a file, from a hash of its name and its
    parent folder's name: the same file always lands in the same shard, however many other files
    the catalogue holds or in what order they are listed."""
    key = f"{path.parent.name}/{path.name}".encode()
    return int.from_bytes(hashlib.sha1(key).digest()[:8], "big") % num_shards


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"K/N"`` (or ``(K, N)``) → ``(K, N)`` with ``0 <= K < N``; ``None`` stays ``None``.

    Raises:
        UsageError: malformed or out of range.
    """
    if shard is None:
        return None
    if isinstance(shard, tuple):
        k, n = shard
    else:
        try:
            k, n = (int(v) for v in shard.split("/"))
        except ValueError:
            raise UsageError(f"--shard {shard!r}: expected K/N, e.g. 0/4") from None
    if n < 1 or not 0 <= k < n:
        raise UsageError(f"--shard {shard!r}: need 0 <= K < N")
    return k, n


def expand_inputs(inputs: Sequence[str | os.PathLike[str]]
                  ) -> tuple[list[Path], list[FileReport]]:
    """Files, folders and globs → ``(audio files, failed entries)``: an input that matches
    nothing becomes a failed :class:`FileReport` instead of stopping the others."""
    files: list[Path] = []
    failures: list[FileReport] = []
    for item in inputs:
        try:
            files.extend(find_audio_files([str(item)]))
        except InputError as exc:
            failures.append(FileReport(str(exc.path), "failed", error=exc.problem))
    seen: set[Path] = set()
    unique = [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]
    return unique, failures


def check_distinct_outputs(files: Sequence[Path], out: Path, filename: str = DEFAULT_FILENAME,
                           fmt: str = "wav") -> None:
    """Refuse, before any work, a batch in which two distinct inputs would write the same
    outputs (``a/song.flac`` and ``b/song.flac`` both → ``out/song/``): the second would
    silently overwrite the first.

    Raises:
        UsageError: names both inputs and the shared output.
    """
    seen: dict[str, Path] = {}
    for f in files:
        try:
            key = filename.format(track=track_name(f), stem="\0", ext=fmt)
        except (KeyError, IndexError, ValueError):
            return  # a bad template is reported by separate_file, with its own message
        other = seen.setdefault(key, f)
        if other != f and other.resolve() != f.resolve():
            shared = out / key.split("\0")[0] if "\0" in key else out / key
            raise UsageError(f"{other} and {f} would both write {shared}* (same track name); "
                             "rename one, or separate them in two runs with different -o")


def separate_many(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str] = "separated",
    model: str | os.PathLike[str] | Separator | None = None,
    *,
    stems: str | None = None,
    residual: bool = True,
    fmt: str = "wav",
    bit_depth: str | None = None,
    filename: str = DEFAULT_FILENAME,
    jobs: int = 1,
    shard: str | tuple[int, int] | None = None,
    skip_existing: bool = False,
    downmix: bool = False,
    device: str = "auto",
    segment: float | None = None,
    overlap: float | None = None,
    batch_size: int | None = None,
    on_progress: ProgressCallback | None = None,
    on_file: Callable[[FileReport], None] | None = None,
) -> BatchReport:
    """Separate many files into stems, collecting per-file failures.

    Args:
        inputs: files, folders (searched recursively for audio files) and glob patterns.
        out_dir: output root (created; checked writable before any work).
        model: a registry name / card path (``None``: ``default``), or a ready
            :class:`Separator` (then ``device``, ``segment``, ``overlap``, ``batch_size`` are
            ignored).
        stems, residual, fmt, bit_depth, filename, skip_existing, downmix: as
            :meth:`Separator.separate_file`.
        jobs: files separated at once (threads sharing the model).
        shard: ``"K/N"``: only the files with :func:`shard_of` ``== K``.
        device, segment, overlap, batch_size: engine settings (as :class:`Separator`).
        on_progress: receives ``ProgressEvent("tracks", files done, files)`` and each file's
            ``"chunks"`` events (``key`` = the file).
        on_file: called with each file's :class:`FileReport` as it completes (expansion
            failures first).

    Returns:
        A :class:`BatchReport`.

    Raises:
        UsageError: bad options, unwritable output folder, nothing to separate, two inputs
            that would write the same outputs, a model that cannot be loaded. Problems with
            single inputs are reported, not raised.
    """
    if fmt is not None:
        try:
            output_subtype(fmt, bit_depth or "16")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    shard_kn = parse_shard(shard)
    files, failures = expand_inputs(inputs)
    for f in failures:
        if on_file is not None:
            on_file(f)
    if shard_kn is not None:
        files = [f for f in files if shard_of(f, shard_kn[1]) == shard_kn[0]]
    if not files and failures:
        raise UsageError("nothing to separate")
    out = Path(out_dir)
    check_distinct_outputs(files, out, filename, fmt)
    check_output_dir(out)
    # every input is opened (existence, type, decodable header, length) before the model
    # loads: a batch of bad files fails in a fraction of a second, a good one goes on past them
    reports: dict[int, FileReport] = {}
    infos: dict[int, AudioInfo] = {}
    for i, path in enumerate(files):
        try:
            infos[i] = audio_info(path)
        except InputError as exc:
            reports[i] = FileReport(str(path), "failed", error=exc.problem)
            if on_file is not None:
                on_file(reports[i])
    if not infos:
        report = BatchReport(str(model or ""), str(out))
        report.files = [reports[i] for i in range(len(files))] + failures
        return report
    from separate.separation import DEFAULT_MODEL, Separator

    model = DEFAULT_MODEL if model is None else model
    if isinstance(model, Separator):
        separator, model_name = model, getattr(getattr(model.model, "card", None), "name", "")
    else:
        separator = Separator(model, device=device, segment=segment, overlap=overlap,
                              batch_size=batch_size)
        model_name = str(model)
    lock = threading.Lock()

    def emit(event: ProgressEvent) -> None:
        if on_progress is not None:
            with lock:
                on_progress(event)

    emit(ProgressEvent("tracks", 0, len(files), "files"))
    if reports:  # inputs that did not open count as done
        emit(ProgressEvent("tracks", len(reports), len(files), "files"))

    def run_one(i: int) -> None:
        path = files[i]
        try:
            res = separator.separate_file(
                path, out, stems=stems, residual=residual, fmt=fmt, bit_depth=bit_depth,
                filename=filename, skip_existing=skip_existing, downmix=downmix,
                on_progress=emit, info=infos[i])
            rep = FileReport(str(path), "skipped" if res.skipped else "ok",
                             {k: str(v) for k, v in res.outputs.items()}, res.duration,
                             res.seconds, warnings=list(res.warnings))
        except SeparateError as exc:
            if isinstance(exc, UsageError):
                raise
            problem = exc.problem if isinstance(exc, InputError) else str(exc)
            rep = FileReport(str(path), "failed", error=problem)
        except Exception as exc:  # a bug on one file must not cost the rest of the batch
            rep = FileReport(str(path), "failed",
                             error=f"unexpected {type(exc).__name__}: {exc}")
        with lock:
            reports[i] = rep
            n = len(reports)
            if on_file is not None:
                on_file(rep)
            if on_progress is not None:
                on_progress(ProgressEvent("tracks", n, len(files), "files"))

    todo = sorted(infos)  # the inputs that opened
    if jobs == 1:
        for i in todo:
            run_one(i)
    else:
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(run_one, todo))
    report = BatchReport(model_name, str(out))
    report.files = [reports[i] for i in range(len(files))] + failures
    return report
