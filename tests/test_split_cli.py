"""`separate split` end to end on small files: outputs, stems options, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import run_cli as run
from tests.conftest import write_tone


def outputs(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_split_writes_four_stems_that_sum_to_the_mixture(tmp_path, capsys):
    x = write_tone(tmp_path / "in" / "song.wav", seconds=1.5)
    code, out, _ = run(["split", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-m",
                        "identity", "--bit-depth", "float", "--json", "--segment", "0.5"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert summary["separated"] == 1 and summary["failed"] == 0
    stems = {p.stem: sf.read(p, always_2d=True)[0].T for p in (tmp_path / "out" / "song").iterdir()}
    assert sorted(stems) == ["bass", "drums", "other", "vocals"]
    # the identity model gives x/4 per source: checked on the raw outputs (--no-residual), so
    # that the sum is the engine's work and not the residual rule's
    code, _, _ = run(["split", str(tmp_path / "in"), "-o", str(tmp_path / "raw"), "-m",
                      "identity", "--no-residual", "--segment", "0.5"], capsys)
    assert code == 0
    raw = {p.stem: sf.read(p, always_2d=True)[0].T for p in (tmp_path / "raw" / "song").iterdir()}
    assert sorted(raw) == sorted(stems)
    for name in raw:
        np.testing.assert_allclose(raw[name], x / 4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(sum(raw.values()), x, atol=1e-6)
    np.testing.assert_allclose(sum(stems.values()), x, atol=1e-6)
    np.testing.assert_allclose(stems["vocals"], x / 4, atol=1e-6)


def test_two_stems_list_stems_and_mono_kept_mono(tmp_path, capsys):
    write_tone(tmp_path / "m.flac", channels=1, sr=22050, subtype="PCM_24")
    code, _, _ = run(["split", str(tmp_path / "m.flac"), "-o", str(tmp_path / "o2"), "-m",
                      "identity", "--stems", "2", "--format", "flac", "--bit-depth", "24"], capsys)
    assert code == 0
    files = {p.name: sf.info(str(p)) for p in outputs(tmp_path / "o2")}
    assert sorted(files) == ["accompaniment.flac", "vocals.flac"]
    assert all(i.channels == 1 and i.samplerate == 22050 for i in files.values())
    code, _, _ = run(["split", str(tmp_path / "m.flac"), "-o", str(tmp_path / "o3"), "-m",
                      "identity", "--stems", "vocals,bass"], capsys)
    assert code == 0
    assert sorted(p.stem for p in outputs(tmp_path / "o3")) == ["bass", "residual", "vocals"]
    code, _, err = run(["split", str(tmp_path / "m.flac"), "-o", str(tmp_path / "o4"), "-m",
                        "identity", "--stems", "piano"], capsys)
    assert code == 2 and "piano" in err and "vocals, drums, bass, other" in err


def test_skip_existing_and_shards(tmp_path, capsys):
    for i in range(6):
        write_tone(tmp_path / "in" / f"t{i}.wav", seconds=0.3)
    args = ["split", str(tmp_path / "in"), "-o", str(tmp_path / "o"), "-m", "identity", "--json"]
    seen = []
    for k in range(3):
        code, out, _ = run(args + ["--shard", f"{k}/3"], capsys)
        assert code == 0
        seen += [f["input"] for f in json.loads(out)["files"]]
    assert sorted(seen) == sorted(str(p) for p in (tmp_path / "in").iterdir())
    code, out, _ = run(args + ["--skip-existing"], capsys)
    assert json.loads(out)["skipped"] == 6
    code, _, err = run(args + ["--shard", "3/3"], capsys)
    assert code == 2 and "--shard" in err


def test_musdb_layout_names_tracks_by_folder(tmp_path, capsys):
    for name in ("Song A", "Song B"):
        write_tone(tmp_path / "test" / name / "mixture.wav", seconds=0.3)
    code, _, _ = run(["split", str(tmp_path / "test"), "-o", str(tmp_path / "o"), "-m",
                      "identity"], capsys)
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["Song A", "Song B"]


def make_bad_inputs(d: Path) -> dict[str, Path]:
    d.mkdir()
    bad = {}
    bad["missing"] = d / "missing.wav"
    (d / "empty.wav").write_bytes(b"")
    bad["empty"] = d / "empty.wav"
    write_tone(d / "full.wav", seconds=1.0, subtype="PCM_16")
    raw = (d / "full.wav").read_bytes()
    (d / "truncated.wav").write_bytes(raw[: len(raw) // 2])
    bad["truncated"] = d / "truncated.wav"
    (d / "full.wav").unlink()
    (d / "text.wav").write_text("this is not audio\n")
    bad["text"] = d / "text.wav"
    x = np.zeros((4410, 2), np.float32)
    x[100, 0] = np.nan
    sf.write(str(d / "nan.wav"), x, 44100, subtype="FLOAT")
    bad["nan"] = d / "nan.wav"
    sf.write(str(d / "six.wav"), np.zeros((4410, 6), np.float32), 44100)
    bad["six"] = d / "six.wav"
    return bad


@pytest.mark.parametrize("case,expected", [
    ("missing", "no such file"), ("empty", "empty file"), ("truncated", "truncated"),
    ("text", "not a readable audio file"), ("nan", "NaN"), ("six", "6 channels")])
def test_bad_input_is_one_line_and_the_batch_goes_on(tmp_path, capsys, case, expected):
    bad = make_bad_inputs(tmp_path / "bad")
    good = tmp_path / "good.wav"
    write_tone(good, seconds=0.5)
    out = tmp_path / "out"
    code, _, err = run(["split", str(bad[case]), str(good), "-o", str(out), "-m", "identity"],
                       capsys)
    assert code == 1
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1 and str(bad[case]) in lines[0] and expected in lines[0], err
    assert "Traceback" not in err
    names = [p.relative_to(out).as_posix() for p in outputs(out)]
    assert sorted(names) == [f"good/{s}.wav" for s in sorted(["vocals", "drums", "bass", "other"])]


def test_six_channels_with_downmix(tmp_path, capsys):
    bad = make_bad_inputs(tmp_path / "bad")
    code, _, _ = run(["split", str(bad["six"]), "-o", str(tmp_path / "o"), "-m", "identity",
                      "--downmix"], capsys)
    assert code == 0
    assert all(sf.info(str(p)).channels == 2 for p in outputs(tmp_path / "o"))


def test_folder_without_audio_and_unwritable_output_are_usage_errors(tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("x")
    code, _, err = run(["split", str(tmp_path / "docs"), "-m", "identity"], capsys)
    assert code == 2 and "no audio files" in err and str(tmp_path / "docs") in err
    good = tmp_path / "good.wav"
    write_tone(good, seconds=0.2)
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    code, _, err = run(["split", str(good), "-o", str(blocker / "out"), "-m", "identity"], capsys)
    assert code == 2 and "not writable" in err and "Traceback" not in err


def test_failure_mid_stream_leaves_no_partial_output(tmp_path):
    from separate.api import Separator
    from separate.errors import InputError

    x = np.zeros((44100 * 2, 2), np.float32)
    x[-10, 1] = np.nan  # found only in the last block
    sf.write(str(tmp_path / "late_nan.wav"), x, 44100, subtype="FLOAT")
    sep = Separator("identity", device="cpu", segment=0.25)
    with pytest.raises(InputError, match="NaN"):
        sep.separate_file(tmp_path / "late_nan.wav", tmp_path / "out", block_seconds=0.1)
    assert outputs(tmp_path / "out") == []


def test_separate_tensor_and_python_m(tmp_path):
    import subprocess
    import sys

    import torch

    from separate import Separator

    sep = Separator("identity", device="cpu")
    mix = torch.randn(2, 5000) * 0.1
    stems = sep.separate_tensor(mix, 44100)
    assert set(stems) == {"vocals", "drums", "bass", "other"}
    torch.testing.assert_close(sum(stems.values()), mix, atol=1e-6, rtol=0)
    raw = sep.separate_tensor(mix, 44100, residual=False)  # the engine's own outputs
    for name, y in raw.items():
        torch.testing.assert_close(y, mix / 4, atol=1e-6, rtol=0, msg=name)
    torch.testing.assert_close(sum(raw.values()), mix, atol=1e-6, rtol=0)
    r = subprocess.run([sys.executable, "-m", "separate", "split", "--help"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "--stems" in r.stdout


def test_api_exposes_every_subcommand():
    import separate.api as api

    for name in ("Separator", "separate_file", "adapt", "fewshot", "track_f0", "evaluate",
                 "split_voices"):
        assert callable(getattr(api, name)), name


@pytest.mark.parametrize("model, command", [("fewshot", "fewshot"), ("f0-choir", "f0 split"),
                                            ("f0-salience", "f0 track --method salience")])
def test_a_model_of_another_subcommand_points_to_it(tmp_path, capsys, model, command):
    from separate import Separator
    from separate.errors import ModelError

    write_tone(tmp_path / "a.wav", seconds=0.5)
    code, _, err = run(["split", str(tmp_path / "a.wav"), "-m", model,
                        "-o", str(tmp_path / "out")], capsys)
    assert code == 2 and f"run it with `separate {command}`" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.wav"))
    with pytest.raises(ModelError, match="not for `separate split`"):
        Separator(model)


def test_float_input_is_written_as_float_and_keeps_peaks_above_full_scale(tmp_path, capsys):
    x = write_tone(tmp_path / "loud.wav", seconds=0.5) * 6.0  # peaks ~1.8, float WAV
    sf.write(str(tmp_path / "loud.wav"), x.T, 44100, subtype="FLOAT")
    code, out, err = run(["split", str(tmp_path / "loud.wav"), "-o", str(tmp_path / "o"), "-m",
                          "identity", "--json"], capsys)
    assert code == 0 and "warning" not in err and "clipped" not in err
    files = sorted((tmp_path / "o" / "loud").iterdir())
    assert all(sf.info(str(p)).subtype == "FLOAT" for p in files)
    total = sum(sf.read(p, always_2d=True)[0].T for p in files)
    np.testing.assert_allclose(total, x, atol=1e-5)
    assert "warnings" not in json.loads(out)["files"][0]


def test_clipping_to_16_bit_warns_once_naming_the_file(tmp_path, capsys):
    x = write_tone(tmp_path / "loud.wav", seconds=0.5) * 6.0
    sf.write(str(tmp_path / "loud.wav"), x.T, 44100, subtype="FLOAT")
    code, out, err = run(["split", str(tmp_path / "loud.wav"), "-o", str(tmp_path / "o"), "-m",
                          "identity", "--bit-depth", "16", "--stems", "vocals", "--json"],
                         capsys)
    assert code == 0
    lines = [ln for ln in err.splitlines() if "warning" in ln]
    assert len(lines) == 1, err
    assert str(tmp_path / "loud.wav") in err and "no longer sum to the mixture" in err
    assert len(json.loads(out)["files"][0]["warnings"]) == 1
    assert all(sf.info(str(p)).subtype == "PCM_16" for p in (tmp_path / "o" / "loud").iterdir())


def test_clipping_warns_in_python_too(tmp_path):
    from separate import Separator
    from separate.audio.io import ClippingWarning, write_audio

    x = write_tone(tmp_path / "loud.wav", seconds=0.3) * 6.0
    sf.write(str(tmp_path / "loud.wav"), x.T, 44100, subtype="FLOAT")
    sep = Separator("identity", device="cpu")
    with pytest.warns(ClippingWarning, match="no longer sum"):
        res = sep.separate_file(tmp_path / "loud.wav", tmp_path / "o", bit_depth="24",
                                stems="vocals")
    assert len(res.warnings) == 1 and res.bit_depth == "24"
    with pytest.warns(ClippingWarning, match="clipped"):
        write_audio(tmp_path / "w.wav", x, 44100, bit_depth="16")


def test_separate_many_collects_failures_and_reports(tmp_path):
    from separate.batch import separate_many

    write_tone(tmp_path / "a.wav", seconds=0.3)
    (tmp_path / "b.wav").write_text("not audio")
    events = []
    done = []
    report = separate_many([tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "nope*.wav"],
                           tmp_path / "o", "identity", device="cpu", on_progress=events.append,
                           on_file=done.append)
    assert [f.status for f in report.files] == ["ok", "failed", "failed"]
    assert report.separated == 1 and report.failed == 2
    assert "not a readable audio file" in report.files[1].error
    assert "matches no files" in report.files[2].error
    assert len(done) == 3
    tracks = [e for e in events if e.stage == "tracks"]
    assert tracks[0].done == 0 and tracks[-1].done == 2 and tracks[-1].total == 2
    chunks = [e for e in events if e.stage == "chunks"]
    assert chunks and chunks[-1].finished and chunks[-1].key == str(tmp_path / "a.wav")
    assert report.to_dict()["separated"] == 1
