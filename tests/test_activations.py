"""Activations files: the three formats, the writer's round trip, and malformed input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from separate.activations.formats import (
    detect_format,
    frames_to_intervals,
    frames_to_samples,
    load_activations,
    num_frames_for,
    write_intervals,
)
from separate.errors import InputError

SOURCES = ["vocals", "drums", "bass", "other"]
FR = 10.0  # frames per second: frame k at k / 10 s
FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # tmp_path is reused; each example rewrites


def write(tmp_path, text, name="marks.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_intervals_mark_frames_and_leave_unmarked_sources_free(tmp_path):
    p = write(tmp_path, "source,start,end\nvocals,0.5,1.0\nvocals,2.0,2.25\nbass,0,0.3\n")
    h = load_activations(p, SOURCES, 30, FR)
    assert h.dtype == torch.bool and h.shape == (4, 30)
    assert torch.nonzero(h[0]).flatten().tolist() == [5, 6, 7, 8, 9, 20, 21, 22]
    assert torch.nonzero(h[2]).flatten().tolist() == [0, 1, 2]
    assert h[1].all() and h[3].all()  # drums, other: not marked → unconstrained


def test_source_names_match_case_insensitively_and_header_is_optional(tmp_path):
    p = write(tmp_path, "# a comment\nVocals, 0.0, 0.2\n")
    h = load_activations(p, SOURCES, 5, FR)
    assert h[0].tolist() == [True, True, False, False, False]


def test_audacity_labels(tmp_path):
    text = "0.100000\t0.300000\tdrums\n\\\t100.0\t2000.0\n1.000000\t1.200000\tdrums\n"
    p = write(tmp_path, text, "labels.txt")
    assert detect_format(text) == "audacity"
    h = load_activations(p, SOURCES, 15, FR)
    assert torch.nonzero(h[1]).flatten().tolist() == [1, 2, 10, 11]
    assert h[0].all()


def test_framewise_medleydb_style(tmp_path):
    rows = ["time,bass,other"]
    for k in range(20):
        rows.append(f"{k / FR:.4f},{0.9 if k < 10 else 0.1},{0.5 if k % 2 else 0.49}")
    p = write(tmp_path, "\n".join(rows) + "\n")
    h = load_activations(p, SOURCES, 20, FR)
    assert h[2].tolist() == [True] * 10 + [False] * 10
    assert h[3].tolist() == [bool(k % 2) for k in range(20)]  # active at >= 0.5
    assert h[0].all() and h[1].all()


def test_framewise_on_a_different_grid_takes_the_nearest_row(tmp_path):
    # rows every 0.2 s; grid every 0.1 s
    text = "time,vocals\n0.0,1\n0.2,0\n0.4,1\n0.6,1\n"
    h = load_activations(write(tmp_path, text), SOURCES, 8, FR)
    # grid times 0,.1,.2,.3,.4,.5,.6,.7 → nearest rows 0,0(tie→left),.2,.2(tie),.4,.4,.6,.6
    assert h[0].tolist() == [True, True, False, False, True, True, True, True]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("guitar,0,1\n", "unknown source 'guitar'; the model's sources are vocals, drums, bass"),
        ("vocals,2,1\n", "line 1: end 1.0 s is before start 2.0 s"),
        ("vocals,nan,1\n", "line 1: start is nan"),
        ("vocals,0,abc\n", "line 1: end 'abc' is not a number"),
        ("vocals,-1,1\n", "line 1: start -1.0 s is negative"),
        ("source,start,end\nvocals,0,1\nvocals,1,3.3\n", "line 3: time 3.3 s is beyond the end"),
        ("vocals,0\n", "line 1: expected 3 fields"),
        ("time,vocals\n0,0.3\n0.1,1.5\n", "line 3: confidence 1.5 is outside [0, 1]"),
        ("time,vocals\n0,0.3\n0.1,nan\n", "line 3: confidence is nan"),
        ("time,piano\n0,1\n", "unknown source 'piano'"),
        ("time,vocals\n0.2,1\n0.1,1\n", "line 3: time 0.1 s does not increase"),
        ("time,vocals\n0,1\n7,1\n", "line 3: time 7.0 s is beyond the end"),
    ],
)
def test_malformed_files_name_the_file_and_the_problem(tmp_path, text, needle):
    p = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_activations(p, SOURCES, 30, FR)  # 3 s track
    assert str(p) in str(info.value)
    assert needle in str(info.value)


def test_audacity_errors_name_the_line(tmp_path):
    p = write(tmp_path, "0.1\t0.2\tvocals\n0.5\t0.4\tvocals\n", "l.txt")
    with pytest.raises(InputError, match="line 2: end 0.4 s is before start 0.5 s"):
        load_activations(p, SOURCES, 30, FR)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read activations"):
        load_activations(tmp_path / "nope.csv", SOURCES, 10, FR)


def test_end_slightly_beyond_the_track_end_is_accepted(tmp_path):
    p = write(tmp_path, "vocals,2.5,3.24\n")  # up to 0.25 s (or one frame) beyond
    h = load_activations(p, SOURCES, 30, FR)
    assert torch.nonzero(h[0]).flatten().tolist() == list(range(25, 30))


masks = st.integers(1, 5).flatmap(
    lambda s: st.integers(1, 60).flatmap(
        lambda n: st.lists(
            st.lists(st.booleans(), min_size=n, max_size=n), min_size=s, max_size=s
        )
    )
)


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(mask=masks, frame_rate=st.sampled_from([1.0, 10.0, 21.533203125, 44100 / 512, 7.3]))
def test_intervals_round_trip(tmp_path, mask, frame_rate):
    h = np.array(mask, dtype=bool)
    names = SOURCES[: h.shape[0]] if h.shape[0] <= 4 else [f"s{i}" for i in range(h.shape[0])]
    p = tmp_path / "rt.csv"
    write_intervals(p, h, names, frame_rate)
    back = load_activations(p, names, h.shape[1], frame_rate)
    assert np.array_equal(back.numpy(), h)


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(
    junk=st.sampled_from(["nan", "inf", "-1", "x", "", "1e999"]),
    column=st.integers(1, 2),
)
def test_intervals_reject_bad_numbers(tmp_path, junk, column):
    cells = ["vocals", "0.1", "0.2"]
    cells[column] = junk
    p = tmp_path / "bad.csv"
    p.write_text("vocals,0,0.1\n" + ",".join(cells) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        load_activations(p, SOURCES, 10, FR)


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_OK)
@given(start=st.floats(0, 2.9), length=st.floats(0, 3))
def test_audacity_intervals_cover_exactly_the_frames_inside(tmp_path, start, length):
    end = min(start + length, 3.0)
    p = tmp_path / "lab.txt"
    p.write_text(f"{start:.6f}\t{end:.6f}\tother\n", encoding="utf-8")
    h = load_activations(p, SOURCES, 30, FR)
    s, e = float(f"{start:.6f}"), float(f"{end:.6f}")
    expected = [s <= k / FR + 1e-3 / FR and k / FR < e - 1e-3 / FR for k in range(30)]
    assert h[3].tolist() == expected


def test_frames_to_intervals_and_samples():
    h = torch.tensor([[False, True, True, False], [True, False, False, True]])
    assert frames_to_intervals(h, ["a", "b"], 2.0) == [
        ("a", 0.5, 1.5), ("b", 0.0, 0.5), ("b", 1.5, 2.0)
    ]
    hs = frames_to_samples(h, 8, sample_rate=4, frame_rate=2.0)  # 2 samples per frame
    assert hs[0].tolist() == [False, False, True, True, True, True, False, False]
    assert num_frames_for(8, 4, 2.0) == 4
    assert num_frames_for(9, 4, 2.0) == 5
    assert math.isclose(num_frames_for(44100, 44100, 44100 / 512), 87)


@settings(max_examples=50, deadline=None, suppress_health_check=FIXTURE_OK)
@given(
    conf=st.integers(1, 4).flatmap(
        lambda s: st.lists(
            st.lists(st.floats(0, 1), min_size=s, max_size=s), min_size=1, max_size=40
        )
    )
)
def test_framewise_round_trip_thresholds_at_one_half(tmp_path, conf):
    c = np.array(conf)  # [frames, sources]
    names = SOURCES[: c.shape[1]]
    lines = ["time," + ",".join(names)]
    lines += [f"{k / FR:.6f}," + ",".join(repr(float(v)) for v in row) for k, row in enumerate(c)]
    p = tmp_path / "fw.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    h = load_activations(p, SOURCES, len(c), FR).numpy()
    assert np.array_equal(h[: c.shape[1]], (c >= 0.5).T)
    assert h[c.shape[1]:].all()


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_OK)
@given(text=st.text(alphabet=st.sampled_from(list("vocalsdrumbe0123456789.,-\t\n #nainf")),
                    max_size=80))
def test_any_text_parses_or_raises_input_error(tmp_path, text):
    p = tmp_path / "fuzz.csv"
    p.write_text(text, encoding="utf-8")
    try:
        h = load_activations(p, SOURCES, 20, FR)
    except InputError as exc:
        assert str(p) in str(exc)
    else:
        assert h.shape == (4, 20) and h.dtype == torch.bool
