"""The metric and aggregation of benchmarks/experiment_fewshot.py (Tables 1-3)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def exp():
    spec = importlib.util.spec_from_file_location(
        "experiment_fewshot", ROOT / "benchmarks" / "experiment_fewshot.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_target_sdr_matches_museval_and_skips_silent_windows(exp):
    museval = pytest.importorskip("museval")
    rng = np.random.default_rng(0)
    sr = 8000
    t = rng.standard_normal(4 * sr)
    t[2 * sr : 3 * sr] *= 1e-6  # the target rests (−120 dB) in the third window
    a = rng.standard_normal(4 * sr)
    est = 0.7 * t + 0.2 * a
    ref = museval.metrics.bss_eval(t[None, :, None], est[None, :, None], window=sr, hop=sr)[0][0]
    assert ref[2] < -60  # museval scores the resting window, far below the others
    got = exp.target_sdr(t, est, t + a, sr)
    assert got == pytest.approx(np.median(ref[[0, 1, 3]]), abs=1e-3)
    assert np.isnan(exp.target_sdr(t, np.zeros_like(t), t + a, sr))


def test_cell_is_mean_and_std_of_per_draw_means(exp):
    draws = [[1.0, 3.0], [2.0, 6.0]]  # per-draw means 2 and 4
    m, s, n = exp.cell(draws)
    assert (m, s, n) == (3.0, 1.0, 2)
    assert exp.fmt(draws) == "3.00 ± 1.00"
    assert exp.fmt([[1.0, 2.0]]) == "1.50"
    pooled = exp.merge({"a": [[1.0], [2.0]], "b": [[3.0], [4.0]]}, ["a", "b"])
    assert pooled == [[1.0, 3.0], [2.0, 4.0]]


def test_shards_and_a_later_run_merge_per_item(exp):
    """Shards (and a +Neg run after the main one) merge per item; a row is averaged per draw."""
    a = {"synthetic": {"per_item": {"mixture": {"t1/v1": [0.0]}, "5-shot": {"t1/v1": [2.0, 4.0]}},
                       "classes": {"t1/v1": "piano"}, "unseen": [], "tracks": 2, "seconds": 1.0}}
    b = {"synthetic": {"per_item": {"mixture": {"t2/v1": [-2.0]}, "5-shot": {"t2/v1": [6.0, 8.0]},
                                    "baseline": {"t2/v1": [1.0]}},
                       "classes": {"t2/v1": "accordion"}, "unseen": ["accordion"], "tracks": 2,
                       "seconds": 2.0}}
    neg = {"synthetic": {"per_item": {"mixture": {"t1/v1": [0.0]},
                                      "5-shot +Neg": {"t1/v1": [5.0, None]}},
                         "classes": {"t1/v1": "piano"}, "unseen": [], "tracks": 2, "seconds": 1.0}}
    raw = exp.merge_runs([a, b, neg])
    syn = raw["synthetic"]
    assert syn["unseen"] == ["accordion"] and syn["seconds"] == 4.0
    assert syn["per_item"]["mixture"] == {"t1/v1": [0.0], "t2/v1": [-2.0]}  # no double count
    rows = exp.rows_of(syn)
    assert rows["5-shot"] == {"piano": [[2.0], [4.0]], "accordion": [[6.0], [8.0]]}
    assert rows["5-shot +Neg"] == {"piano": [[5.0], []]}  # a draw not run is not a value
    text = exp.render(raw, [])
    t1 = text.split("### Table 2")[0]
    assert "| 5-shot | 3.00 ± 1.00 | 3.00 ± 1.00 |" in t1  # seen: piano only
    assert "| baseline | 1.00 | 1.00 |" in text.split("### Table 2")[1]  # unseen: accordion
