"""Issue 15 acceptance: at zero steps, `separate adapt` writes what `separate split` writes."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import ROCK, require_shared
from tests.conftest import run_cli as run

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_adapt_with_zero_epochs_writes_splits_stems(tmp_path, capsys):
    src = require_shared(ROCK / "mixture.flac")
    info = sf.info(str(src))
    x, sr = sf.read(str(src), frames=3 * info.samplerate, start=2 * info.samplerate,
                    always_2d=True)
    clip = tmp_path / "clip.flac"
    sf.write(str(clip), x, sr, subtype=info.subtype)  # the original's 16-bit FLAC
    marks = tmp_path / "marks.csv"
    marks.write_text("source,start,end\nvocals,0,1.5\n", encoding="utf-8")
    code, _, err = run(["adapt", str(clip), "-a", str(marks), "--epochs", "0", "-m", "default",
                        "--device", "cpu", "-o", str(tmp_path / "A")], capsys)
    assert code == 0, err
    code, _, err = run(["split", str(clip), "-m", "default", "--device", "cpu",
                        "-o", str(tmp_path / "B")], capsys)
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "A").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "B" / "clip").iterdir())
    assert names == ["bass.wav", "drums.wav", "other.wav", "vocals.wav"]
    for name in names:
        a, ra = sf.read(str(tmp_path / "A" / name), always_2d=True)
        b, rb = sf.read(str(tmp_path / "B" / "clip" / name), always_2d=True)
        assert ra == rb == sr and a.shape == b.shape == x.shape
        assert sf.info(str(tmp_path / "A" / name)).subtype == \
            sf.info(str(tmp_path / "B" / "clip" / name)).subtype
        diff_db = 20 * np.log10(np.abs(a - b).max() + 1e-12)
        assert diff_db <= -90, (name, diff_db)
    total = sum(sf.read(str(tmp_path / "A" / n), always_2d=True)[0] for n in names)
    np.testing.assert_allclose(total, x, atol=4 * 2.0**-15)  # sum to the mixture (16-bit)


def test_gate_removed_energy_goes_to_the_residual(tmp_path):
    from separate.adapt.loop import AdaptConfig
    from separate.adapt.run import adapt
    from tests.conftest import write_tone

    card = tmp_path / "tiny.toml"
    card.write_text('name = "tiny"\narch = "tiny"\nsources = ["vocals", "drums"]\n'
                    'sample_rate = 8000\naudio_channels = 2\nlicense = "MIT"\n'
                    '[engine]\nsegment = 1.0\n', encoding="utf-8")
    x = write_tone(tmp_path / "song.wav", seconds=1.0, sr=8000)
    marks = tmp_path / "marks.csv"
    marks.write_text("source,start,end\nvocals,0,0.5\n", encoding="utf-8")
    cfg = AdaptConfig(epochs=0, layers="D")

    def run_adapt(**kw):
        import torch

        torch.manual_seed(0)  # the tiny card has no weights: the same random ones each run
        return adapt(tmp_path / "song.wav", marks, str(card), config=cfg, device="cpu",
                     **kw).stems

    plain = run_adapt()
    gated = run_adapt(gate_outputs=True)
    raw = run_adapt(gate_outputs=True, residual=False)
    assert sorted(gated) == ["drums", "residual", "vocals"]
    cut = 4000 + 512
    assert np.abs(gated["vocals"][:, cut:]).max() == 0.0
    np.testing.assert_allclose(gated["vocals"][:, :4000], plain["vocals"][:, :4000], atol=1e-6)
    np.testing.assert_allclose(sum(gated.values()), x, atol=1e-5)
    # what the gate took from the vocals went to the residual stem
    np.testing.assert_allclose(gated["residual"][:, cut:],
                               plain["residual"][:, cut:] + plain["vocals"][:, cut:], atol=1e-5)
    # --no-residual: the raw (gated) outputs
    assert sorted(raw) == ["drums", "vocals"]
    np.testing.assert_allclose(raw["vocals"], gated["vocals"], atol=1e-6)
    np.testing.assert_allclose(raw["drums"], plain["drums"], atol=1e-6)
