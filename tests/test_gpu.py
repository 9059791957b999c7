"""CPU and CUDA give the same results (issue 20): split, adapt, fewshot, the F0 model and a few
training steps, each run once on the CPU and once on :data:`GPU`, compared.

Run with ``make test-gpu`` (``pytest -m gpu``); ``make test`` leaves these out (``-m "not slow
and not gpu"``). Every test is skipped, with the reason, where ``torch.cuda.is_available()`` is
false. Nothing is downloaded: the models are the embedded cards (``default``, ``fewshot``,
``f0-choir``) and the training data is rendered in ``tmp_path``. On one GPU the whole file takes
well under a minute of GPU time; the CPU halves dominate (about 20 s in all on 2 busy cores).

Tolerances. Errors are relative: ``‖cuda − cpu‖ / ‖cpu‖`` over a whole output. TF32 is turned
off for the comparisons (:func:`fp32`: cuDNN convolutions use TF32 by default on Ampere and
later, a 10-bit mantissa), so both devices compute in IEEE float32 and differ only by the order
of operations and the kernels chosen: outputs of a forward pass agree to ``FORWARD = 1e-3``
(60 dB), a loss to ``LOSS = 1e-3`` relative, outputs after a few optimiser steps (small weight
differences through the network) to ``AFTER_STEPS = 1e-2`` (40 dB), and the weight updates of
3 Adam steps to ``UPDATE = 5e-2`` (Adam's first steps move each weight by about ``lr`` whatever
the size of its gradient, so a gradient near zero may move either way). One split also runs with
torch's default TF32 setting, which is what users get, at ``TF32 = 2e-2``. A device bug (a
tensor left on the wrong device, a cache not moved, a mode not set) gives errors of order 1,
far outside all of these.

What is *not* compared, and why:

- ``f0 split`` (:func:`separate.f0.split.split_voices`) has no device argument: it always runs
  on the CPU. Its model is compared here directly (forward pass, soft-mask separation, fitting
  steps) on both devices. The model draws its noise excitation with ``torch.rand_like`` on the
  model's device, and the CPU and CUDA generators give different numbers for one seed, so the
  test draws that noise on the CPU for both devices (:func:`cpu_noise`).
- ``separate train`` has no device option either: :func:`separate.training.loop.train` uses
  CUDA whenever it is available (``setup_distributed``). The test checks that choice, then runs
  the same few steps with the device forced to the CPU and to CUDA. Dropout is off in the tiny
  U-Net trained (``dropout_layers = 0``): its masks come from each device's own generator.
- Few-shot conditioning (the examples' embedding) is computed on the CPU on every device
  (:func:`separate.fewshot.api.fewshot_file` loads the model there); only the separation moves.
- Apple MPS is not tested.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

GPU = "cuda"
NO_CUDA = not torch.cuda.is_available()
#: the two runs of every comparison: label (results, output folders) -> torch device
RUNS = {"cpu": "cpu", "gpu": GPU}

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(NO_CUDA, reason="CUDA is not available "
                                 "(torch.cuda.is_available() is False): nothing to compare")]

FORWARD = 1e-3
LOSS = 1e-3
AFTER_STEPS = 1e-2
TF32 = 2e-2
UPDATE = 5e-2


def rel(a, b) -> float:
    """``‖a − b‖ / ‖b‖`` (numpy or torch, any shape; 0 when both are all zeros)."""
    a = a.detach().cpu().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, float)
    b = b.detach().cpu().double().numpy() if isinstance(b, torch.Tensor) else np.asarray(b, float)
    assert a.shape == b.shape, (a.shape, b.shape)
    den = float(np.linalg.norm(b))
    num = float(np.linalg.norm(a - b))
    return num / den if den > 0 else num


@pytest.fixture
def fp32():
    """IEEE float32 on CUDA (TF32 off for cuDNN and matmul), restored afterwards."""
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def _mixture(path: Path, seconds: float, sr: int, channels: int, seed: int = 0) -> np.ndarray:
    """A few harmonic tones, a bass line and noise bursts: ``float32 [channels, time]``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = np.zeros((channels, t.size))
    for f0, amp in ((220.0, 0.2), (330.0, 0.1), (55.0, 0.3)):
        tone = sum(amp / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 6))
        x += tone * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t))
    bursts = (np.sin(2 * np.pi * 2 * t) > 0.9) * 0.2 * rng.standard_normal(t.size)
    x = (x + bursts).astype(np.float32)
    x[1:] *= 0.8
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.T, sr, subtype="FLOAT")
    return x


def _stems(folder: Path) -> dict[str, np.ndarray]:
    return {p.stem: sf.read(str(p), dtype="float64", always_2d=True)[0].T
            for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("tf32", [False, True], ids=["fp32", "torch-default-tf32"])
def test_split_on_cuda_matches_the_cpu(tmp_path, tf32):
    """``separate_many`` with the ``default`` model: a 20 s stereo 44.1 kHz file (three
    overlapping chunks) and a 1.5 s mono 48 kHz file (resampling, the mono channel policy)."""
    from separate.batch import separate_many

    _mixture(tmp_path / "in" / "long.wav", 20.0, 44100, 2)
    _mixture(tmp_path / "in" / "short.wav", 1.5, 48000, 1, seed=1)
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    if not tf32:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        reports = {run: separate_many([tmp_path / "in"], tmp_path / run, "default", device=dev)
                   for run, dev in RUNS.items()}
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
    tol = TF32 if tf32 else FORWARD
    for run, report in reports.items():
        assert report.failed == 0 and report.separated == 2, (run, report.to_dict())
    for track in ("long", "short"):
        cpu, gpu = _stems(tmp_path / "cpu" / track), _stems(tmp_path / "gpu" / track)
        assert sorted(cpu) == sorted(gpu) == ["bass", "drums", "other", "vocals"]
        for stem in cpu:
            err = rel(gpu[stem], cpu[stem])
            assert err <= tol, f"{track}/{stem}: CUDA differs from the CPU by {err:.2e}"


def test_adapt_a_few_steps_on_cuda_matches_the_cpu(tmp_path, fp32):
    """``adapt`` of ``default`` (layers L3:D, Ranger, lr 1e-3) for 4 steps on a 4 s mixture:
    the losses before, during and after, the stems it writes, and what the 4 steps changed in
    them (against the same model un-adapted, ``epochs = 0``, on the same device)."""
    from separate.adapt import AdaptConfig
    from separate.api import adapt

    song = tmp_path / "song.wav"
    _mixture(song, 4.0, 44100, 2)
    marks = tmp_path / "marks.csv"
    marks.write_text("source,start,end\nvocals,0,1.5\nbass,1,4\n", encoding="utf-8")
    cfg = AdaptConfig(epochs=2, segment=2.0, lr=1e-3)
    outs = {run: adapt(song, marks, "default", config=cfg, device=dev, out_dir=tmp_path / run)
            for run, dev in RUNS.items()}
    bases = {run: adapt(song, marks, "default", config=AdaptConfig(epochs=0, segment=2.0),
                        device=dev).stems for run, dev in RUNS.items()}
    cpu, gpu = outs["cpu"].result, outs["gpu"].result
    assert cpu.steps == gpu.steps == 4
    for a, b in [(gpu.initial_loss, cpu.initial_loss), (gpu.final_loss, cpu.final_loss),
                 *zip(gpu.epoch_losses, cpu.epoch_losses, strict=True)]:
        assert abs(a - b) <= LOSS * abs(b), (gpu, cpu)
    # Ranger's first steps barely move Eq. 1 (by about 3e-3 of it here): compare the decrease itself
    drop = cpu.initial_loss - cpu.final_loss
    assert drop > 0
    assert abs((gpu.initial_loss - gpu.final_loss) - drop) <= UPDATE * drop, (gpu, cpu)
    assert sorted(outs["cpu"].stems) == sorted(outs["gpu"].stems)
    moved = 0
    for stem, y in outs["cpu"].stems.items():
        y_gpu = outs["gpu"].stems[stem]
        err = rel(y_gpu, y)
        assert err <= AFTER_STEPS, f"adapted {stem}: CUDA differs from the CPU by {err:.2e}"
        change = y - bases["cpu"][stem]
        if rel(y, bases["cpu"][stem]) >= 10 * AFTER_STEPS:  # the stems the steps changed
            moved += 1
            err = rel(y_gpu - bases["gpu"][stem], change)
            assert err <= UPDATE, f"adaptation of {stem}: CUDA's change differs by {err:.2e}"
    assert moved, "4 steps changed no stem by 10 % on the CPU: nothing to compare"


def test_fewshot_on_cuda_matches_the_cpu(tmp_path, fp32):
    """``fewshot_file`` with the embedded ``fewshot`` model, conditioned on a range of the
    mixture itself: the target and the residual it writes."""
    from separate.fewshot import ExampleSpec
    from separate.fewshot.api import fewshot_file

    song = tmp_path / "song.wav"
    _mixture(song, 6.0, 44100, 2)
    written = {run: fewshot_file(song, [ExampleSpec(None, 0.5, 2.0)], model="fewshot",
                                 out_dir=tmp_path / run, name="tone", device=dev)
               for run, dev in RUNS.items()}
    assert sorted(written["cpu"]) == sorted(written["gpu"]) == ["residual", "tone"]
    for stem, path in written["cpu"].items():
        y_cpu, sr = sf.read(str(path), dtype="float64", always_2d=True)
        y_gpu, _ = sf.read(str(written["gpu"][stem]), dtype="float64", always_2d=True)
        assert sr == 44100 and y_cpu.shape == (6 * 44100, 2)
        err = rel(y_gpu, y_cpu)
        assert err <= FORWARD, f"fewshot {stem}: CUDA differs from the CPU by {err:.2e}"


@pytest.fixture
def cpu_noise(monkeypatch):
    """``torch.rand_like`` drawn from one CPU generator (seed 0 at every test) and moved to the
    tensor's device, so that the source-filter model's noise excitation is the same numbers
    on both devices; call ``cpu_noise()`` to restart the sequence."""
    gen = torch.Generator()

    def rand_like(x, *args, **kwargs):
        return torch.rand(x.shape, generator=gen, dtype=x.dtype).to(x.device)

    def restart() -> None:
        gen.manual_seed(0)

    restart()
    monkeypatch.setattr(torch, "rand_like", rand_like)
    yield restart


def test_f0_model_on_cuda_matches_the_cpu(fp32, cpu_noise):
    """The ``f0-choir`` source-filter model (what ``f0 split`` runs, on the CPU only): the
    voices it synthesises for two voices with known F0, the soft-mask separation, and 3 fitting
    steps (:func:`separate.f0.split.fit_model`)."""
    from separate.f0.split import DEFAULT_MODEL, fit_model, load_source_filter
    from separate.nets.source_filter import soft_mask_separation

    base = load_source_filter(DEFAULT_MODEL)
    sr = base.sample_rate
    t = np.arange(sr) / sr  # 1 s
    f0s = (220.0, 330.0)
    voices = [sum(0.3 / k * np.sin(2 * np.pi * k * f * t) for k in range(1, 8)) for f in f0s]
    mix = torch.from_numpy(np.stack([sum(voices), 0.7 * sum(voices)]).astype(np.float32))
    n = base.frame_count(mix.shape[-1])
    f0 = torch.tensor(f0s, dtype=torch.float32)[None, :, None].expand(2, 2, n).contiguous()
    f0[1, 1, n // 2:] = 0.0  # a silent stretch for one voice
    results = {}
    for run, dev in RUNS.items():
        model = copy.deepcopy(base).to(dev).eval()
        x, f = mix.to(dev), f0.to(dev)
        cpu_noise()
        with torch.no_grad():
            harm = model.harmonics(f, x.shape[-1])
            synth = model(x, f, harm)
            est = soft_mask_separation(x, synth)
        losses = fit_model(model, x, f, steps=3, lr=1e-3, batch=2, seed=0)
        cpu_noise()
        with torch.no_grad():
            after = model(x, f, model.harmonics(f, x.shape[-1]))
        results[run] = {"harm": harm, "synth": synth, "est": est, "losses": losses,
                        "after": after}
    cpu, gpu = results["cpu"], results["gpu"]
    for key in ("harm", "synth", "est"):
        assert torch.isfinite(gpu[key]).all(), key
        err = rel(gpu[key], cpu[key])
        assert err <= FORWARD, f"f0 {key}: CUDA differs from the CPU by {err:.2e}"
    np.testing.assert_allclose(gpu["losses"], cpu["losses"], rtol=LOSS)
    err = rel(gpu["after"], cpu["after"])
    assert err <= AFTER_STEPS, f"f0 model after fitting: CUDA differs from the CPU by {err:.2e}"


def test_training_steps_on_cuda_match_the_cpu(tmp_path, monkeypatch, fp32):
    """:func:`separate.training.train`: 3 steps of a tiny U-Net on a rendered corpus, with the
    device forced to the CPU and to CUDA: every step's loss, the validation SDR, the weight
    updates and the trained model's output."""
    import separate.training.loop as loop
    from separate.training import train
    from tests.test_training import SMALL, config, make_corpus

    if GPU.startswith("cuda"):  # what `separate train` picks by itself on this machine
        assert loop.setup_distributed()[2].type == "cuda"
    data = make_corpus(tmp_path / "data", tracks=2, seconds=1.0)
    torch.manual_seed(0)
    init = loop.build_model(config(tmp_path, data, args={**SMALL, "dropout_layers": 0}))
    init_state = {k: v.clone() for k, v in init.state_dict().items()}
    runs = {}
    for run, dev in RUNS.items():
        monkeypatch.setattr(loop, "setup_distributed",
                            lambda dev=dev: (0, 1, torch.device(dev)))
        steps: list[float] = []
        cfg = config(tmp_path / run, data, epochs=1, examples=6, batch_size=2, max_steps=3,
                     args={**SMALL, "dropout_layers": 0})

        def progress(kind, info, steps=steps):
            if kind == "step":
                steps.append(info["loss"])

        result = train(cfg, on_progress=progress)
        model = result["model"]
        assert next(model.parameters()).device.type == torch.device(dev).type
        runs[run] = {"steps": steps, "valid": result["history"][-1]["valid"],
                     "state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                     "model": model.eval()}
    cpu, gpu = runs["cpu"], runs["gpu"]
    assert len(cpu["steps"]) == len(gpu["steps"]) == 3
    np.testing.assert_allclose(gpu["steps"], cpu["steps"], rtol=LOSS)
    for key, v in cpu["valid"].items():
        assert abs(gpu["valid"][key] - v) <= 0.05, (key, gpu["valid"], cpu["valid"])  # dB
    for name, w in cpu["state"].items():
        if not w.is_floating_point():
            continue
        moved = w - init_state[name]
        if float(moved.norm()) > 0:  # the update itself agrees (Adam: about lr per weight)
            err = rel(gpu["state"][name] - init_state[name], moved)
            assert err <= UPDATE, f"{name}: update differs by {err:.2e}"
    x = torch.from_numpy(_mixture(tmp_path / "probe.wav", 1.0, 8000, 2))[None]
    with torch.no_grad():
        y_cpu = cpu["model"](x)
        y_gpu = gpu["model"](x.to(GPU))
    err = rel(y_gpu, y_cpu)
    assert err <= AFTER_STEPS, f"trained model: CUDA differs from the CPU by {err:.2e}"
