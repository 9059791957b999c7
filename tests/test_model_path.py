"""One model path (issue 15): every architecture registered with its subcommand and checked
against that subcommand's contract, one card writer, and checkpoints that are never unpickled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import torch

from separate import nets
from separate.errors import ModelError, UsageError
from separate.registry import builtin_models_dir, find_card, load_model, write_card
from separate.training.checkpoint import load_checkpoint, save_checkpoint


def test_every_architecture_honours_the_contract_of_its_subcommand():
    nets._import_all()
    cheap = {"identity": {}, "gains": {"gains": [0.5, 0.5]}, "tiny": {},
             "salience_unet": {"width": 2}, "source_filter": {"hidden": 8},
             "fewshot": {"channels": [4, 8, 8, 8, 8, 8], "filters": 8, "n_mels": 32},
             "fewshot-class": {"channels": [4, 8, 8, 8, 8, 8], "classes": ["sax", "flute"]},
             "unet": {"channels": [4, 8, 8, 8, 8, 8], "bins": 64}}
    for name, spec in nets.SPECS.items():
        if name == "demucs":  # built from its weight files only (test_demucs_provider)
            continue
        assert spec.subcommand in nets.SUBCOMMANDS
        model = spec.cls(**cheap.get(name, {}))
        nets.check_contract(model, spec.subcommand)
    with pytest.raises(TypeError, match="lacks `sources`"):
        nets.check_contract(nets.build("salience_unet", width=2), "split")
    with pytest.raises(TypeError, match="lacks `condition`"):
        nets.check_contract(nets.build("identity"), "fewshot")


@pytest.mark.parametrize("name, subcommand", [
    ("default", "split"), ("identity", "split"), ("fewshot", "fewshot"),
    ("fewshot-class", "fewshot"), ("f0-choir", "f0 split"),
    ("f0-salience", "f0 track --method salience")])
def test_shipped_cards_load_through_the_one_loader(name, subcommand):
    model = load_model(name, subcommand=subcommand)
    assert model.card.subcommand == subcommand and not model.training


def _card_without_subcommand(tmp_path: Path, name: str) -> Path:
    """A shipped card as an older exporter wrote it: no ``subcommand`` key."""
    src = builtin_models_dir() / f"{name}.toml"
    data = tomllib.loads(src.read_text())
    data.pop("subcommand")
    data["weights"]["embedded"] = str(builtin_models_dir() / data["weights"]["embedded"])
    import tomli_w

    p = tmp_path / f"old-{name}.toml"
    p.write_text(tomli_w.dumps(data))
    return p


def test_a_card_without_subcommand_is_its_architectures_not_split(tmp_path):
    from separate.f0.split import load_source_filter
    from separate.fewshot import load_fewshot_model

    f0 = _card_without_subcommand(tmp_path, "f0-choir")
    fs = _card_without_subcommand(tmp_path, "fewshot")
    assert find_card(f0).subcommand == "f0 split" and find_card(fs).subcommand == "fewshot"
    for card, command in ((f0, "f0 split"), (fs, "fewshot")):
        with pytest.raises(ModelError, match=f"run it with `separate {command}`"):
            load_model(card, subcommand="split")
    assert load_source_filter(f0).card.name == "f0-choir"
    assert load_fewshot_model(fs).card.name == "fewshot"


def test_a_card_that_contradicts_its_architecture_is_refused(tmp_path):
    data = tomllib.loads((builtin_models_dir() / "f0-salience.toml").read_text())
    data["subcommand"] = "split"
    data["weights"]["embedded"] = str(builtin_models_dir() / "f0-salience.safetensors")
    import tomli_w

    p = tmp_path / "liar.toml"
    p.write_text(tomli_w.dumps(data))
    with pytest.raises(ModelError, match="run by `separate f0 track --method salience`"):
        load_model(p, subcommand="split")


def test_fewshot_loader_refuses_other_models():
    from separate.fewshot import load_fewshot_model

    with pytest.raises(ModelError, match="not for `separate fewshot`"):
        load_fewshot_model("identity")
    with pytest.raises(UsageError, match="not a few-shot model"):
        load_fewshot_model(torch.nn.Linear(2, 2))


def test_write_card_requires_a_subcommand_that_fits_the_architecture(tmp_path):
    data = {"name": "x", "arch": "identity", "sources": ["a", "b"], "sample_rate": 8000,
            "audio_channels": 1, "description": None}
    with pytest.raises(TypeError):
        write_card(tmp_path / "x.toml", data)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unknown subcommand"):
        write_card(tmp_path / "x.toml", data, subcommand="splitt")
    with pytest.raises(ValueError, match="run by `separate split`"):
        write_card(tmp_path / "x.toml", data, subcommand="fewshot")
    with pytest.raises(ValueError, match="missing key"):
        write_card(tmp_path / "x.toml", {"arch": "identity"}, subcommand="split")
    p = write_card(tmp_path / "x.toml", data, subcommand="split")
    got = tomllib.loads(p.read_text())
    assert got["subcommand"] == "split" and "description" not in got  # None left out
    assert sorted(q.name for q in tmp_path.iterdir()) == ["x.toml"]  # no .part left
    assert load_model(p, subcommand="split").sources == ["a", "b"]


class _Payload:
    """Pickles as a call of ``os.system``: loading it with a plain unpickler runs a command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_with_a_code_payload_is_refused_and_does_not_run(tmp_path):
    from separate.fewshot.train import TrainConfig, build_model, init_from
    from separate.training.loop import init_from as train_init_from

    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    torch.save({"model": {}, "x": _Payload(marker)}, evil)
    with pytest.raises(ModelError, match=r"evil\.pt: refused .*system.*not allowed"):
        load_checkpoint(evil)
    # fewshot-train --init X.pt (a user-supplied file)
    model = build_model(TrainConfig(corpus="-", out="-", channels=[4, 8, 8, 8, 8, 8], filters=8,
                                    n_mels=32))
    with pytest.raises(ModelError, match=r"evil\.pt: refused"):
        init_from(model, str(evil))
    # separate train --init X.pt
    with pytest.raises(UsageError, match=r"evil\.pt.*refused"):
        train_init_from(nets.build("tiny"), str(evil))
    # the migration tool refuses it too, and leaves it as it was
    before = evil.read_bytes()
    r = subprocess.run([sys.executable, "-m", "separate.training.migrate", str(tmp_path)],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(
                           Path(__file__).resolve().parent.parent)})
    assert r.returncode == 1 and "evil.pt: refused" in r.stderr, r.stderr
    assert evil.read_bytes() == before
    assert not marker.exists()


def test_migrate_converts_old_data_objects_once(tmp_path):
    import numpy as np

    from separate.training.migrate import migrate

    old = tmp_path / "run" / "last.pt"
    old.parent.mkdir()
    torch.save({"model": {"w": torch.ones(2)}, "config": {"out": Path("/x")},
                "summary": {"loss": np.float64(0.5), "n": np.int64(3)},
                "curve": np.arange(3.0)}, old)
    assert migrate([tmp_path / "run"])["converted"] == [old]
    new = torch.load(old, weights_only=True)
    assert new["config"]["out"] == "/x" and new["summary"] == {"loss": 0.5, "n": 3}
    assert torch.equal(new["curve"], torch.arange(3.0, dtype=torch.float64))
    assert migrate([old])["plain"] == [old]  # once


def test_save_checkpoint_refuses_objects(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint\['config'\]\['out'\] is a pathlib"):
        save_checkpoint(tmp_path / "c.pt", {"config": {"out": Path("/x")}})
    assert not any(tmp_path.iterdir())


def test_hub_card_text_goes_through_the_card_writer(tmp_path):
    from separate.registry.hub import _hub_card_text

    old = find_card(_card_without_subcommand(tmp_path, "f0-salience"))
    text = _hub_card_text(old, "me/sal", "a" * 40, {"sal.safetensors": "b" * 64})
    data = tomllib.loads(text)
    assert data["subcommand"] == "f0 track --method salience"  # the card had none
    assert data["weights"] == {"hf_repo": "me/sal", "revision": "a" * 40,
                               "filename": "sal.safetensors", "sha256": "b" * 64}
    assert data["features"]["bins"] == 360  # free-form tables kept
