"""``rnnkit bench auto``: one real tiny point, and the summary's arithmetic on hand-made points."""

from __future__ import annotations

import math

import pytest

from rnnkit.backends import autotune_bench
from rnnkit.backends.autotune_bench import Point, geometric_mean, markdown, measure_point, summary


def _point(ratio: float, threads: int = 1, *, auto: str = "native") -> Point:
    return Point("lstm", threads, "train", 8, 256, 64, {"native": 0.010, "fused": 0.020}, auto, 0.010 * ratio, 0.5)


def test_summary_reports_the_worst_point_and_the_geometric_mean():
    points = [_point(1.0), _point(1.1, auto="fused"), _point(0.9, threads=2), _point(1.21, threads=2)]
    assert geometric_mean([1.0, 4.0]) == pytest.approx(2.0)
    lines = summary(points)
    overall = math.exp((math.log(1.1) + math.log(0.9) + math.log(1.21)) / 4)
    assert lines[0].startswith("- all points: worst 1.21x") and f"geometric mean {overall:.3f}x" in lines[0]
    assert "2 of 4 points over 1.05x" in lines[0] and "not the fastest forced backend at 1" in lines[0]
    assert lines[1].startswith("- 1 thread(s): worst 1.10x") and "1 of 2 points over 1.05x" in lines[1]
    assert "at most 0.50 s" in lines[-1]
    table = markdown(points)
    assert "| lstm | 2 | train | 8 | 256 | 64 | native | 10.00 | native | 1.21x |" in table


def test_a_real_point_times_every_candidate_and_auto(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "1")
    monkeypatch.setenv("RNNKIT_AUTOTUNE_BUDGET", "0.2")
    monkeypatch.setenv("RNNKIT_AUTOTUNE_FILE", str(tmp_path / "decisions.json"))
    monkeypatch.setattr(autotune_bench, "POINT_SECONDS", 0.0)
    monkeypatch.setattr(autotune_bench.autotune, "_memory", {})
    point = measure_point("gru", 1, True, 2, 6, 4, repeats=1)
    assert {"native", "loop"} <= set(point.seconds) and point.auto_backend in point.seconds
    assert point.ratio == point.auto_seconds / min(point.seconds.values())
    assert (tmp_path / "decisions.json").exists()  # auto tuned itself at first use


def test_runs_saved_as_json_are_combined_into_one_report(tmp_path):
    import dataclasses
    import json

    first, second = tmp_path / "one.json", tmp_path / "two.json"
    first.write_text(json.dumps([dataclasses.asdict(_point(1.0))]))
    second.write_text(json.dumps([dataclasses.asdict(_point(1.5, threads=2, auto="fused"))]))
    assert autotune_bench.main(["--from-json", f"{first},{second}", "--output-dir", str(tmp_path / "out")]) == 0
    report = (tmp_path / "out" / "auto.md").read_text()
    assert "- all points: worst 1.50x" in report
    assert "| lstm | 2 | train | 8 | 256 | 64 | native | 10.00 | fused | 1.50x |" in report
    assert len(json.loads((tmp_path / "out" / "auto.json").read_text())) == 2
