"""Auto-tuning at first use: measured once per bucket, cached on disk, safe across processes, same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import rnnkit
from rnnkit.backends import autotune

SRC = str(Path(rnnkit.__file__).parents[1])


@pytest.fixture
def tuning(tmp_path, monkeypatch):
    """Auto-tuning on, with a fresh decisions file and memory; yields the list of measured candidate sets."""
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "1")
    monkeypatch.setenv("RNNKIT_AUTOTUNE_BUDGET", "0.2")
    path = tmp_path / "decisions.json"
    monkeypatch.setattr(autotune, "decisions_file", lambda: path)
    monkeypatch.setattr(autotune, "_memory", {})
    monkeypatch.setattr(autotune, "_announced", {"done": False})
    measured = []
    real = autotune.measure

    def counting(candidates, run, *, shape):
        measured.append(list(candidates))
        return real(candidates, run, shape=shape)

    monkeypatch.setattr(autotune, "measure", counting)
    yield measured


def test_a_decision_is_measured_once_cached_on_disk_and_reused(tuning, capsys):
    layer = rnnkit.Recurrent("gru", 3, 8)
    x = torch.randn(4, 20, 3)
    layer(x)[0].sum().backward()
    assert len(tuning) == 1 and set(tuning[0]) >= {"native", "loop"}
    assert "times the backends once per new shape bucket" in capsys.readouterr().err
    stored = json.loads(autotune.decisions_file().read_text())
    (key, record), = stored.items()
    assert "|GRUCell|float32|train|B4 T16 H16|" in key and f"threads={torch.get_num_threads()}" in key
    assert layer.backend == record["backend"] and "auto-tuned on this machine" in layer.backend.reason
    assert f"{record['backend']} {1e3 * record['seconds'][record['backend']]:.3g} ms" in layer.backend.reason
    layer(torch.randn(5, 18, 3))[0].sum().backward()  # same bucket: reused
    with torch.no_grad():
        layer(x)  # inference is another bucket
    assert len(tuning) == 2
    autotune._memory.clear()  # as a new process would: the decision comes from the file
    rnnkit.Recurrent("gru", 3, 8)(x)[0].sum().backward()
    assert len(tuning) == 2
    assert capsys.readouterr().err.count("times the backends") == 0  # announced once per process


@pytest.mark.parametrize("cell", ["gru", "layernorm_lstm", "mingru"])
def test_the_tuned_choice_computes_what_the_forced_backend_computes(tuning, cell):
    torch.manual_seed(0)
    layer = rnnkit.Recurrent(cell, 3, 6, num_layers=2)
    x = torch.randn(2, 12, 3)
    layer(x)  # tunes
    chosen = str(layer.backend)
    assert "auto-tuned" in layer.backend.reason
    forced = rnnkit.Recurrent(cell, 3, 6, num_layers=2, backend=chosen)
    forced.load_state_dict(layer.state_dict())
    out, state = layer(x)
    expected, expected_state = forced(x)
    assert torch.equal(out, expected) and all(torch.equal(a, b) for a, b in zip(
        state if isinstance(state, tuple) else (state,),
        expected_state if isinstance(expected_state, tuple) else (expected_state,), strict=True))


def test_tuning_leaves_gradients_and_the_random_stream_alone(tuning):
    layer = rnnkit.Recurrent("lstm", 3, 5, num_layers=2, dropout=0.5)
    x = torch.randn(2, 7, 3)
    torch.manual_seed(3)
    layer(x)[0].sum().backward()  # tunes (runs every candidate, with dropout), then runs once
    tuned_grads = [p.grad.clone() for p in layer.parameters()]
    after = torch.rand(3)
    layer.zero_grad()
    torch.manual_seed(3)
    layer(x)[0].sum().backward()  # decided: runs once
    assert len(tuning) == 1
    assert all(torch.equal(a, p.grad) for a, p in zip(tuned_grads, layer.parameters(), strict=True))
    assert torch.equal(after, torch.rand(3))


def test_off_with_the_switch_and_in_deterministic_runs(tuning, monkeypatch):
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "0")
    layer = rnnkit.Recurrent("gru", 3, 8)
    layer(torch.randn(2, 9, 3))
    assert tuning == [] and "auto-tuned" not in layer.backend.reason
    monkeypatch.setenv("RNNKIT_AUTOTUNE", "1")
    torch.use_deterministic_algorithms(True)
    try:
        layer(torch.randn(2, 9, 3))
    finally:
        torch.use_deterministic_algorithms(False)
    assert tuning == []


def test_measure_keeps_the_fastest_within_the_budget(monkeypatch):
    # A simulated clock that advances only by each candidate's cost: the decision and the number of
    # rounds are then exact, whatever else the machine is doing (a wall clock on a loaded 2-core
    # machine overshot the sleeps and cut the rounds short).
    monkeypatch.setenv("RNNKIT_AUTOTUNE_BUDGET", "0.6")
    now = [0.0]
    monkeypatch.setattr(autotune, "clock", lambda: lambda: now[0])
    cost = {"slow": 0.03, "fast": 0.01, "too slow": 0.2, "broken": None}
    calls = dict.fromkeys(cost, 0)

    def run(name):
        calls[name] += 1
        if cost[name] is None:
            raise RuntimeError("cannot run")
        now[0] += cost[name]

    decision = autotune.measure(["slow", "fast", "too slow", "broken"], run, shape="B=1 T=1 H=1")
    assert now[0] < 0.6 + 0.2 + 1e-9  # the budget, plus at most one run of the slowest candidate
    assert decision.backend == "fast" and set(decision.seconds) == {"slow", "fast", "too slow"}
    assert decision.seconds["fast"] == pytest.approx(0.01) and decision.seconds["slow"] == pytest.approx(0.03)
    # Above its share of the budget (0.6 / 4) a candidate runs twice (warm-up, one timed run); the
    # others warm up, then 3 rounds or more.
    assert calls["too slow"] == 2 and calls["broken"] == 1 and calls["fast"] == calls["slow"] >= 1 + 3


WRITER = """
import sys
from rnnkit.backends import autotune
who = sys.argv[1]
for i in range(40):
    autotune.store(f"{who}-{i}", autotune.Decision("loop", {"loop": i * 1e-3}, "B=1 T=1 H=1", "2026-12-01"))
"""


def test_concurrent_writers_lose_nothing(tmp_path):
    env = {**os.environ, "PYTHONPATH": SRC, "RNNKIT_CACHE_DIR": str(tmp_path)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, who], env=env) for who in ("a", "b")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    files = list((tmp_path / "autotune").glob("decisions-*.json"))
    assert len(files) == 1
    stored = json.loads(files[0].read_text())  # valid JSON: no torn write
    assert set(stored) == {f"{who}-{i}" for who in "ab" for i in range(40)}
    assert stored["b-7"]["seconds"] == {"loop": 7e-3}
