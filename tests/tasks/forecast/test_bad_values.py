"""Forecasting never exits 0 with garbage (issue 17.6), validation scales to long series (17.7),
and bad flags or files are clear errors rather than tracebacks (17.9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnkit.cli import main
from rnnkit.data.timeseries import SeriesError
from rnnkit.tasks.forecast import estimator as estimator_module
from rnnkit.tasks.forecast.config import ForecastAppConfig
from rnnkit.tasks.forecast.data import load_forecast_data
from rnnkit.tasks.forecast.estimator import Forecaster
from rnnkit.tasks.framework.config import ConfigError

TINY = {"hidden_size": 4, "num_layers": 1, "max_steps": 3, "batch_size": 8, "context_length": 16}


def series(n: int = 80, scale: float = 1.0) -> pd.Series:
    index = pd.date_range("2020-01-01", periods=n, freq="D")
    return pd.Series(scale * (50 + 10 * np.sin(np.arange(n) / 4.0)), index=index)


@pytest.fixture(scope="module")
def fitted():
    return Forecaster(4, **TINY).fit(series())


@pytest.mark.parametrize("options, message", [
    ({"season_length": 0}, "season_length: expected at least 1"),
    ({"context_length": -3}, "context_length"),
    ({"hidden_size": True}, "hidden_size: expected an integer"),
    ({"dropout": 1.0}, "dropout"),
    ({"lr": float("nan")}, "lr: expected a finite number"),
    ({"val_fraction": 1.5}, "val_fraction"),
    ({"decoder": "sideways"}, "decoder"),
    ({"calendar": "no"}, "calendar: expected true or false"),
])
def test_bad_settings_of_the_forecaster_are_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        Forecaster(4, **options)


@pytest.mark.parametrize("horizon, quantiles, message", [
    (0, (0.5,), "horizon: expected a positive integer, got 0"),
    (-2, (0.5,), "horizon"),
    (None, (0.0, 0.5), r"quantiles: every level must lie in \(0, 1\)"),
    (None, (0.5, 1.5), "quantiles"),
    (None, (float("nan"),), "quantiles"),
])
def test_predict_refuses_horizon_zero_and_quantiles_outside_0_1(fitted, horizon, quantiles, message):
    with pytest.raises(ConfigError, match=message):  # before: horizon 0 silently became the model's 4
        fitted.predict(horizon, quantiles)


def test_an_infinite_value_is_an_error_naming_the_series_and_time():
    y = series()
    y.iloc[30] = np.inf
    with pytest.raises(SeriesError, match=r"infinite value at 2020-01-31"):
        Forecaster(4, **TINY).fit(y)


def test_huge_magnitudes_are_scaled_and_forecast_like_ordinary_ones():
    small = Forecaster(4, **TINY).fit(series()).predict()
    huge = Forecaster(4, **TINY).fit(series(scale=1e298)).predict()
    assert np.isfinite(huge.to_numpy()).all()
    np.testing.assert_allclose(huge.to_numpy() / 1e298, small.to_numpy(), rtol=1e-4)


def test_validation_uses_at_most_max_val_windows(monkeypatch):
    seen = {}
    original = estimator_module.Trainer.fit

    def spy(self, model, train, val=None, **kwargs):
        seen["val"], seen["train"] = len(val), len(train)
        return original(self, model, train, val, **kwargs)

    monkeypatch.setattr(estimator_module.Trainer, "fit", spy)
    Forecaster(4, **{**TINY, "max_steps": 1}).fit(series(20_000))
    assert seen["val"] == estimator_module.MAX_VAL_WINDOWS and seen["train"] > 17_000


def write_csv(path, frame, **options):
    frame.to_csv(path, index=False, **options)
    return str(path)


def frame(n=60):
    y = series(n)
    return pd.DataFrame({"date": y.index, "value": y.to_numpy()})


def test_a_semicolon_separated_csv_is_read(tmp_path):
    data = load_forecast_data(ForecastAppConfig(data=write_csv(tmp_path / "s.csv", frame(), sep=";")))
    assert len(data.collection.values[0]) == 60


@pytest.mark.parametrize("flags, message", [
    (["--time-col", "nope"], "--time-col: the CSV has no column 'nope'; its columns are ['date', 'value']"),
    (["--value-col", "valeu"], "did you mean 'value'?"),
    (["--freq", "XYZ"], "freq: 'XYZ' is not a pandas frequency"),
    (["--quantiles", "0,1.5"], "quantiles: each must lie strictly between 0 and 1"),
    (["--horizon", "0"], "horizon: expected at least 1, got 0"),
    (["--season-length", "0"], "season_length: expected at least 1, got 0"),
])
def test_bad_forecast_flags_are_clear_errors(tmp_path, capsys, flags, message):
    data = write_csv(tmp_path / "d.csv", frame())
    assert main(["forecast", "train", "--data", data, "--output-dir", str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_output_dir_that_is_a_file_is_refused_before_training(tmp_path, capsys):
    data = write_csv(tmp_path / "d.csv", frame())
    (tmp_path / "taken").write_text("x")
    assert main(["forecast", "train", "--data", data, "--output-dir", str(tmp_path / "taken")]) == 2
    assert "exists and is a file" in capsys.readouterr().err


def test_a_single_column_csv_says_what_is_missing(tmp_path, capsys):
    data = write_csv(tmp_path / "one.csv", pd.DataFrame({"value": np.arange(40.0)}))
    assert main(["forecast", "train", "--data", data, "--output-dir", str(tmp_path / "run")]) == 2
    assert "single column" in capsys.readouterr().err
