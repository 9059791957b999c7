"""`separate f0 train`: a few unsupervised steps on tiny mixtures, then the card loads."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from separate.f0.split import load_source_filter, split_voices
from separate.f0.track import F0Track, read_f0_csv, write_f0_csv

# one intra-op thread (conftest): small tensors, shared 2-core machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")

def _tone(f0: float, n: int, sr: int) -> np.ndarray:
    t = np.arange(n) / sr
    return 0.1 * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 10)).astype(np.float32)


def test_train_writes_a_loadable_card_from_both_layouts(tmp_path):
    from separate.cli import app

    sr, n = 16000, 16000
    data = tmp_path / "data"
    # layout 1: <name>.wav + <name>.f0.csv
    data.mkdir()
    times = np.arange(0, 1.0, 0.01)
    for k, (a, b) in enumerate([(440.0, 220.0), (392.0, 165.0)]):
        sf.write(data / f"m{k}.wav", _tone(a, n, sr) + _tone(b, n, sr), sr)
        f0 = np.stack([np.full_like(times, a), np.full_like(times, b)])
        write_f0_csv(data / f"m{k}.f0.csv", F0Track(times, f0))
    # layout 2: the synthetic corpus (<track>/mixture.wav + <track>/f0/<voice>.csv)
    track = data / "song"
    (track / "f0").mkdir(parents=True)
    sf.write(track / "mixture.wav", _tone(330.0, n, sr) + _tone(131.0, n, sr), sr)
    for name, f in (("alto", 330.0), ("bass", 131.0)):
        (track / "f0" / f"{name}.csv").write_text(
            "time,f0\n" + "".join(f"{t:.2f},{f}\n" for t in times)
        )
    # a single-voice item that must be ignored for --voices 2
    sf.write(data / "solo.wav", _tone(200.0, n, sr), sr)
    write_f0_csv(data / "solo.f0.csv", F0Track(times, np.full((1, len(times)), 200.0)))

    out = tmp_path / "models" / "f0-test"
    res = CliRunner().invoke(
        app,
        ["f0", "train", str(data), "-n", "2", "-o", str(out), "--steps", "3", "--batch", "2",
         "--segment", "0.5", "--hidden", "16"],
    )
    assert res.exit_code == 0, res.output
    assert "3 mixtures" in res.output.replace("\n", " ")
    model = load_source_filter(out.with_suffix(".toml"))
    assert model.enc_gru.hidden_size == 16
    assert 'subcommand = "f0 split"' in out.with_suffix(".toml").read_text()
    mix = _tone(440.0, n, sr) + _tone(220.0, n, sr)
    est = split_voices(mix, sr, read_f0_csv(data / "m0.f0.csv"), model=model)
    assert est.shape == (2, n) and np.isfinite(est).all()


def test_train_without_data_is_a_usage_error(tmp_path):
    import pytest

    from separate.cli import main

    with pytest.raises(SystemExit) as e:
        main(["f0", "train", str(tmp_path), "-n", "2", "-o", str(tmp_path / "x")])
    assert e.value.code == 2


def _write_item(folder, name: str, f0s: list[float], sr: int = 16000, n: int = 16000) -> None:
    times = np.arange(0, n / sr, 0.01)
    sf.write(folder / f"{name}.wav", sum(_tone(f, n, sr) for f in f0s), sr)
    write_f0_csv(folder / f"{name}.f0.csv",
                 F0Track(times, np.stack([np.full_like(times, f) for f in f0s])))


def test_train_mixes_voice_counts_checkpoints_and_resumes(tmp_path):
    from separate.f0.train import train

    data = tmp_path / "data"
    data.mkdir()
    _write_item(data, "duet", [440.0, 220.0])
    _write_item(data, "trio", [523.0, 330.0, 131.0])
    _write_item(data, "quartet", [523.0, 392.0, 262.0, 131.0])  # J=4: not asked for, ignored
    out, ckpt = tmp_path / "m" / "f0-t", tmp_path / "ckpt.pt"
    kw = dict(batch=2, segment_seconds=0.25, model_args={"hidden": 8}, checkpoint=ckpt,
              lr=1e-3, lr_final=1e-4)
    s = train(data, (2, 3), out, steps=3, **kw)
    assert s["steps"] == 3 and s["stopped_by"] == "steps" and ckpt.is_file()
    assert s["items_per_voices"] == {"2": 1, "3": 1}
    s = train(data, (2, 3), out, steps=5, **kw)  # resumes at step 3
    assert s["steps"] == 5
    import torch

    assert len(torch.load(ckpt, weights_only=True)["losses"]) == 5
    card = load_source_filter(out.with_suffix(".toml"))
    assert card.enc_gru.hidden_size == 8


def test_train_stops_at_the_cpu_budget(tmp_path):
    from separate.f0.train import train

    data = tmp_path / "data"
    data.mkdir()
    _write_item(data, "duet", [440.0, 220.0])
    s = train(data, 2, tmp_path / "f0-t", steps=100, batch=1, segment_seconds=0.25,
              model_args={"hidden": 8}, max_cpu_seconds=0.0)
    assert s["steps"] == 0 and s["stopped_by"] == "cpu budget"
    assert (tmp_path / "f0-t.safetensors").is_file()


def test_cli_several_voice_counts_and_folders_checkpoint_and_resume(tmp_path, capsys):
    import torch

    from tests.conftest import run_cli

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    _write_item(a, "duet", [440.0, 220.0])
    _write_item(b, "trio", [523.0, 330.0, 131.0])
    out, ckpt = tmp_path / "m" / "f0-t", tmp_path / "ckpt.pt"
    args = ["f0", "train", str(a), str(b), "-n", "2", "-n", "3", "-o", str(out), "--batch", "2",
            "--segment", "0.25", "--hidden", "8", "--lr-final", "1e-5", "--checkpoint",
            str(ckpt)]
    code, _, err = run_cli(args + ["--steps", "2"], capsys)
    assert code == 0, err
    assert "2 mixtures" in " ".join(err.split())
    code, _, err = run_cli(args + ["--steps", "3"], capsys)  # resumes at step 2
    assert code == 0, err
    assert len(torch.load(ckpt, weights_only=True)["losses"]) == 3
    assert load_source_filter(out.with_suffix(".toml")).enc_gru.hidden_size == 8
