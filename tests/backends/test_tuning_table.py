"""The measured preferences are a data table: read from JSON, every row with its machine and date."""

from __future__ import annotations

import json

import rnnkit
from rnnkit.backends import Workload, choose_backend
from rnnkit.backends.tuning import TABLE, read_preferences


def test_every_shipped_row_names_its_machine_date_and_measurement():
    rows = read_preferences()
    assert len(rows) == len(json.loads(TABLE.read_text())["preferences"]) > 0
    for row in rows:
        assert row.machine and row.date[:4] == "2026" and "measured" in row.evidence


def test_a_table_row_decides_under_its_conditions_only(tmp_path):
    table = {
        "sources": {"here": {"machine": "test box", "date": "2026-12-01", "how": "measured by hand"}},
        "preferences": [{"device": "cpu", "cell": "LSTMCell", "backend": "loop", "grad": False,
                         "max_batch_x_hidden": 12, "dtypes": ["float64"], "source": "here", "evidence": "loop wins"}],
    }
    path = tmp_path / "table.json"
    path.write_text(json.dumps(table))
    rows = read_preferences(path)
    cells = list(rnnkit.Recurrent("lstm", 2, 3).double().cells.values())
    small = Workload("cpu", 4, 10, grad=False)  # batch x hidden = 12
    choice = choose_backend("auto", cells, workload=small, preferences=rows)
    assert choice == "loop" and choice.reason.endswith("loop wins, measured by hand")
    assert choose_backend("auto", cells, workload=Workload("cpu", 5, 10, grad=False), preferences=rows) == "native"
    assert choose_backend("auto", cells, workload=Workload("cpu", 4, 10, grad=True), preferences=rows) == "native"
    float32 = list(rnnkit.Recurrent("lstm", 2, 3).cells.values())
    assert choose_backend("auto", float32, workload=small, preferences=rows) == "native"
