"""``rnnkit bench speed --quick``: it runs every applicable backend and reports real ratios."""

from __future__ import annotations

import re

from rnnkit.bench.speed import CELLS, Size, measure_cell
from rnnkit.cli import main


def test_bench_speed_quick_writes_the_table_and_the_png(tmp_path, capsys):
    args = ["bench", "speed", "--quick", "--repeats", "1", "--cells", "layernorm_lstm,mingru", "--output-dir"]
    assert main([*args, str(tmp_path)]) == 0
    table = (tmp_path / "speed.md").read_text()
    assert (tmp_path / "speed.png").read_bytes()[:4] == b"\x89PNG"
    rows = [line.split("|")[1:-1] for line in table.splitlines() if re.match(r"\| (lstm|layernorm|gru|mingru)", line)]
    variants = {(r[0].strip(), r[1].strip()) for r in rows}
    assert ("layernorm_lstm", "**fused** (auto)") in variants and ("layernorm_lstm", "loop") in variants
    assert ("mingru", "**scan** (auto)") in variants and ("mingru", "loop") in variants
    for row in rows:
        if row[1].strip().startswith("torch.nn"):
            assert row[3].strip() == "1.00" and row[6].strip() == "1.00"
        assert float(row[2]) > 0 and float(row[5]) > 0
    assert "| layernorm_lstm | torch.nn.LSTM |" in capsys.readouterr().out


def test_every_backend_that_runs_a_cell_is_measured_and_auto_is_marked():
    rows = measure_cell("lstm+zoneout", Size(2, 5, 3, 4), repeats=1, warmup=0)
    assert {r.variant for r in rows} == {"torch.nn", "fused", "loop"}  # native and scan cannot run zoneout
    assert [r.variant for r in rows if r.auto] == ["fused"]
    loop = next(r for r in rows if r.variant == "loop")
    assert loop.ratios["train/loop"] == 1.0 and CELLS["lstm+zoneout"][0] == "lstm"
