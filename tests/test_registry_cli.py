"""`separate models list/show/pull/verify/path/push` against the loopback Hub."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import torch

from separate.cli import main as cli_main
from separate.registry import find_card, hub, load_model
from tests.hubserver import fake_hub  # noqa: F401 - pytest fixture
from tests.test_hub import REPO, tiny_weights, write_card

REPO_ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        cli_main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, " ".join(out.err.split())


@pytest.fixture
def served(fake_hub, tmp_path, monkeypatch):  # noqa: F811
    data = tiny_weights()
    rev = fake_hub.commit(REPO, {"tiny.safetensors": data})
    write_card(tmp_path / "cards", rev, hashlib.sha256(data).hexdigest())
    monkeypatch.setenv("SEPARATE_MODELS", str(tmp_path / "cards"))
    return fake_hub, data, rev


def test_list_table_and_json(served, capsys):
    code, out, _ = run(["models", "list"], capsys)
    assert code == 0
    for word in ("tiny-hub", "identity", "htdemucs", "MIT", "licence", "cached"):
        assert word in out
    code, out, _ = run(["models", "list", "--json"], capsys)
    rows = {r["name"]: r for r in map(json.loads, _json_objects(out))}
    assert rows["tiny-hub"]["cached"] == "no"
    assert rows["tiny-hub"]["weights"] == f"hub: {REPO}"
    assert rows["identity"]["weights"] == "none"
    run(["models", "pull", "tiny-hub"], capsys)
    code, out, _ = run(["models", "list", "--json"], capsys)
    rows = {r["name"]: r for r in map(json.loads, _json_objects(out))}
    assert rows["tiny-hub"]["cached"] == "yes"
    assert rows["tiny-hub"]["size"] == len(served[1])


def _json_objects(text: str) -> list[str]:
    """Split the concatenated pretty-printed JSON objects `print_json` wrote."""
    objs, depth, start = [], 0, None
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
            start = i if depth == 1 else start
        elif ch == "}":
            depth -= 1
            if depth == 0:
                objs.append(text[start:i + 1])
    return objs


def test_show_pull_verify_path(served, capsys):
    fake, data, rev = served
    code, out, _ = run(["models", "show", "tiny-hub"], capsys)
    assert code == 0 and rev in out and "missing" in out
    code, _, err = run(["models", "path", "tiny-hub"], capsys)
    assert code == 2 and "separate models pull tiny-hub" in err
    code, _, err = run(["models", "verify", "tiny-hub"], capsys)
    assert code == 2 and "missing" in err
    code, out, _ = run(["models", "pull", "tiny-hub"], capsys)
    assert code == 0 and "tiny.safetensors  ok" in out
    code, out, _ = run(["models", "path", "tiny-hub"], capsys)
    path = Path(out.strip())
    assert code == 0 and path.read_bytes() == data
    code, out, _ = run(["models", "verify", "tiny-hub"], capsys)
    assert code == 0 and " ok " in out
    blob = path.resolve()
    blob.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    code, out, err = run(["models", "verify", "tiny-hub"], capsys)
    assert code == 2 and "MISMATCH" in out
    code, out, _ = run(["models", "pull", "tiny-hub", "--force"], capsys)
    assert code == 0
    assert Path(out.split()[-1]).read_bytes() == data


def test_pull_to_folder(served, tmp_path, capsys):
    code, _, err = run(["models", "pull", "tiny-hub", "--to", str(tmp_path / "usb")], capsys)
    assert code == 0 and "SEPARATE_MODELS" in err
    assert sorted(p.name for p in (tmp_path / "usb").iterdir()) == ["tiny-hub.toml",
                                                                    "tiny.safetensors"]


def test_unknown_model_lists_known(served, capsys):
    code, _, err = run(["models", "pull", "nope"], capsys)
    assert code == 2 and "unknown model 'nope'" in err and "tiny-hub" in err


def test_push_round_trip(fake_hub, tmp_path, monkeypatch, capsys):  # noqa: F811
    """Push a local card to the loopback Hub, then use the published card from another
    machine (a fresh HF_HOME) with nothing but that card."""
    data = tiny_weights(3)
    local = tmp_path / "local"
    local.mkdir()
    (local / "mine.safetensors").write_bytes(data)
    (local / "mine.toml").write_text(
        'name = "mine"\ndescription = "a test model"\narch = "tiny"\nsources = ["a", "b"]\n'
        'sample_rate = 8000\naudio_channels = 1\nlicense = "MIT"\n[args]\nhidden = 4\n'
        '[weights]\nembedded = "mine.safetensors"\n[metrics]\nsdr = 4.25\n',
        encoding="utf-8",
    )
    code, _, err = run(["models", "push", str(local / "mine.toml"), "--repo", "me/mine"],
                       capsys)
    assert code == 2 and "token" in err  # no token: refused before any request
    assert fake_hub.requests == []

    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    published = tmp_path / "published.toml"
    code, _, err = run(["models", "push", str(local / "mine.toml"), "--repo", "me/mine",
                        "-o", str(published)], capsys)
    assert code == 0, err
    assert all(t == "Bearer hf_test_token" for t in fake_hub.tokens) and fake_hub.tokens
    card = tomllib.loads(published.read_text())
    files = fake_hub.files_at("me/mine")
    assert files["mine.safetensors"] == data and "README.md" in files
    assert card["weights"]["hf_repo"] == "me/mine"
    assert card["weights"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert card["metrics"]["sdr"] == 4.25
    # the card in the repository is the same pinned card
    assert tomllib.loads(files["mine.toml"].decode()) == card

    other = tmp_path / "other-machine"
    other.mkdir()
    (other / "mine.toml").write_text(published.read_text())
    monkeypatch.setenv("SEPARATE_MODELS", str(other))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "other-home"))
    x = torch.randn(1, 1, 50)
    assert torch.equal(load_model("mine")(x), load_model(local / "mine.toml")(x))
    hub_card = find_card("mine")
    assert hub.is_cached(hub_card)
    assert hub_card.weights.revision == card["weights"]["revision"]


def test_push_argument_errors(tmp_path, capsys):
    code, _, err = run(["models", "push", str(tmp_path / "x.toml"), "--repo", "bad"], capsys)
    assert code == 2 and "user/name" in err
    code, _, err = run(["models", "push", str(tmp_path / "x.toml"), "--repo", "a/b"], capsys)
    assert code == 2 and "expected a card" in err


def test_environment_in_a_fresh_process(served, tmp_path):
    """HF_ENDPOINT / HF_HOME / HF_HUB_OFFLINE set before the process starts (as users do)."""
    fake, data, _ = served
    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    cmd = [sys.executable, "-m", "separate", "models", "pull", "tiny-hub"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO_ROOT,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert str(tmp_path / "hf_home") in res.stdout
    env["HF_HUB_OFFLINE"] = "1"
    n = len(fake.requests)
    res = subprocess.run([sys.executable, "-m", "separate", "models", "verify", "tiny-hub"],
                         env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert res.returncode == 0 and " ok " in res.stdout
    assert len(fake.requests) == n
