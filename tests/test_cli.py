"""End-to-end: the command line, the interim demo and the benchmark script on tiny settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from rnnkit.cli import main
from rnnkit.data import load_sunspots
from rnnkit.tasks.quick_forecast import QuickForecastConfig, run_quick_forecast

ROOT = Path(__file__).resolve().parents[1]


def test_embedded_sunspots_are_the_published_series():
    months, values = load_sunspots()
    assert len(values) == 2820 and months[0] == "1749-01" and months[-1] == "1983-12"
    assert values[:3].tolist() == [58.0, 62.6, 70.0] and values[-1] == 33.4


def test_quick_forecast_reports_real_errors():
    cfg = QuickForecastConfig(epochs=1, hidden_size=8, window=24, horizon=6)
    result = run_quick_forecast(cfg, verbose=False)
    # The naive error, recomputed here from the raw series, must match what the demo reports.
    _, values = load_sunspots()
    split = int(len(values) * 0.8)
    starts = range(split - cfg.window, len(values) - cfg.window - cfg.horizon + 1)
    naive = np.mean([np.abs(values[s + cfg.window : s + cfg.window + cfg.horizon] - values[s + cfg.window - 1]).mean()
                     for s in starts])
    assert abs(result["naive_mae"] - naive) < 1e-3
    assert np.isfinite(result["lstm_mae"]) and result["lstm_mae"] > 0


def test_cli_demo_prints_the_comparison(capsys):
    assert main(["demo", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "LSTM (rnnkit)" in out and "naive (last value)" in out


def test_cli_help_lists_commands(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_speed_benchmark_quick_mode_runs():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--quick", "--repeats", "1"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    rows = [line for line in done.stdout.splitlines() if line.startswith("| LSTM") or line.startswith("| GRU")]
    assert len(rows) == 2
