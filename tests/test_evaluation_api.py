"""separate.evaluation.evaluate: grouping, SI-SDR, activity masks, aggregation, files."""

from __future__ import annotations

import csv
import json
import math
import warnings

import numpy as np
import pytest

from separate.evaluation import TrackScores, aggregate, evaluate, si_sdr
from separate.evaluation.activity import pool_activity
from separate.evaluation.core import scenarios
from separate.evaluation.scores import write_frames_csv, write_track_json

SR = 8000


def _sources(n=3, seconds=3.0, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    t = int(seconds * SR)
    refs = {f"s{i}": rng.standard_normal((channels, t)) for i in range(n)}
    ests = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in refs.items()}
    return ests, refs


def test_scenarios_follow_museval():
    assert scenarios(["vocals", "drums", "bass", "other"]) == [
        (["vocals", "drums", "bass", "other"], ["vocals", "drums", "bass", "other"])]
    va = ["vocals", "accompaniment"]
    assert scenarios(["vocals", "drums", "accompaniment"]) == [
        (["vocals", "drums"], ["drums"]), (va, va)]
    assert scenarios(["vocals", "accompaniment"]) == [
        (["vocals", "accompaniment"], ["vocals", "accompaniment"])]
    assert scenarios(["piano"]) == [(["piano"], ["piano"])]


def test_si_sdr_known_values():
    rng = np.random.default_rng(1)
    s = rng.standard_normal((1, 2, 4000))
    n = rng.standard_normal((1, 2, 4000))
    n -= (np.sum(n * s) / np.sum(s * s)) * s  # orthogonal to s over the whole window
    est = 0.5 * s + n
    # Eq. 5: target = 0.5 s, residual = n
    expected = 10 * np.log10(np.sum((0.5 * s) ** 2) / np.sum(n**2))
    assert si_sdr(s, est, 4000, 4000)[0, 0] == pytest.approx(expected, abs=1e-9)
    assert si_sdr(s, 3 * s, 4000, 4000)[0, 0] > 200  # scale does not matter (rounding only)
    assert np.isnan(si_sdr(np.zeros((1, 1, 100)), np.ones((1, 1, 100)), 100, 100)[0, 0])


def test_evaluate_shapes_and_medians():
    ests, refs = _sources(channels=2)
    sc = evaluate(ests, refs, SR, name="t", fast=True)
    assert sc.targets == ["s0", "s1", "s2"]
    assert sc.metrics == ["SDR", "SIR", "SAR", "ISR", "SI-SDR"]
    assert len(sc.starts) == 3 and sc.starts.tolist() == [0.0, 1.0, 2.0]
    for t in sc.targets:
        v = sc.values[t]["SDR"]
        assert v.shape == (3,)
        assert sc.median(t, "SDR") == pytest.approx(float(np.median(v)))
        assert 5 < sc.median(t, "SDR") < 15  # noise at -10.5 dB


def test_evaluate_rejects_time_channels_and_mismatch():
    ests, refs = _sources()
    with pytest.raises(ValueError, match="transpose"):
        evaluate({"s0": ests["s0"].T}, refs, SR)
    from separate.errors import InputError

    with pytest.raises(InputError, match="no estimated source"):
        evaluate({"x": ests["s0"]}, refs, SR)


def test_estimate_length_is_fitted_and_zero_estimate_is_nan():
    ests, refs = _sources(n=3)
    ests["s0"] = ests["s0"][:, :-500]  # shorter: zero-padded like museval
    ests["s2"] = np.zeros_like(ests["s2"])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sc = evaluate(ests, refs, SR, fast=True)
    assert any("all zeros" in str(x.message) for x in w)
    assert np.isnan(sc.values["s2"]["SDR"]).all()
    assert np.isfinite(sc.values["s0"]["SDR"]).all()
    assert (sc.values["s2"]["SI-SDR"] == -np.inf).all()  # silent estimate: the worst score


def test_skip_silent_and_activity_masks():
    ests, refs = _sources(n=2)
    refs["s0"][:, SR : 2 * SR] *= 1e-4  # near-silent second window (not exactly zero)
    sc = evaluate(ests, refs, SR, fast=True, skip_silent=True)
    assert sc.active["s0"].tolist() == [True, False, True]
    assert sc.active["s1"].tolist() == [True, True, True]
    assert np.isnan(sc.counted("s0", "SDR")[1])
    assert sc.median("s0", "SDR") == pytest.approx(np.median(sc.values["s0"]["SDR"][[0, 2]]))
    # a mask per window, and one at 100 Hz pooled onto windows
    sc = evaluate(ests, refs, SR, fast=True, bss=False, activity={"s1": [False, True, True]})
    assert sc.active["s1"].tolist() == [False, True, True]
    h = np.zeros(300, bool)
    h[120:] = True  # active from 1.2 s: window 1 is 80 % active
    sc = evaluate(ests, refs, SR, bss=False, activity={"s0": h}, activity_rate=100)
    assert sc.active["s0"].tolist() == [False, True, True]


def test_pool_activity_fraction():
    h = np.array([[1, 1, 0, 0, 0, 0, 1, 1, 1, 1]], bool)  # 10 Hz, 1 s
    wins = [slice(0, 4000), slice(4000, 8000)]  # 0.5 s windows at 8 kHz
    assert pool_activity(h, 10, wins, SR).tolist() == [[False, True]]


def test_activations_file(tmp_path):
    ests, refs = _sources(n=2)
    marks = tmp_path / "marks.csv"
    marks.write_text("time,s0,s1\n0.0,1,1\n1.0,0,1\n2.0,1,1\n")  # MedleyDB frame-wise style
    sc = evaluate(ests, refs, SR, fast=True, activations=marks, sisdr=False)
    assert sc.active["s0"].tolist() == [True, False, True]
    assert sc.active["s1"].all()


def _handmade(name, values):
    tr = TrackScores(name, SR, 1.0, 1.0, np.arange(len(values), dtype=float))
    tr.values["v"] = {"SDR": np.array(values, dtype=float)}
    return tr


def test_aggregate_is_median_of_medians():
    tracks = [_handmade("a", [1, 2, 30]), _handmade("b", [4, 5, np.nan]),
              _handmade("c", [7, 8, 9])]
    agg = aggregate(tracks)["v"]["SDR"]
    assert agg["median"] == pytest.approx(np.median([2, 4.5, 8]))
    assert agg["mean"] == pytest.approx(np.mean([11, 4.5, 8]))
    assert agg["tracks"] == 3 and agg["frames"] == 8


def test_museval_json_and_frames_csv(tmp_path):
    import jsonschema
    import museval

    ests, refs = _sources(n=2)
    sc = evaluate(ests, refs, SR, name="my track", fast=True, skip_silent=True,
                  silence_threshold=1e9)  # nothing counts: every frame NaN in the JSON
    path = write_track_json(sc, tmp_path)
    doc = json.loads(open(path).read())
    schema = json.loads(
        (__import__("pathlib").Path(museval.__path__[0]) / "musdb.schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert [t["name"] for t in doc["targets"]] == ["s0", "s1"]
    assert all(math.isnan(f["metrics"]["SDR"]) for f in doc["targets"][0]["frames"])
    sc2 = evaluate(ests, refs, SR, name="t2", fast=True)
    doc2 = sc2.to_museval()
    assert doc2["targets"][1]["frames"][2]["metrics"]["SAR"] == round(
        float(sc2.values["s1"]["SAR"][2]), 5)
    write_frames_csv([sc, sc2], tmp_path / "frames.csv")
    rows = list(csv.DictReader(open(tmp_path / "frames.csv")))
    assert len(rows) == 2 * 2 * 3
    assert rows[0]["track"] == "my track" and rows[0]["active"] == "False"
    assert set(rows[0]) >= {"SDR", "SIR", "SAR", "ISR", "SI-SDR", "time", "target"}
