"""Golden numbers: museval's regression JSON and mir_eval's BSS Eval test vectors.

museval's golden (``bsseval-golden/museval``) comes from ``museval.eval_mus_track`` on the
80s Rock clip read by ``musdb.DB`` from the ``.stem.mp4``, with estimates drawn as
``np.random.seed(0); vocals = random(shape); accompaniment = random(shape)``; we reproduce it
through :func:`separate.evaluation.evaluate` (museval path and ``fast=True``).

mir_eval's golden (``bsseval-golden/mir_eval``, BSS Eval v3 / MATLAB numbers) has four
definitions; see ``separate/evaluation/README.md`` for which coincide with ours and why.
"""

from __future__ import annotations

import glob
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from conftest import SHARED_DATA, require_shared

from separate.evaluation import evaluate
from separate.evaluation.metrics import bss_eval

MUSEVAL_GOLDEN = SHARED_DATA / "bsseval-golden" / "museval" / "Music Delta - 80s Rock.json"
STEM_MP4 = SHARED_DATA / "musdb18-7" / "stem.mp4" / "Music Delta - 80s Rock.stem.mp4"
MIR = SHARED_DATA / "bsseval-golden" / "mir_eval"
SETS = ["01", "02", "03", "05", "06", "07", "08", "09"]
A_TOL = 1e-2  # mir_eval's own tolerance against the MATLAB numbers


@pytest.fixture(scope="module")
def rock_track(tmp_path_factory):
    require_shared(STEM_MP4)
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is needed to decode the .stem.mp4")
    import musdb

    root = tmp_path_factory.mktemp("musdb")
    (root / "test").mkdir()
    (root / "test" / STEM_MP4.name).symlink_to(STEM_MP4)
    return musdb.DB(root=str(root), subsets="test").tracks[0]


@pytest.mark.parametrize("fast", [False, True], ids=["museval", "fast"])
def test_museval_golden(rock_track, fast):
    golden = json.loads(require_shared(MUSEVAL_GOLDEN).read_text())
    track = rock_track
    np.random.seed(0)
    vocals = np.random.random(track.audio.shape)
    accompaniment = np.random.random(track.audio.shape)
    refs = {k: track.targets[k].audio.T for k in ("vocals", "accompaniment")}
    scores = evaluate({"vocals": vocals.T, "accompaniment": accompaniment.T}, refs, track.rate,
                      name=track.name, fast=fast, sisdr=False)
    ours = scores.to_museval()
    assert [t["name"] for t in ours["targets"]] == [t["name"] for t in golden["targets"]]
    worst = 0.0
    for tg, to in zip(golden["targets"], ours["targets"], strict=True):
        assert len(tg["frames"]) == len(to["frames"]) == 6
        for fg, fo in zip(tg["frames"], to["frames"], strict=True):
            assert fg["time"] == fo["time"] and fg["duration"] == fo["duration"]
            for m in ("SDR", "SIR", "SAR", "ISR"):
                worst = max(worst, abs(fg["metrics"][m] - fo["metrics"][m]))
    assert worst <= 1e-3, worst  # museval's own test allows 0.1 dB


def _load(folder: str) -> np.ndarray:
    """mir_eval.io.load_wav + vstack: ``[nsrc, time]`` mono (stereo files averaged)."""
    out = []
    for f in sorted(glob.glob(str(MIR / folder / "*.wav"))):
        x, _ = sf.read(f)
        out.append(x.mean(axis=1) if x.ndim == 2 else x)
    return np.stack(out)


def _images(x: np.ndarray, nchan: int, gain: float = 1.0) -> np.ndarray:
    """mir_eval's test ``__generate_multichannel``: channel 0 the signal, the others ``gain``
    times it (its ``reverse`` flips identical copies, a no-op). ``[nsrc, nchan, time]``."""
    return np.stack([x] + [gain * x] * (nchan - 1), axis=1)


def _close(ours: dict, expected: dict, names: list[tuple[str, str]]) -> None:
    for ours_key, key in names:
        a = np.asarray(ours[ours_key], dtype=float).reshape(np.shape(expected[key]))
        b = np.asarray(expected[key], dtype=float)
        assert np.allclose(a, b, atol=A_TOL, equal_nan=True), (key, a, b)


SRC = [("SDR", "Source to Distortion"), ("SIR", "Source to Interference"),
       ("SAR", "Source to Artifact")]
IMG = [*SRC, ("ISR", "Image to Spatial")]


@pytest.mark.parametrize("n", SETS)
def test_mir_eval_whole_signal(n):
    """'Images' (= our v4, one window) and 'Sources' (bss_eval_sources criteria), fast path."""
    require_shared(MIR)
    ref, est = _load(f"ref{n}"), _load(f"est{n}")
    g = json.loads((MIR / f"output{n}.json").read_text())
    res = bss_eval(ref[:, None], est[:, None], np.inf, np.inf, fast=True, mode="v3",
                   compute_permutation=True, sources_version=True)
    _close(res, g["Sources"], SRC)
    assert res["perm"].ravel().tolist() == g["Sources"]["Source permutation"]
    gi = g["Images"]
    res = bss_eval(_images(ref, gi["nchan"]), _images(est, gi["nchan"], gi["gain"]),
                   np.inf, np.inf, fast=True, mode="v4", compute_permutation=True)
    _close(res, gi, IMG)
    assert res["perm"].ravel().tolist() == gi["Source permutation"]


@pytest.mark.parametrize("n", ["01", "07", "09"] + [
    pytest.param(n, marks=pytest.mark.slow) for n in ("02", "03", "05", "06", "08")])
def test_mir_eval_framewise(n):
    """'Framewise'/'Images Framewise' are BSS Eval v3 (filters per window): our mode='v3'
    reproduces them; v4 (filters from the whole signal) is a different definition."""
    require_shared(MIR)
    ref, est = _load(f"ref{n}"), _load(f"est{n}")
    g = json.loads((MIR / f"output{n}.json").read_text())
    gf = g["Framewise"]
    res = bss_eval(ref[:, None], est[:, None], gf["win"], gf["hop"], fast=True, mode="v3",
                   sources_version=True)
    _close(res, gf, SRC)
    gi = g["Images Framewise"]
    R, E = _images(ref, gi["nchan"]), _images(est, gi["nchan"], gi["gain"])
    res = bss_eval(R, E, gi["win"], gi["hop"], fast=True, mode="v3")
    _close(res, gi, IMG)
    v4 = bss_eval(R, E, gi["win"], gi["hop"], fast=True, mode="v4")
    # with several windows, the time-invariant v4 filters give other numbers (by design)
    diffs = np.concatenate([np.ravel(v4[m] - np.asarray(gi[k])) for m, k in IMG])
    assert np.max(np.abs(diffs[np.isfinite(diffs)])) > 1.0


def test_mir_eval_images_through_museval():
    """The default (museval) path gives the same 'Images' numbers (set 03: mono images, the
    identity permutation)."""
    require_shared(MIR)
    ref, est = _load("ref03"), _load("est03")
    gi = json.loads((MIR / "output03.json").read_text())["Images"]
    res = bss_eval(_images(ref, gi["nchan"]), _images(est, gi["nchan"], gi["gain"]),
                   np.inf, np.inf, fast=False)
    assert gi["Source permutation"] == [0, 1, 2, 3]
    _close(res, gi, IMG)
