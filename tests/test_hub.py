"""The registry against a loopback Hub (tests/hubserver.py): pull, cache hit, offline, corrupted
download, tampered cache, 404, unknown repository, and a server that never answers."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as save_bytes

from separate.errors import ModelError
from separate.nets.simple import TinyConvModel
from separate.registry import find_card, hub, load_model
from tests.hubserver import fake_hub  # noqa: F401 - pytest fixture

REPO = "test-user/tiny-sep"


def tiny_weights(seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    model = TinyConvModel(sources=["a", "b"], audio_channels=1, hidden=4)
    return save_bytes({k: v.contiguous() for k, v in model.state_dict().items()})


def write_card(folder: Path, revision: str, sha: str, name: str = "tiny-hub",
               filename: str = "tiny.safetensors", repo: str = REPO) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    card = folder / f"{name}.toml"
    card.write_text(
        f'name = "{name}"\narch = "tiny"\nsources = ["a", "b"]\nsample_rate = 8000\n'
        f'audio_channels = 1\nlicense = "MIT"\n[args]\nhidden = 4\n'
        f'[weights]\nhf_repo = "{repo}"\nfilename = "{filename}"\nrevision = "{revision}"\n'
        f'sha256 = "{sha}"\n',
        encoding="utf-8",
    )
    return card


@pytest.fixture
def served(fake_hub, tmp_path, monkeypatch):  # noqa: F811
    """A tiny model committed to the fake Hub and its card in SEPARATE_MODELS."""
    data = tiny_weights()
    rev = fake_hub.commit(REPO, {"tiny.safetensors": data, "README.md": b"# tiny\n"})
    cards = tmp_path / "cards"
    write_card(cards, rev, hashlib.sha256(data).hexdigest())
    monkeypatch.setenv("SEPARATE_MODELS", str(cards))
    return fake_hub, data, rev


def test_pull_downloads_into_hf_home_and_loads(served, tmp_path):
    fake, data, rev = served
    card = find_card("tiny-hub")
    assert not hub.is_cached(card)
    path = hub.fetch_weights(card)
    assert path.read_bytes() == data
    # the standard HF cache layout under the temporary HF_HOME, at the pinned commit
    assert str(tmp_path / "hf_home" / "hub") in str(path)
    assert f"snapshots/{rev}" in path.as_posix()
    assert hub.is_cached(card)
    model = load_model("tiny-hub")
    assert model.sources == ["a", "b"]
    y = model(torch.randn(1, 1, 100))
    assert y.shape == (1, 2, 1, 100)
    assert any(m == "GET" for m, _ in fake.requests)


def test_cache_hit_makes_no_request(served):
    fake, _, _ = served
    load_model("tiny-hub")
    n = len(fake.requests)
    load_model("tiny-hub")
    hub.fetch_weights(find_card("tiny-hub"))
    assert len(fake.requests) == n


def test_offline_uses_cache_and_explains_when_missing(served, monkeypatch):
    fake, _, _ = served
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        load_model("tiny-hub")
    msg = str(err.value)
    assert "HF_HUB_OFFLINE" in msg and "separate models pull tiny-hub" in msg
    assert "SEPARATE_MODELS" in msg
    assert fake.requests == []  # offline means no network at all
    monkeypatch.delenv("HF_HUB_OFFLINE")
    load_model("tiny-hub")  # online: downloads
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    n = len(fake.requests)
    assert load_model("tiny-hub").sources == ["a", "b"]
    assert len(fake.requests) == n


def test_corrupted_download_is_refused_and_deleted(served):
    fake, _, _ = served
    fake.corrupt.add("tiny.safetensors")
    card = find_card("tiny-hub")
    with pytest.raises(ModelError, match="sha256.*refused"):
        hub.fetch_weights(card)
    assert not hub.is_cached(card)  # the bad bytes were not kept
    with pytest.raises(ModelError, match="sha256"):
        load_model("tiny-hub")
    fake.corrupt.clear()
    assert load_model("tiny-hub") is not None  # a clean retry works


def test_tampered_cache_is_refused_before_load(served):
    load_model("tiny-hub")
    path = hub.fetch_weights(find_card("tiny-hub")).resolve()
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="refusing to load.*pull tiny-hub --force"):
        load_model("tiny-hub")


def test_missing_file_is_a_clear_404(fake_hub, tmp_path, monkeypatch):  # noqa: F811
    rev = fake_hub.commit(REPO, {"README.md": b"no weights here\n"})
    write_card(tmp_path / "cards", rev, "0" * 64)
    monkeypatch.setenv("SEPARATE_MODELS", str(tmp_path / "cards"))
    with pytest.raises(ModelError, match=r"no file tiny.safetensors there \(HTTP 404\)"):
        load_model("tiny-hub")


def test_unknown_repository(fake_hub, tmp_path, monkeypatch):  # noqa: F811
    write_card(tmp_path / "cards", "main", "0" * 64, repo="nobody/nothing")
    monkeypatch.setenv("SEPARATE_MODELS", str(tmp_path / "cards"))
    with pytest.raises(ModelError, match="repository not found"):
        load_model("tiny-hub")


def test_silent_server_times_out_quickly(served, monkeypatch):
    fake, _, _ = served
    fake.hang = True
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "1")
    t0 = time.monotonic()
    with pytest.raises(ModelError, match=r"no answer within 1 s"):
        load_model("tiny-hub")
    assert time.monotonic() - t0 < 8
    assert fake.requests  # it did try


def test_unreachable_server(served, monkeypatch):
    fake, _, _ = served
    fake.stop()
    with pytest.raises(ModelError, match="cannot reach the server|no answer"):
        load_model("tiny-hub")


def test_card_and_weights_folder_work_offline(served, tmp_path, monkeypatch):
    """`pull --to DIR` makes a folder that works with SEPARATE_MODELS and no network."""
    fake, data, _ = served
    dest = hub.export_folder(find_card("tiny-hub"), tmp_path / "usb")
    assert (tmp_path / "usb" / "tiny.safetensors").read_bytes() == data
    monkeypatch.setenv("SEPARATE_MODELS", str(dest.parent))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    n = len(fake.requests)
    assert load_model("tiny-hub").sources == ["a", "b"]
    assert len(fake.requests) == n


def test_path_to_card_or_safetensors(tmp_path):
    """`-m` accepts a card path or a safetensors file with its card beside it."""
    data = tiny_weights(1)
    (tmp_path / "mine.safetensors").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    (tmp_path / "mine.toml").write_text(
        'arch = "tiny"\nsources = ["a", "b"]\nsample_rate = 8000\naudio_channels = 1\n'
        f'[args]\nhidden = 4\n[weights]\nembedded = "mine.safetensors"\nsha256 = "{sha}"\n',
        encoding="utf-8",
    )
    m1 = load_model(tmp_path / "mine.toml")
    m2 = load_model(str(tmp_path / "mine.safetensors"))
    x = torch.randn(1, 1, 64)
    assert torch.equal(m1(x), m2(x))
    (tmp_path / "mine.safetensors").write_bytes(tiny_weights(2))
    with pytest.raises(ModelError, match="refusing to load"):
        load_model(tmp_path / "mine.toml")


def test_pickles_are_not_loaded(tmp_path):
    torch.save(TinyConvModel(sources=["a", "b"], audio_channels=1, hidden=4).state_dict(),
               tmp_path / "w.pt")
    (tmp_path / "p.toml").write_text(
        'arch = "tiny"\nsources = ["a", "b"]\nsample_rate = 8000\naudio_channels = 1\n'
        '[args]\nhidden = 4\n[weights]\nembedded = "w.pt"\n',
        encoding="utf-8",
    )
    with pytest.raises(ModelError, match="not a .safetensors file"):
        load_model(tmp_path / "p.toml")


def test_unpinned_hub_file_loads_with_a_warning(fake_hub, tmp_path, monkeypatch):  # noqa: F811
    fake_hub.commit(REPO, {"tiny.safetensors": tiny_weights()})
    card = write_card(tmp_path / "cards", "main", "")
    monkeypatch.setenv("SEPARATE_MODELS", str(card.parent))
    with pytest.warns(UserWarning, match="pins no sha256"):
        assert load_model("tiny-hub").sources == ["a", "b"]


def test_a_broken_card_does_not_hide_the_others(tmp_path, monkeypatch):
    (tmp_path / "broken.toml").write_text("arch = [unclosed\n", encoding="utf-8")
    monkeypatch.setenv("SEPARATE_MODELS", str(tmp_path))
    from separate.registry import list_cards

    with pytest.warns(UserWarning, match="broken.toml"):
        names = [c.name for c in list_cards()]
    assert "identity" in names
