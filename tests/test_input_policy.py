"""The input/output policy (issue 20): short files, a failing file in a batch, two inputs with
one name, and an estimate of the wrong length. Each case: the exit code, one line naming the
file, nothing half-written, and the rest of the batch done."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from separate.errors import InputError
from tests.conftest import run_cli as run
from tests.conftest import write_tone


def _write(path: Path, frames: int, sr: int = 44100, channels: int = 2) -> np.ndarray:
    x = (0.1 * np.random.default_rng(frames).standard_normal((channels, frames))).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.T, sr, subtype="FLOAT")
    return x


def test_files_shorter_than_the_model_s_stft_are_separated(tmp_path, capsys):
    # default is a grid-aligned U-Net (no padding of short chunks): a 10 ms or 1-sample file
    # used to crash its STFT and stop the batch before good.wav
    lengths = {"short10ms": 441, "one": 1, "good": 3 * 44100}
    for name, n in lengths.items():
        _write(tmp_path / "in" / f"{name}.wav", n)
    code, _, err = run(["split", *(str(tmp_path / "in" / f"{n}.wav") for n in lengths), "-o",
                        str(tmp_path / "out"), "-m", "default"], capsys)
    assert code == 0, err
    for name, n in lengths.items():
        stems = sorted((tmp_path / "out" / name).iterdir())
        assert [p.stem for p in stems] == ["bass", "drums", "other", "vocals"]
        for p in stems:
            y, sr = sf.read(str(p), always_2d=True)
            assert y.shape == (n, 2) and np.isfinite(y).all(), p


def test_an_unexpected_error_on_one_file_fails_that_file_only(tmp_path, monkeypatch):
    from separate.batch import separate_many
    from separate.separation import Separator

    write_tone(tmp_path / "in" / "bad.wav", seconds=0.5)
    write_tone(tmp_path / "in" / "good.wav", seconds=0.5)
    real = Separator.open_mixture

    def broken(self, src, *args, **kwargs):
        if Path(src).stem == "bad":
            raise RuntimeError("simulated bug")
        return real(self, src, *args, **kwargs)

    monkeypatch.setattr(Separator, "open_mixture", broken)
    report = separate_many([tmp_path / "in"], tmp_path / "out", "identity", segment=0.5)
    by_name = {Path(f.input).stem: f for f in report.files}
    assert by_name["bad"].status == "failed"
    assert "RuntimeError: simulated bug" in by_name["bad"].error
    assert by_name["good"].status == "ok"
    assert not (tmp_path / "out" / "bad").exists()  # no empty track folder left behind
    assert sorted(p.stem for p in (tmp_path / "out" / "good").iterdir()) == [
        "bass", "drums", "other", "vocals"]


def test_two_inputs_with_one_name_are_refused_before_any_work(tmp_path, capsys):
    write_tone(tmp_path / "a" / "song.wav", seconds=0.5)
    write_tone(tmp_path / "b" / "song.wav", seconds=0.5, freq=220.0)
    code, _, err = run(["split", str(tmp_path / "a" / "song.wav"), str(tmp_path / "b" / "song.wav"),
                        "-o", str(tmp_path / "out"), "-m", "identity"], capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "a/song.wav" in lines[0] and "b/song.wav" in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.wav"))
    # the same file named twice is one input, not a clash
    code, _, _ = run(["split", str(tmp_path / "a" / "song.wav"), str(tmp_path / "a" / "song.wav"),
                      "-o", str(tmp_path / "out"), "-m", "identity"], capsys)
    assert code == 0


def test_eval_refuses_an_estimate_of_another_length(tmp_path, capsys):
    _write(tmp_path / "est.wav", 2 * 44100)
    _write(tmp_path / "ten_ms.wav", 441)
    code, out, err = run(["eval", str(tmp_path / "est.wav"), "-r", str(tmp_path / "ten_ms.wav")],
                         capsys)
    assert code == 1
    text = " ".join(err.split())  # rich wraps at the terminal width
    assert "not the same track" in text and "ten_ms" in text
    assert "ten_ms: ten_ms:" not in err  # the track is named once
    assert "┏" not in out + err  # no empty table after the error


def test_eval_fits_a_small_length_mismatch_with_a_warning():
    from separate.evaluation.core import evaluate

    rng = np.random.default_rng(0)
    ref = rng.standard_normal((2, 3 * 8000)).astype(np.float32)
    est = ref[:, :-80] + 0.1 * rng.standard_normal((2, ref.shape[1] - 80)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = evaluate({"x": est}, {"x": ref}, 8000, name="t", fast=True)
    assert any("zero-padded by 80 samples" in str(w.message) for w in caught)
    assert np.isfinite(scores.median("x", "SDR"))
    with pytest.raises(InputError, match="not the same track"):
        evaluate({"x": ref[:, :8000]}, {"x": ref}, 8000, name="t", fast=True)


@pytest.mark.parametrize("args", [
    ["adapt", "{song}", "-a", "{marks}", "--epochs", "1", "-o", "{file}"],
    ["eval", "{song}", "-r", "{song}", "--out", "{file}"],
    ["f0", "track", "{song}", "-o", "{folder}"],
    ["f0", "split", "{song}", "-n", "2", "-o", "{file}"],
])
def test_a_bad_output_path_is_a_usage_error_before_any_work(tmp_path, capsys, args):
    song = tmp_path / "song.wav"
    write_tone(song, seconds=0.5)
    (tmp_path / "marks.csv").write_text("vocals,0,0.25\n")
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "a_folder").mkdir()
    fill = {"song": song, "marks": tmp_path / "marks.csv", "file": tmp_path / "a_file",
            "folder": tmp_path / "a_folder"}
    code, _, err = run([a.format(**fill) for a in args], capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and ("a_file" in lines[0] or "a_folder" in lines[0]), err
    assert "unexpected" not in err
    assert (tmp_path / "a_file").read_text() == "not a folder"
    assert list((tmp_path / "a_folder").iterdir()) == []


def test_f0_split_names_an_unknown_model_before_estimating_f0(tmp_path, capsys):
    song = tmp_path / "song.wav"
    write_tone(song, seconds=0.5)
    code, _, err = run(["f0", "split", str(song), "-n", "2", "-m", "nosuch", "-o",
                        str(tmp_path / "out")], capsys)
    assert code == 2 and "nosuch" in err
    assert not (tmp_path / "out" / "f0.csv").exists()


def test_adapt_missing_input_exits_1_like_split(tmp_path, capsys):
    (tmp_path / "marks.csv").write_text("vocals,0,1\n")
    for sub in (["adapt", str(tmp_path / "nope.wav"), "-a", str(tmp_path / "marks.csv")],
                ["split", str(tmp_path / "nope.wav"), "-o", str(tmp_path / "o")]):
        code, _, err = run(sub, capsys)
        assert code == 1 and "nope.wav" in err, (sub, err)


def test_exported_weights_get_the_umask_mode_not_0600(tmp_path):
    # safetensors writes 0600; `adapt --save-model` and every exporter go through save_weights
    import os

    import torch

    from separate.registry.weights import save_weights

    old = os.umask(0o022)
    try:
        path = save_weights({"w": torch.zeros(3)}, tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert not (tmp_path / "m.safetensors.part").exists()
