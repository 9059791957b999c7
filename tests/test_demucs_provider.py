"""Demucs provider: safe loading, the bag under our contract, the engine's Demucs chunk plan, and
the acceptance test — a random-weight HTDemucs served by a loopback Hub in the layout demucs.hf
reads, pulled by `separate models pull htdemucs`, separated by `separate split -m htdemucs`,
equal to `demucs.apply.apply_model` within −60 dB.

apply_model reference arguments: ``shifts=0`` (no random time shift: deterministic),
``split=True``, ``overlap=0.25`` (its default), ``segment=None`` (the model's), which is what the
card's ``[engine]`` table (segment = training segment, overlap 0.25, window triangle, plan demucs)
reproduces.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

demucs = pytest.importorskip("demucs", reason="the demucs extra is not installed")

from demucs.apply import BagOfModels, apply_model  # noqa: E402
from demucs.htdemucs import HTDemucs  # noqa: E402

from separate.cli import main as cli_main  # noqa: E402
from separate.engine.overlap_add import OverlapAdd, count_chunks, total_chunks  # noqa: E402
from separate.errors import ModelError  # noqa: E402
from separate.nets.demucs_wrap import (  # noqa: E402
    DemucsBag,
    load_demucs_safetensors,
    load_demucs_th,
)
from separate.registry import builtin_models_dir, find_card, load_model  # noqa: E402
from tests.hubserver import fake_hub  # noqa: E402,F401 - pytest fixture

SOURCES = ["drums", "bass", "other", "vocals"]
SEGMENT = Fraction(39, 50)  # 0.78 s: a tenth of htdemucs' 7.8 s, to keep the test fast


def tiny_htdemucs(seed: int, sources: list[str] = SOURCES) -> HTDemucs:
    """A random HTDemucs, small (≈7 k parameters) but with every part: both branches, the
    cross-domain Transformer, and a fractional training segment."""
    torch.manual_seed(seed)
    return HTDemucs(sources=list(sources), channels=4, depth=2, nfft=512, t_layers=1, t_heads=1,
                    t_hidden_scale=1.0, dconv_comp=2, norm_groups=1, segment=SEGMENT).eval()


def _encode(value):
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator,
                "denominator": value.denominator}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def export_demucs(model: torch.nn.Module, klass: str | None = None) -> bytes:
    """Serialise a Demucs model as demucs.hf reads it: the state dict as tensors, the class and
    the constructor arguments as JSON metadata."""
    from safetensors.torch import save

    args, kwargs = model._init_args_kwargs
    klass = klass or f"{type(model).__module__}.{type(model).__name__}"
    meta = {"klass": klass, "args": json.dumps(_encode(list(args))),
            "kwargs": json.dumps(_encode(dict(kwargs)))}
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    return save(state, metadata=meta)


def energy_db(diff: np.ndarray, ref: np.ndarray) -> float:
    """Energy of ``diff`` relative to ``ref`` in dB (−300 for an exact match)."""
    num = np.sum(diff.astype(np.float64) ** 2)
    return float(10 * np.log10(max(num, 1e-30 * np.sum(ref.astype(np.float64) ** 2))
                               / np.sum(ref.astype(np.float64) ** 2)))


# ---------------------------------------------------------------------------- safe loading


def test_safetensors_round_trip(tmp_path):
    model = tiny_htdemucs(0)
    (tmp_path / "m.safetensors").write_bytes(export_demucs(model))
    loaded = load_demucs_safetensors(tmp_path / "m.safetensors")
    assert isinstance(loaded, HTDemucs) and loaded.segment == SEGMENT
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(),
                              strict=True):
        assert torch.equal(a, b), k


def test_foreign_class_in_metadata_is_refused(tmp_path):
    (tmp_path / "evil.safetensors").write_bytes(export_demucs(tiny_htdemucs(0), "os.system"))
    with pytest.raises(ModelError, match="refusing to import"):
        load_demucs_safetensors(tmp_path / "evil.safetensors")


class _Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_legacy_th_only_through_weights_only(tmp_path):
    model = tiny_htdemucs(1)
    args, kwargs = model._init_args_kwargs
    package = {"klass": HTDemucs, "args": list(args), "kwargs": dict(kwargs),
               "state": model.state_dict()}
    torch.save(package, tmp_path / "ok.th")
    loaded = load_demucs_th(tmp_path / "ok.th")
    x = torch.randn(1, 2, 2000)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    with open(tmp_path / "evil.th", "wb") as f:
        pickle.dump({"klass": _Boom(), "state": {}}, f)
    with pytest.raises(ModelError, match="weights_only"):
        load_demucs_th(tmp_path / "evil.th")


# ---------------------------------------------------------------------------- the bag


def test_bag_matches_demucs_bag_and_exposes_stages():
    models = [tiny_htdemucs(2), tiny_htdemucs(3)]
    weights = [[1.0, 0.0, 0.5, 1.0], [0.0, 1.0, 0.5, 1.0]]
    ours = DemucsBag(models, weights)
    theirs = BagOfModels(models, weights)
    mix = torch.randn(1, 2, int(SEGMENT * 44100)) * 0.1
    with torch.no_grad():
        ref = apply_model(theirs, mix, shifts=0, split=False)
        got = ours(mix)
    assert energy_db((got - ref).numpy(), ref.numpy()) < -100
    assert ours.sources == SOURCES and ours.sample_rate == 44100 and ours.audio_channels == 2
    names = [n for n, _ in ours.stages()]
    assert names == ["L1", "L2", "T", "M", "D"]
    staged = [id(p) for _, ps in ours.stages() for p in ps]
    assert len(staged) == len(set(staged)) == len(list(ours.parameters()))
    with pytest.raises(ValueError, match="at most"):
        ours(torch.zeros(1, 2, int(SEGMENT * 44100) + 1))


def test_training_mode_keeps_the_segment():
    bag = DemucsBag([tiny_htdemucs(5)]).train()
    y = bag(torch.randn(1, 2, 3000))
    y.pow(2).mean().backward()
    assert bag.models[0].segment == SEGMENT
    assert all(p.grad is not None for _, ps in bag.stages() for p in ps[:1])


def test_adapted_bag_saves_and_loads_back(tmp_path):
    """A changed (e.g. adapted) Demucs bag saves in the Demucs layout and loads back equal."""
    weights = export_demucs(tiny_htdemucs(8))
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "abc123.safetensors").write_bytes(weights)
    card_head = (
        'provider = "demucs"\narch = "demucs"\nsources = ["drums", "bass", "other", "vocals"]\n'
        'sample_rate = 44100\nlicense = "MIT"\n[args]\nmodels = ["abc123"]\n'
    )
    (tmp_path / "base" / "base.toml").write_text(
        card_head + f'[weights.files]\n"abc123.safetensors" = '
        f'"{hashlib.sha256(weights).hexdigest()}"\n', encoding="utf-8")
    model = load_model(tmp_path / "base" / "base.toml")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    from separate.registry.demucs import save_bag_weight_files

    files = save_bag_weight_files(model, tmp_path / "adapted")
    (name, path), = files.items()
    assert name.startswith("abc123-")
    (tmp_path / "adapted" / "mine.toml").write_text(
        card_head + f'[weights.files]\n"{name}" = "{hashlib.sha256(path.read_bytes()).hexdigest()}"'
        '\n', encoding="utf-8")
    again = load_model(tmp_path / "adapted" / "mine.toml")
    x = torch.randn(1, 2, 5000) * 0.1
    with torch.no_grad():
        assert torch.equal(again(x), model(x))
        assert not torch.equal(again(x), load_model(tmp_path / "base" / "base.toml")(x))


def test_adapt_can_select_a_stage_range():
    from separate.adapt.stages import freeze_except

    bag = DemucsBag([tiny_htdemucs(4)])
    trainable = freeze_except(bag, "L2:M")
    chosen = {id(p) for n, ps in bag.stages() if n in ("L2", "T", "M") for p in ps}
    assert {id(p) for p in trainable} == chosen
    assert all(p.requires_grad == (id(p) in chosen) for p in bag.parameters())


# ---------------------------------------------------------------------------- engine plan


class _Unpadded(torch.nn.Module):
    """A model whose output depends on the whole chunk it sees (like Demucs' normalisation);
    without ``valid_length``, Demucs feeds it the last chunks unpadded (like HDemucs)."""

    def __init__(self, segment_samples: int):
        super().__init__()
        self.sources, self.samplerate, self.audio_channels = ["a", "b"], 1000, 2
        self.segment = Fraction(segment_samples, 1000)
        self.n = segment_samples

    def forward(self, x):
        rms = x.pow(2).mean(dim=(1, 2), keepdim=True).sqrt()
        return torch.stack([x * (1 + rms), torch.roll(x, 3, -1) - rms], dim=1)


class _Padded(_Unpadded):
    """The same, padded by Demucs to its segment (``valid_length``, like HTDemucs)."""

    def valid_length(self, length: int) -> int:
        return self.n


@pytest.mark.parametrize("length", [37, 100, 101, 175, 176, 333, 1000])
@pytest.mark.parametrize("overlap", [0.25, 0.6])
@pytest.mark.parametrize("pads", [True, False])
def test_demucs_plan_equals_apply_model(length, overlap, pads):
    seg = 100
    model = _Padded(seg) if pads else _Unpadded(seg)
    torch.manual_seed(length)
    mix = torch.randn(1, 2, length)
    ref = apply_model(model, mix, shifts=0, split=True, overlap=overlap)[0].numpy()
    ola = OverlapAdd(model, 2, seg, overlap, batch_size=3, window="triangle", plan="demucs")
    x = mix[0].numpy()
    blocks = [x[None, :, i:i + 41] for i in range(0, length, 41)]  # odd streaming blocks
    got = np.concatenate(list(ola.run(blocks)), axis=-1)[0]
    assert got.shape == ref.shape
    assert np.max(np.abs(got - ref)) < 1e-5
    if length > seg and (length - seg) % int((1 - overlap) * seg):  # the plan matters here
        end = OverlapAdd(model, 2, seg, overlap, window="triangle", plan="end")
        other = np.concatenate(list(end.run([x[None]])), axis=-1)[0]
        assert np.max(np.abs(other - ref)) > 1e-3
    hop = int((1 - overlap) * seg)
    assert total_chunks(length, seg, overlap, "demucs") == count_chunks(length, seg, hop,
                                                                         "demucs")


def test_default_plan_unchanged():
    ola = OverlapAdd(lambda x: x[:, None], 1, 100, 0.25)
    assert ola.plan == "end" and ola.hop == 75
    x = np.random.default_rng(0).standard_normal((1, 1, 333)).astype(np.float32)
    out = np.concatenate(list(ola.run([x])), axis=-1)
    np.testing.assert_allclose(out[:, 0], x, atol=1e-6)


# ---------------------------------------------------------------------------- acceptance


def _serve_htdemucs(fake_hub, tmp_path, monkeypatch):  # noqa: F811
    """Serve a random tiny HTDemucs as adefossez/HTDemucs (htdemucs.yaml + 955717e8.safetensors)
    and put beside it a copy of the shipped htdemucs card, with the pins (revision, sha256) and
    the engine segment changed to the test model's."""
    from demucs.hf import hf_repo_name

    card = find_card(builtin_models_dir() / "htdemucs.toml")
    assert card.weights.hf_repo == f"adefossez/{hf_repo_name('htdemucs')}"
    (sig,) = card.args["models"]
    weights = export_demucs(tiny_htdemucs(7))
    rev = fake_hub.commit(card.weights.hf_repo, {
        "htdemucs.yaml": f"models: ['{sig}']\n".encode(),
        f"{sig}.safetensors": weights,
    })
    text = card.path.read_text(encoding="utf-8")
    text = text.replace(card.weights.revision, rev)
    text = text.replace(card.weights.files[f"{sig}.safetensors"],
                        hashlib.sha256(weights).hexdigest())
    text = text.replace("segment = 7.8", f"segment = {float(SEGMENT)}")
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "htdemucs.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("SEPARATE_MODELS", str(cards))
    return rev


def _run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        cli_main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_pull_and_split_htdemucs_match_apply_model(fake_hub, tmp_path, monkeypatch,  # noqa: F811
                                                   capsys):
    _serve_htdemucs(fake_hub, tmp_path, monkeypatch)

    code, out, err = _run_cli(["models", "pull", "htdemucs"], capsys)
    assert code == 0, err
    assert "955717e8.safetensors  ok" in out
    code, out, _ = _run_cli(["models", "verify", "htdemucs"], capsys)
    assert code == 0 and " ok " in out

    # the mixture: 2.6 segments of noise with a little structure, written as float WAV
    rng = np.random.default_rng(0)
    n = int(2.6 * SEGMENT * 44100) + 17
    t = np.arange(n) / 44100
    mix = (0.1 * rng.standard_normal((2, n)) + 0.3 * np.sin(2 * np.pi * 220 * t)).astype(
        np.float32)
    sf.write(tmp_path / "song.wav", mix.T, 44100, subtype="FLOAT")

    n_requests = len(fake_hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # split must use the pulled copy
    code, out, err = _run_cli(["split", str(tmp_path / "song.wav"), "-m", "htdemucs", "-o",
                               str(tmp_path / "out"), "--stems", "drums,bass,other,vocals",
                               "--no-residual", "--bit-depth", "float", "--device", "cpu",
                               "--json"], capsys)
    assert code == 0, err
    (entry,) = json.loads(out)["files"]
    outputs = entry["outputs"]
    assert len(fake_hub.requests) == n_requests
    monkeypatch.delenv("HF_HUB_OFFLINE")

    # the reference: demucs' own loader reading the same loopback repository, then apply_model
    from demucs.hf import get_hf_model
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        fake_hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "ENDPOINT", fake_hub.url)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "demucs_cache"))
    bag = get_hf_model("htdemucs")
    with torch.no_grad():
        ref = apply_model(bag, torch.from_numpy(mix)[None], shifts=0, split=True,
                          overlap=0.25)[0].numpy()
    assert any("htdemucs.yaml" in p for _, p in fake_hub.requests)

    for i, src in enumerate(SOURCES):
        got, sr = sf.read(outputs[src], dtype="float32")
        assert sr == 44100 and got.shape == (n, 2)
        db = energy_db(got.T - ref[i], ref[i])
        print(f"{src}: separate split vs apply_model difference {db:.1f} dB")
        assert db < -60, f"{src}: difference {db:.1f} dB"


def test_offline_without_cache_explains(fake_hub, tmp_path, monkeypatch, capsys):  # noqa: F811
    _serve_htdemucs(fake_hub, tmp_path, monkeypatch)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sf.write(tmp_path / "mix.wav", np.zeros((4410, 2), np.float32), 44100)
    code, _, err = _run_cli(["split", str(tmp_path / "mix.wav"), "-m", "htdemucs", "-o",
                             str(tmp_path / "out")], capsys)
    assert code == 2
    assert "separate models pull htdemucs" in " ".join(err.split())
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE"):
        load_model("htdemucs")


def test_shipped_demucs_cards_are_consistent():
    """Each shipped Demucs card names the repository demucs.hf reads and the bag of the
    demucs package's own remote/<name>.yaml."""
    import yaml
    from demucs.hf import hf_repo_name

    remote = Path(demucs.__file__).parent / "remote"
    for name in ("htdemucs", "htdemucs_ft", "htdemucs_6s", "hdemucs_mmi"):
        card = find_card(builtin_models_dir() / f"{name}.toml")
        bag = yaml.safe_load((remote / f"{name}.yaml").read_text())
        assert card.weights.hf_repo == f"adefossez/{hf_repo_name(name)}"
        assert card.args["models"] == bag["models"]
        assert card.args.get("weights") == bag.get("weights")
        assert card.args.get("segment") == bag.get("segment")
        assert sorted(card.weights.files) == sorted(f"{s}.safetensors" for s in bag["models"])
        assert card.engine["plan"] == "demucs" and card.engine["window"] == "triangle"
        assert card.provider == "demucs" and card.arch == "demucs"
