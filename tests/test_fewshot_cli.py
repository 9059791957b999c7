"""`separate fewshot` / `fewshot-train` and the example specs (separate.fewshot.examples, api).

Until trained weights exist, the model is a randomly initialised small one exported with its card
in a temporary folder.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from separate.cli import main
from separate.errors import InputError, UsageError
from separate.fewshot import ExampleSpec, fewshot_file, load_example, parse_example
from separate.fewshot.toy import make_toy_corpus
from separate.fewshot.train import TrainConfig, build_model, export

SMALL = dict(channels=[4, 8, 8, 8, 8, 8], filters=8, n_mels=32)


# one intra-op thread (conftest): small tensors, shared 2-core machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("fs")
    rng = np.random.default_rng(0)
    t = np.arange(44100 * 7) / 44100
    left = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)
    right = 0.2 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(t.size)
    sf.write(d / "mix.wav", np.stack([left, right], 1).astype(np.float32), 44100)
    sf.write(d / "ex.flac", (0.2 * np.sin(2 * np.pi * 440 * np.arange(32000) / 16000))
             .astype(np.float32), 16000)
    sf.write(d / "silent.wav", np.zeros(22050, dtype=np.float32), 22050)
    for neg in (False, True):
        cfg = TrainConfig(corpus="-", out=str(d / f"m{'neg' if neg else ''}.safetensors"),
                          negatives=5 if neg else 0, **SMALL)
        torch.manual_seed(0)
        export(build_model(cfg), cfg, 0.0, 0, 0.0)
    cfg = TrainConfig(corpus="-", out=str(d / "base.safetensors"), kind="class", **SMALL)
    export(build_model(cfg), cfg, 0.0, 0, 0.0)
    return d


# -- example specs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec, want",
    [
        ("a.wav", ExampleSpec("a.wav")),
        ("a.wav@1-2.5", ExampleSpec("a.wav", 1.0, 2.5)),
        ("@12.5-15.5", ExampleSpec(None, 12.5, 15.5)),
        ("@1:02-1:05.5", ExampleSpec(None, 62.0, 65.5)),
        ("me@home.wav", ExampleSpec("me@home.wav")),
    ],
)
def test_parse_example(spec, want):
    assert parse_example(spec) == want


@pytest.mark.parametrize("spec", ["", "@", "@3", "@5-4", "@a-b", "x.wav@2-2"])
def test_parse_example_errors(spec):
    with pytest.raises(UsageError):
        parse_example(spec)


def test_load_example_resamples_and_checks_ranges(files):
    x = load_example(parse_example(f"{files}/ex.flac@0.5-1.5"), 22050)
    assert x.dtype == np.float32 and x.ndim == 1 and abs(len(x) - 22050) <= 1
    mix = sf.read(files / "mix.wav", always_2d=True)[0].T.astype(np.float32)
    y = load_example(ExampleSpec(None, 1.0, 4.0), 22050, (mix, 44100, "mix.wav"))
    assert abs(len(y) - 3 * 22050) <= 1
    import soxr

    whole = soxr.resample(mix.mean(0), 44100, 22050)  # slicing commutes with resampling inside
    np.testing.assert_allclose(y[2000:60000], whole[22050 + 2000 : 22050 + 60000], atol=1e-3)
    with pytest.raises(InputError, match="ends after"):
        load_example(ExampleSpec(None, 5.0, 9.0), 22050, (mix, 44100, "mix.wav"))
    with pytest.raises(InputError, match="starts after"):
        load_example(ExampleSpec(None, 8.0, 9.0), 22050, (mix, 44100, "mix.wav"))
    with pytest.raises(InputError, match="at least"):
        load_example(ExampleSpec(None, 1.0, 1.1), 22050, (mix, 44100, "mix.wav"))
    with pytest.raises(InputError, match="silent"):
        load_example(ExampleSpec(str(files / "silent.wav")), 22050)
    with pytest.raises(InputError, match="no such file"):
        load_example(ExampleSpec(str(files / "nope.wav")), 22050)


# -- the API and the CLI ------------------------------------------------------------------------


def test_fewshot_file_stereo_outputs_sum_to_mixture(files, tmp_path):
    out = fewshot_file(files / "mix.wav", [parse_example("@1-4"), parse_example(
        f"{files}/ex.flac")], model=files / "m.toml", out_dir=tmp_path, name="sine")
    assert set(out) == {"sine", "residual"}
    mix, sr = sf.read(files / "mix.wav", always_2d=True)
    a, sra = sf.read(out["sine"], always_2d=True)
    b, _ = sf.read(out["residual"], always_2d=True)
    assert sra == sr == 44100 and a.shape == mix.shape == b.shape
    np.testing.assert_allclose(a + b, mix, atol=3e-4)  # 16-bit quantisation of two files
    assert np.abs(a).max() > 1e-3  # a random model still passes some signal


def test_stereo_channels_are_separated_independently(files, tmp_path):
    """A mono model on a stereo file runs per channel: swapping channels swaps the outputs."""
    mix, sr = sf.read(files / "mix.wav", always_2d=True)
    sf.write(tmp_path / "swapped.wav", mix[:, ::-1].astype(np.float32), sr)
    ex = [parse_example(f"{files}/ex.flac")]
    a = fewshot_file(files / "mix.wav", ex, model=files / "m.toml", out_dir=tmp_path / "a",
                     bit_depth="float")
    b = fewshot_file(tmp_path / "swapped.wav", ex, model=files / "m.toml",
                     out_dir=tmp_path / "b", bit_depth="float")
    ya, yb = sf.read(a["target"])[0], sf.read(b["target"])[0]
    np.testing.assert_allclose(ya[:, ::-1], yb, atol=1e-5)


def test_cli_fewshot_runs_and_reports_errors(files, tmp_path, capsys):
    mix, model = str(files / "mix.wav"), str(files / "mneg.toml")
    out = tmp_path / "o"
    assert run(["fewshot", mix, "-e", "@0.5-3.5", "-e", f"{files}/ex.flac@0-1",
                "--negative", "@4-6", "-m", model, "-o", str(out), "--name", "sine"]) == 0
    assert (out / "sine.wav").is_file() and (out / "residual.wav").is_file()
    assert "warning" not in capsys.readouterr().err
    assert run(["fewshot", mix, "-e", "@0.5-3.5", "-m", model, "-o", str(out)]) == 0
    assert "warning: this model was trained with negative examples" in capsys.readouterr().err
    assert run(["fewshot", mix, "-e", "@5-9", "-m", model, "-o", str(out)]) == 1
    assert "ends after the end" in capsys.readouterr().err
    assert run(["fewshot", mix, "-e", "@5-4", "-m", model]) == 2
    assert run(["fewshot", mix, "-m", model]) == 2
    assert "at least one --example" in capsys.readouterr().err
    assert run(["fewshot", mix, "-e", "@1-4", "--negative", "@4-6",
                "-m", str(files / "m.toml")]) == 2
    assert "negative" in capsys.readouterr().err
    assert run(["fewshot", mix, "-e", "@1-4", "-m", model, "--name", "residual"]) == 2
    assert run(["fewshot", str(files / "nope.wav"), "-e", f"{files}/ex.flac", "-m", model]) == 1
    assert run(["fewshot", mix, "-e", "@1-4", "-m", str(files / "nope.toml")]) == 2


def test_cli_fewshot_train(tmp_path, capsys):
    corpus = make_toy_corpus(tmp_path / "c", tracks=(3, 1, 0), seconds=7.0)
    out = tmp_path / "w.safetensors"
    code = run(["fewshot-train", str(corpus), "-o", str(out), "--steps", "2", "--batch-size",
                "2", "--valid-every", "1", "--held-out", "drums", "--channels", "4,8,8,8,8,8",
                "--filters", "8", "--n-mels", "32", "--negatives", "2"])
    assert code == 0, capsys.readouterr().err
    assert out.is_file() and out.with_suffix(".toml").is_file()
    assert "best valid loss" in capsys.readouterr().out
    assert run(["fewshot-train", str(corpus), "-o", str(tmp_path / "x.pt")]) == 2
    assert run(["fewshot-train", str(tmp_path / "missing"), "-o", str(out)]) == 2


def test_cli_class_baseline(files, tmp_path, capsys):
    mix, model = str(files / "mix.wav"), str(files / "base.toml")
    assert run(["fewshot", mix, "-m", model, "--class", "piano", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "target.wav").is_file()
    assert run(["fewshot", mix, "-m", model, "-o", str(tmp_path)]) == 2
    assert "--class" in capsys.readouterr().err
    assert run(["fewshot", mix, "-m", model, "--class", "kazoo"]) == 2
    assert "unknown class 'kazoo'" in capsys.readouterr().err
