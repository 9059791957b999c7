"""``separate eval`` end to end on tiny folders in MUSDB18-HQ layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from separate.cli import main

SR = 8000
STEMS = ("vocals", "drums", "bass")


def _dataset(root, noise, seed=0, tracks=("A", "B"), ref_root=None):
    """References under ``ref_root`` (if given) and estimates (= refs + noise) under ``root``."""
    rng = np.random.default_rng(seed)
    for t in tracks:
        for s in STEMS:
            ref = 0.3 * np.random.default_rng(hash((t, s)) % 2**32).standard_normal((2 * SR, 2))
            if ref_root is not None:
                (ref_root / "test" / t).mkdir(parents=True, exist_ok=True)
                sf.write(ref_root / "test" / t / f"{s}.wav", ref, SR, subtype="FLOAT")
            (root / t).mkdir(parents=True, exist_ok=True)
            est = ref + noise * rng.standard_normal(ref.shape)
            sf.write(root / t / f"{s}.wav", est, SR, subtype="FLOAT")
        if ref_root is not None:
            mix = sum(sf.read(ref_root / "test" / t / f"{s}.wav")[0] for s in STEMS)
            sf.write(ref_root / "test" / t / "mixture.wav", mix, SR, subtype="FLOAT")


def _run(args, capsys):
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_eval_folders_json_out_plot(tmp_path, capsys):
    ref, good, bad = tmp_path / "ref", tmp_path / "good", tmp_path / "bad"
    _dataset(good, 0.03, ref_root=ref)
    _dataset(bad, 0.3, seed=1)
    out = tmp_path / "scores"
    code, stdout, err = _run(["eval", str(good), "-r", str(ref), "--fast", "--json",
                              "--out", str(out)], capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["tracks"] == 2 and set(doc["aggregate"]) == set(STEMS)
    sdr = doc["aggregate"]["vocals"]["SDR"]
    assert 15 < sdr["median"] < 25 and sdr["tracks"] == 2 and sdr["frames"] == 4
    assert set(doc["per_track"]) == {"A", "B"}
    museval_json = json.loads((out / "A.json").read_text())
    assert [t["name"] for t in museval_json["targets"]] == ["vocals", "drums", "bass"]
    assert len(museval_json["targets"][0]["frames"]) == 2
    lines = (out / "frames.csv").read_text().splitlines()
    assert lines[0].startswith("track,target,time,duration,active,SDR")
    assert len(lines) == 1 + 2 * 3 * 2
    # two sets side by side, a box plot, human tables
    png = tmp_path / "sdr.png"
    code, stdout, err = _run(["eval", "-e", f"good={good}", "-e", f"bad={bad}", "-r", str(ref),
                              "--fast", "--no-sisdr", "--plot", str(png), "--jobs", "2"], capsys)
    assert code == 0, err
    assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"
    assert "good" in stdout and "bad" in stdout and "SDR" in stdout


def test_eval_default_path_pair_and_activations(tmp_path, capsys):
    ref, est = tmp_path / "ref", tmp_path / "est"
    _dataset(est, 0.1, tracks=("A",), ref_root=ref)
    marks = tmp_path / "marks.csv"
    marks.write_text("source,start,end\nvocals,1.0,2.0\n")  # intervals: vocals only in 1-2 s
    code, stdout, err = _run(["eval", str(est / "A" / "vocals.wav"), "-r",
                              str(ref / "test" / "A" / "vocals.wav"), "--json",
                              "--activations", str(marks)], capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    assert list(doc["aggregate"]) == ["vocals"]
    assert doc["aggregate"]["vocals"]["SDR"]["frames"] == 1  # the first second is left out
    # one track folder against the references root
    code, stdout, err = _run(["eval", str(est / "A"), "-r", str(ref), "--json", "--no-sisdr",
                              "--fast"], capsys)
    assert code == 0, err
    assert set(json.loads(stdout)["aggregate"]) == set(STEMS)


@pytest.mark.parametrize("args, message", [
    (["eval", "nowhere", "-r", "nowhere"], "not found"),
    (["eval", "x"], "exactly one of --reference and --musdb"),
    (["eval", "x", "-r", "y", "--mode", "v5"], "--mode"),
])
def test_eval_usage_errors(args, message, capsys):
    code, _, err = _run(args, capsys)
    assert code == 2
    assert message in err


def test_eval_musdb_root(tmp_path, capsys):
    """--musdb reads references with the musdb package (HQ wav layout here)."""
    ref, est = tmp_path / "musdb", tmp_path / "est"
    _dataset(est / "test", 0.05, tracks=("A",), ref_root=ref)
    for name in ("other",):
        sf.write(ref / "test" / "A" / f"{name}.wav", np.zeros((2 * SR, 2)), SR)
    # musdb's setup expects 44.1 kHz; a rate is only metadata for wav tracks
    code, stdout, err = _run(["eval", str(est), "--musdb", str(ref), "--fast", "--json",
                              "--no-sisdr"], capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    assert set(doc["aggregate"]) == set(STEMS)
