"""End-to-end: the command line, the interim demo and the benchmark script on tiny settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rnnkit.cli import main
from rnnkit.data import load_sunspots

ROOT = Path(__file__).resolve().parents[2]


def test_embedded_sunspots_are_the_published_series():
    months, values = load_sunspots()
    assert len(values) == 2820 and months[0] == "1749-01" and months[-1] == "1983-12"
    assert values[:3].tolist() == [58.0, 62.6, 70.0] and values[-1] == 33.4


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
