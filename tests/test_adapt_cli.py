"""`separate adapt` and `separate marks` end to end on small files, and their error messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from separate.cli import main
from tests.conftest import write_tone

SR = 8000


# one intra-op thread (conftest): small tensors, shared 2-core machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tiny_card(tmp_path):
    card = tmp_path / "tiny.toml"
    card.write_text(
        'name = "tiny"\narch = "tiny"\nsources = ["vocals", "drums"]\nsample_rate = 8000\n'
        'audio_channels = 2\nlicense = "MIT"\n[engine]\nsegment = 1.0\n',
        encoding="utf-8",
    )
    return card


def test_adapt_writes_stems_and_a_model_split_can_use(tmp_path, capsys, tiny_card):
    write_tone(tmp_path / "song.wav", seconds=2.0, sr=SR)
    marks = tmp_path / "marks.txt"  # Audacity labels
    marks.write_text("0.0\t1.0\tvocals\n", encoding="utf-8")
    code, _, err = run(
        ["adapt", str(tmp_path / "song.wav"), "--activations", str(marks), "-m", str(tiny_card),
         "--layers", "D", "--epochs", "2", "--segment", "0.5", "--lr", "1e-3", "--gate",
         "-o", str(tmp_path / "out"), "--save-model", str(tmp_path / "models" / "mine")],
        capsys,
    )
    assert code == 0, err
    assert "trained D" in err and "loss" in err
    vocals, sr = sf.read(tmp_path / "out" / "vocals.wav", always_2d=True)
    assert sr == SR and vocals.shape == (2 * SR, 2)
    assert np.abs(vocals[SR + 512 :]).max() == 0.0  # gated after its mark ends
    assert (tmp_path / "models" / "mine.toml").is_file()
    code, out, err = run(
        ["split", str(tmp_path / "song.wav"), "-m", str(tmp_path / "models" / "mine.toml"),
         "-o", str(tmp_path / "split"), "--json"],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out)["separated"] == 1


@pytest.mark.parametrize(
    ("marks", "extra", "code", "needle"),
    [
        ("guitar,0,1\n", [], 1, "unknown source 'guitar'; the model's sources are vocals, drums"),
        ("vocals,1,0.5\n", [], 1, "line 1: end 0.5 s is before start 1.0 s"),
        ("vocals,0,1\n", ["--layers", "L3:D"], 2, "no stage 'L3'; its stages are L1, D"),
        ("vocals,0,1\n", ["--loss", "magic"], 2, "loss must be one of activations"),
        ("vocals,0,1\n", ["--lambda", "-1"], 2, "lambda must be >= 0"),
    ],
)
def test_adapt_errors_are_one_line(tmp_path, capsys, tiny_card, marks, extra, code, needle):
    write_tone(tmp_path / "song.wav", seconds=1.0, sr=SR)
    (tmp_path / "m.csv").write_text(marks, encoding="utf-8")
    got, _, err = run(
        ["adapt", str(tmp_path / "song.wav"), "-a", str(tmp_path / "m.csv"), "-m", str(tiny_card),
         "--epochs", "1", "--segment", "0.5", "-o", str(tmp_path / "out"), *extra],
        capsys,
    )
    assert got == code, err
    assert needle in err
    assert "Traceback" not in err


def test_marks_cli_and_silence_quarters(tmp_path, capsys):
    stems = tmp_path / "stems"
    t = np.arange(4 * SR) / SR
    for i, name in enumerate(("bass", "other")):
        x = 0.3 * np.sin(2 * np.pi * (110 * (i + 1)) * t) * (t < 2 if i == 0 else 1)
        stems.mkdir(exist_ok=True)
        sf.write(stems / f"{name}.wav", x.astype(np.float32), SR)
    code, _, err = run(["marks", str(stems), "-o", str(tmp_path / "m.csv"), "--plot",
                        str(tmp_path / "m.png")], capsys)
    assert code == 0, err
    rows = (tmp_path / "m.csv").read_text().splitlines()
    assert rows[0] == "source,start,end"
    bass = [r for r in rows if r.startswith("bass,")]
    assert len(bass) == 1 and abs(float(bass[0].split(",")[2]) - 2.0) < 0.75  # envelope lag
    assert (tmp_path / "m.png").stat().st_size > 1000
    code, _, err = run(["marks", "--silence-quarters", str(stems), "-o", str(tmp_path / "q")],
                       capsys)
    assert code == 2 and "--seed" in err
    code, _, err = run(["marks", "--silence-quarters", str(stems), "-o", str(tmp_path / "q"),
                        "--seed", "4"], capsys)
    assert code == 0, err
    assert "silent from" in err
    assert (tmp_path / "q" / "mixture.wav").is_file()
    code, _, err = run(["marks", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.csv")], capsys)
    assert code == 2 and "not a folder of stems" in err
