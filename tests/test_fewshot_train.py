"""Few-shot training under a CPU budget: checkpoints, resume, CPU cap, snapshot export, and the
+Neg model started from a few-shot one (separate.fewshot.train)."""

from __future__ import annotations

import numpy as np
import pytest
import tomllib
import torch

from separate.fewshot.toy import make_toy_corpus
from separate.fewshot.train import (
    TrainConfig,
    build_model,
    export,
    export_checkpoint,
    init_from,
    train,
)

SMALL = dict(channels=[4, 8, 8, 8, 8, 8], filters=8, n_mels=32, batch_size=2, valid_batches=1,
             max_shots=2)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_toy_corpus(tmp_path_factory.mktemp("toy"), tracks=(4, 2, 0), seconds=7.0)


def test_checkpoint_resume_and_snapshot(corpus, tmp_path):
    ck = tmp_path / "ck"
    cfg = TrainConfig(corpus=str(corpus), out=str(tmp_path / "a.safetensors"), steps=2,
                      valid_every=1, checkpoint_dir=str(ck), save_at=[1], **SMALL)
    r = train(cfg)
    assert r["steps"] == 2 and (ck / "last.pt").is_file() and (ck / "step1.pt").is_file()
    card = tomllib.loads((tmp_path / "a.toml").read_text())
    t = card["training"]
    assert t["steps"] == 2 and t["cpu_seconds"] > 0 and t["best_step"] in (1, 2)
    assert t["data"]["train"]["tracks"] == 4 and t["data"]["train"]["hours"] > 0
    # resume continues from step 2 to step 3, keeping the history
    cfg3 = TrainConfig(**{**cfg.__dict__, "steps": 3, "resume": True})
    r3 = train(cfg3)
    assert r3["steps"] == 3 and [h["step"] for h in r3["history"]] == [1, 2, 3]
    assert r3["cpu_seconds"] >= r["cpu_seconds"]
    # the snapshot of step 1 exports the best state as of step 1
    w, c = export_checkpoint(ck / "step1.pt", tmp_path / "s1.safetensors")
    t1 = tomllib.loads(c.read_text())["training"]
    assert w.is_file() and t1["steps"] == 1 and t1["best_step"] == 1


def test_cpu_cap_stops_early(corpus, tmp_path):
    cfg = TrainConfig(corpus=str(corpus), out=str(tmp_path / "b.safetensors"), steps=50,
                      valid_every=25, max_cpu_minutes=1e-6, **SMALL)
    r = train(cfg)
    assert r["steps"] == 1 and np.isfinite(r["best_valid"])  # validated before stopping


def test_neg_model_starts_as_the_fewshot_model(tmp_path):
    """init_from sets the +Neg combining layer to [I 0]: same output whatever the negatives."""
    torch.manual_seed(0)
    base_cfg = TrainConfig(corpus="-", out=str(tmp_path / "f.safetensors"), **SMALL)
    base = build_model(base_cfg)
    export(base, base_cfg, 0.0, 0, 0.0)
    neg = build_model(TrainConfig(corpus="-", out="-", negatives=5, **SMALL))
    missing = init_from(neg, str(tmp_path / "f.safetensors"))
    assert missing == []
    base = build_model(base_cfg)
    init_from(base, str(tmp_path / "f.toml"))  # via the card: float16 weights like neg's
    base.eval()
    neg.eval()
    g = torch.Generator().manual_seed(1)
    pos = [torch.randn(22050, generator=g) for _ in range(2)]
    negs = [torch.randn(22050, generator=g) for _ in range(3)]
    mix = torch.randn(1, 1, 22050, generator=g)
    base.condition(pos)
    neg.condition(pos, negs)
    with torch.no_grad():
        assert torch.allclose(base(mix), neg(mix), atol=1e-5)
    with pytest.raises(FileNotFoundError):
        init_from(neg, str(tmp_path / "nope.pt"))


def test_an_old_pickled_checkpoint_migrates_once_and_resumes(corpus, tmp_path):
    """A ``last.pt`` as the old trainer wrote it (``torch.save`` of ``asdict(cfg)`` with a
    ``Path`` corpus, numpy numbers in the summaries) is refused by ``weights_only=True`` alone;
    resuming converts it once to plain values and continues."""
    from pathlib import Path

    ck = tmp_path / "ck"
    cfg = TrainConfig(corpus=str(corpus), out=str(tmp_path / "a.safetensors"), steps=2,
                      valid_every=1, checkpoint_dir=str(ck), **SMALL)
    train(cfg)
    old = torch.load(ck / "last.pt", weights_only=True)
    old["config"]["corpus"] = Path(corpus)
    old["data"]["train"]["hours"] = np.float64(old["data"]["train"]["hours"])
    old["history"][0]["loss"] = np.float32(old["history"][0]["loss"])
    torch.save(old, ck / "last.pt")  # the old _save_checkpoint: any picklable object
    with pytest.raises(Exception, match="Unsupported global|not allowed"):
        torch.load(ck / "last.pt", weights_only=True)
    with pytest.warns(UserWarning, match="converted from the old pickled format"):
        r3 = train(TrainConfig(**{**cfg.__dict__, "steps": 3, "resume": True}))
    assert r3["steps"] == 3 and [h["step"] for h in r3["history"]] == [1, 2, 3]
    new = torch.load(ck / "last.pt", weights_only=True)  # rewritten in the plain format
    assert new["step"] == 3 and new["config"]["corpus"] == str(corpus)
    assert isinstance(new["history"][0]["loss"], float)
    assert isinstance(new["data"]["train"]["hours"], float)
