"""End to end: `rnnkit forecast` on a tiny CSV, then `rnnkit forecast predict` with the saved model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnnkit.cli import main

FAST = ["--max-steps", "15", "--hidden-size", "8", "--num-layers", "1", "--context-length", "24", "--quiet"]


def _csv(path, n=110):
    t = np.arange(n)
    frame = pd.DataFrame({"month": pd.date_range("2001-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"),
                          "sales": 50 + 10 * np.sin(2 * np.pi * t / 12) + t * 0.1})
    frame.to_csv(path, index=False)
    return frame


def test_forecast_csv_then_predict_from_new_data(tmp_path, capsys):
    frame = _csv(tmp_path / "sales.csv")
    frame.iloc[:90].to_csv(tmp_path / "old.csv", index=False)
    out = tmp_path / "run"
    code = main(["forecast", "--data", str(tmp_path / "old.csv"), "--time-col", "month", "--value-col", "sales",
                 "--horizon", "6", "--season-length", "12", "--origins", "2", "--baselines",
                 "naive,seasonal_naive,ets", "--output-dir", str(out), *FAST])
    assert code == 0
    printed = capsys.readouterr().out
    assert "seasonal_naive" in printed and "ets" in printed and "MASE" in printed
    table = pd.read_csv(out / "metrics.csv", index_col=0)
    assert len(table) == 4 and np.isfinite(table["mase"]).all()
    for name in ("forecast.png", "errors_by_horizon.png", "training_curve.png", "metrics.md", "forecast.csv"):
        assert (out / name).is_file(), name

    assert main(["forecast", "predict", "--model", str(out / "model"), "--data", str(tmp_path / "sales.csv"),
                 "--out", str(tmp_path / "next.csv")]) == 0
    forecast = pd.read_csv(tmp_path / "next.csv", index_col=0, parse_dates=True)
    assert forecast.index[0] == pd.Timestamp("2010-03-01")  # the month after the new data ends
    assert list(forecast.columns) == ["mean", "q0.1", "q0.5", "q0.9"]


def test_forecast_bad_input_is_a_clear_error(tmp_path, capsys):
    pd.DataFrame({"t": ["2000-01-01", "2000-02-01", "2000-03-01"], "y": [1, "x", 3]}).to_csv(tmp_path / "bad.csv")
    assert main(["forecast", "--data", str(tmp_path / "bad.csv"), "--time-col", "t", "--value-col", "y"]) == 2
    assert "column 'y', row 2000-02-01: expected a number, got 'x'" in capsys.readouterr().err
    assert main(["forecast", "--data", str(tmp_path / "missing.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["forecast", "predict", "--model", str(tmp_path)]) == 2
    assert "rnnkit forecast: error" in capsys.readouterr().err


def test_demo_runs_the_pipeline_on_sunspots(tmp_path, capsys):
    assert main(["demo", "--max-steps", "5", "--origins", "1", "--baselines", "naive,seasonal_naive",
                 "--output-dir", str(tmp_path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "sunspots: horizon 24" in printed and "seasonal_naive" in printed
