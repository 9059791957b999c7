"""U-Net contract, training loop (steps, resume, export), and two-process DDP with gloo."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from separate.nets import build, check_contract
from separate.registry import load_model
from separate.training import TrainConfig, export_model, train
from separate.training.losses import sdr_loss

SMALL = {"n_fft": 256, "hop": 64, "bins": 64, "channels": [4, 4, 8, 8, 8, 8]}
SOURCES = ["vocals", "drums", "bass", "other"]


def make_corpus(root: Path, tracks: int = 2, seconds: float = 1.0, sr: int = 8000) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    for split in ("train", "valid"):
        for k in range(tracks):
            d = root / split / f"track{k}"
            d.mkdir(parents=True)
            for i, s in enumerate(SOURCES):
                f0 = 110 * (i + 1) * (1 + 0.1 * k)
                x = 0.2 * np.sin(2 * np.pi * f0 * t) + 0.02 * rng.standard_normal(t.shape)
                sf.write(str(d / f"{s}.wav"), np.stack([x, 0.8 * x], 1).astype(np.float32), sr,
                         subtype="FLOAT")
    return root


def config(tmp: Path, data: Path, **kw) -> TrainConfig:
    base = dict(data=[str(data)], out=str(tmp / "run"), args=SMALL, sample_rate=8000,
                epochs=2, examples=4, valid_examples=2, batch_size=2, segment=0.5, workers=0,
                lr=1e-3, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def test_unet_contract_shapes_and_stages():
    model = build("unet", sources=SOURCES, sample_rate=8000, audio_channels=2, **SMALL).eval()
    check_contract(model)
    x = torch.randn(3, 2, 1234)
    y = model(x)
    assert y.shape == (3, 4, 2, 1234)
    names = [n for n, _ in model.stages()]
    assert names == ["L1", "L2", "L3", "L4", "L5", "L6", "M", "D"]
    staged = {id(p) for _, ps in model.stages() for p in ps}
    assert staged == {id(p) for p in model.parameters()}


def test_sdr_loss_is_minus_one_for_a_perfect_estimate():
    y = torch.randn(2, 100)
    assert float(sdr_loss(y, y)) == pytest.approx(-1.0, abs=1e-6)
    assert float(sdr_loss(-y, y)) == pytest.approx(1.0, abs=1e-6)


def test_training_lowers_the_loss_resumes_and_exports(tmp_path):
    data = make_corpus(tmp_path / "data")
    cfg = config(tmp_path, data, epochs=3, examples=8)
    result = train(cfg)
    hist = result["history"]
    assert len(hist) == 3 and (tmp_path / "run" / "loss.png").is_file()
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    # resume: one more epoch continues the same history
    cfg2 = config(tmp_path, data, epochs=4, examples=8)
    result2 = train(cfg2, resume=True)
    assert [h["epoch"] for h in result2["history"]] == [1, 2, 3, 4]
    card = export_model(result2["model"], "tiny-unet", tmp_path / "models", arch="unet",
                        args=SMALL, engine={"segment": 0.5})
    model = load_model(card)
    assert model.card.subcommand == "split" and "subcommand = \"split\"" in card.read_text()
    x = torch.randn(1, 2, 4000)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), result2["model"].eval()(x))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, tmp: str, data: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    cfg = config(Path(tmp), Path(data), epochs=1, examples=8, max_steps=3)
    result = train(cfg)
    torch.save(result["model"].state_dict(), Path(tmp) / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_ddp_two_cpu_processes_keep_identical_weights(tmp_path):
    data = make_corpus(tmp_path / "data")
    torch.multiprocessing.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path), str(data)),
                                nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    init = build("unet", sources=SOURCES, sample_rate=8000, audio_channels=2, **SMALL)
    # parameters: bit-identical on both ranks (gradients are all-reduced). Batch-norm running
    # statistics are buffers that DDP broadcasts from rank 0 at every forward, so after the
    # last local step they may differ; rank 0's are the ones checkpointed and exported.
    params = {n for n, _ in init.named_parameters()}
    moved = False
    for k in params:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
        if not torch.equal(a[k], init.state_dict()[k]):
            moved = True
    assert moved, "the weights did not change: no training happened"


def test_grouped_sources_sum_the_network_outputs():
    torch.manual_seed(0)
    four = build("unet", sources=SOURCES, sample_rate=8000, audio_channels=2, **SMALL).eval()
    two = build("unet", sources=["vocals", "accompaniment"], sample_rate=8000, audio_channels=2,
                net_sources=SOURCES, groups=[["vocals"], ["drums", "bass", "other"]],
                **SMALL).eval()
    two.load_state_dict(four.state_dict())
    x = torch.randn(1, 2, 3000)
    with torch.inference_mode():
        y4, y2 = four(x), two(x)
    torch.testing.assert_close(y2[:, 0], y4[:, 0])
    torch.testing.assert_close(y2[:, 1], y4[:, 1:].sum(1), atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="unknown"):
        build("unet", sources=["a"], net_sources=SOURCES, groups=[["piano"]], **SMALL)


def test_per_source_unet_is_one_network_per_source():
    torch.manual_seed(0)
    shared = build("unet", sources=SOURCES, sample_rate=8000, audio_channels=2, **SMALL).eval()
    per = build("unet", sources=SOURCES, sample_rate=8000, audio_channels=2, per_source=True,
                **SMALL).eval()
    check_contract(per)
    x = torch.randn(2, 2, 1500)
    with torch.inference_mode():
        y = per(x)
        # source k comes from branch k alone: a single-source U-Net with that branch's weights
        single = build("unet", sources=[SOURCES[2]], sample_rate=8000, audio_channels=2,
                       **SMALL).eval()
        single.load_state_dict(per.branches[2].state_dict())
        torch.testing.assert_close(y[:, 2], single(x)[:, 0])
    assert y.shape == (2, 4, 2, 1500)
    n_shared = sum(p.numel() for p in shared.parameters())
    n_single = sum(p.numel() for p in single.parameters())
    assert sum(p.numel() for p in per.parameters()) == 4 * n_single != n_shared
    assert [n for n, _ in per.stages()] == ["L1", "L2", "L3", "L4", "L5", "L6", "M", "D"]
    assert {id(p) for _, ps in per.stages() for p in ps} == {id(p) for p in per.parameters()}


def test_accompaniment_is_the_sum_of_the_other_stems(tmp_path):
    from separate.training.data import StemsDataset, find_tracks

    data = make_corpus(tmp_path / "data", tracks=1)
    sf.write(str(data / "train" / "track0" / "mixture.wav"), np.zeros((8000, 2)), 8000)
    tracks = find_tracks(data, ["vocals", "accompaniment"], "train")
    assert [f.name for f in tracks[0].files["accompaniment"]] == ["bass.wav", "drums.wav",
                                                                   "other.wav"]
    two = StemsDataset(tracks, ["vocals", "accompaniment"], 4000, examples=1, augment=False)
    four = StemsDataset(find_tracks(data, SOURCES, "train"), SOURCES, 4000, examples=1,
                        augment=False)
    (mix2, src2), (mix4, src4) = two[0], four[0]
    torch.testing.assert_close(src2[0], src4[0])
    torch.testing.assert_close(src2[1], src4[1:].sum(0))
    torch.testing.assert_close(mix2, mix4)


def test_init_copies_matching_tensors_and_leaves_the_mask_layer_random(tmp_path):
    from separate.errors import UsageError
    from separate.training.loop import init_from

    data = make_corpus(tmp_path / "data")
    four = train(config(tmp_path, data, epochs=1, max_steps=1))["model"]
    torch.save({"model": four.state_dict()}, tmp_path / "four.pt")
    torch.manual_seed(1)
    two = build("unet", sources=["vocals", "accompaniment"], sample_rate=8000, **SMALL)
    copied, kept = init_from(two, str(tmp_path / "four.pt"))
    assert kept == ["decoder.5.0.weight", "decoder.5.0.bias"]
    for k in copied:
        torch.testing.assert_close(two.state_dict()[k], four.state_dict()[k])
    other = build("unet", sources=SOURCES, sample_rate=8000, audio_channels=1, n_fft=256,
                  hop=64, bins=64, channels=[2, 2, 2, 2, 2, 2])
    with pytest.raises(UsageError, match="no tensor matches"):
        init_from(other, str(tmp_path / "four.pt"))
    with pytest.raises(UsageError, match="cannot read"):
        init_from(two, str(tmp_path / "missing.pt"))
    # through the training loop: a 2-stem run started from the 4-stem weights
    cfg = config(tmp_path, data, out=str(tmp_path / "run2"), sources=["vocals", "accompaniment"],
                 epochs=1, max_steps=1, lr=0.0, init=str(tmp_path / "four.pt"))
    seen = []
    model = train(cfg, on_progress=lambda kind, info: seen.append(kind))["model"]
    assert "init" in seen
    torch.testing.assert_close(model.state_dict()["encoder.0.0.weight"],
                               four.state_dict()["encoder.0.0.weight"])


def test_cli_init_a_two_stem_model_from_a_four_stem_run(tmp_path, capsys):
    from conftest import run_cli

    data = make_corpus(tmp_path / "data")
    cfg = tmp_path / "train.toml"
    common = ("sample_rate = 8000\nexamples = 2\nvalid_examples = 2\nbatch_size = 2\n"
              "segment = 0.5\nworkers = 0\nthreads = 1\nmax_steps = 1\n"
              "[args]\nn_fft = 256\nhop = 64\nbins = 64\nchannels = [4, 4, 8, 8, 8, 8]\n")
    cfg.write_text(common)
    code, _, err = run_cli(["train", "--data", str(data), "--out", str(tmp_path / "four"),
                            "--config", str(cfg), "--epochs", "1", "--export", "four",
                            "--models-dir", str(tmp_path / "models")], capsys)
    assert code == 0, err
    assert "training data: 2 training and 2 validation tracks" in err
    import tomllib

    card = tomllib.loads((tmp_path / "models" / "four.toml").read_text())  # export_best
    assert card["training"]["best_epoch"] == 1 and card["training"]["command"]
    assert (tmp_path / "models" / "four.safetensors").is_file()
    cfg2 = tmp_path / "two.toml"
    cfg2.write_text('sources = ["vocals", "accompaniment"]\n' + common)
    code, _, err = run_cli(["train", "--data", str(data), "--out", str(tmp_path / "two"),
                            "--config", str(cfg2), "--epochs", "1",
                            "--init", str(tmp_path / "four" / "best.pt")], capsys)
    assert code == 0, err
    assert "random: decoder.5.0.weight, decoder.5.0.bias" in " ".join(err.split())
    assert "initial weights: valid SDR vocals" in " ".join(err.split())
    code, _, err = run_cli(["train", "--data", str(data), "--out", str(tmp_path / "bad"),
                            "--config", str(cfg2), "--init", str(tmp_path / "nope.pt")], capsys)
    assert code == 2 and "cannot read initial weights" in err and "Traceback" not in err


def test_init_weights_are_validated_first_and_kept_until_beaten(tmp_path):
    data = make_corpus(tmp_path / "data")
    start = train(config(tmp_path, data, out=str(tmp_path / "start"), epochs=3, examples=8))
    init = str(tmp_path / "start" / "best.pt")
    # a rate that wrecks the weights: no epoch beats the starting point
    res = train(config(tmp_path, data, out=str(tmp_path / "wreck"), epochs=2, lr=1e3,
                       init=init))
    assert res["initial"]["score"] == pytest.approx(start["best_valid"], abs=1e-4)
    assert res["best_epoch"] == 0 and res["best_valid"] == res["initial"]["score"]
    kept = torch.load(tmp_path / "wreck" / "best.pt", weights_only=True)["model"]
    saved = torch.load(tmp_path / "start" / "best.pt", weights_only=True)["model"]
    for k, v in saved.items():
        torch.testing.assert_close(kept[k], v)
    # without --init there is no starting point to beat
    assert train(config(tmp_path, data, out=str(tmp_path / "fresh"), epochs=1))["initial"] is None
