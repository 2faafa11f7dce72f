"""Series handling: layouts, frequency, gaps, and bad input with errors that say where."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.timeseries import SeriesError, calendar_features, to_collection
from rnnkit.data.windows import build_arrays, make_window, seasonal_lags, series_scales


def monthly(values, start="2000-01-01"):
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS"), dtype=float)


def test_series_wide_and_long_layouts_agree():
    a, b = np.arange(10.0), np.arange(10.0) * 2
    index = pd.date_range("2020-01-01", periods=10, freq="D")
    wide = to_collection(pd.DataFrame({"a": a, "b": b}, index=index))
    long = to_collection(
        pd.DataFrame({"id": ["b"] * 10 + ["a"] * 10, "t": list(index) * 2, "v": np.concatenate([b, a])}),
        id_col="id", time_col="t", value_col="v",
    )
    assert wide.ids == long.ids == ["a", "b"]
    for x, y in zip(wide.values, long.values, strict=True):
        np.testing.assert_array_equal(x, y)
    assert wide.freq == long.freq == pd.tseries.frequencies.to_offset("D")
    single = to_collection(pd.Series(a, index=index, name="sales"))
    assert single.ids == ["sales"] and single.future_index(0, 2)[0] == pd.Timestamp("2020-01-11")


def test_missing_timestamps_become_missing_values():
    y = monthly(np.arange(24.0)).drop(index=[pd.Timestamp("2000-05-01"), pd.Timestamp("2001-02-01")])
    c = to_collection(y)
    assert len(c.values[0]) == 24 and np.isnan(c.values[0][4]) and np.isnan(c.values[0][13])
    assert c.values[0][5] == 5.0


def test_unsorted_timestamps_are_sorted_with_a_warning():
    y = monthly(np.arange(6.0))
    with pytest.warns(UserWarning, match="timestamps were not sorted; sorting them"):
        c = to_collection(y.iloc[[3, 0, 5, 1, 2, 4]])
    assert c.values[0].tolist() == [0, 1, 2, 3, 4, 5]


def test_duplicated_timestamps_are_an_error_naming_it():
    y = pd.Series([1.0, 2.0, 3.0, 4.0], index=pd.to_datetime(["2000-01-01", "2000-01-02", "2000-01-02", "2000-01-03"]))
    with pytest.raises(SeriesError, match="duplicated timestamp 2000-01-02"):
        to_collection(y)


def test_non_numeric_value_names_column_and_row():
    frame = pd.DataFrame({"time": pd.date_range("2000-01-01", periods=4, freq="D"), "load": [1, 2, "n/a", 4]})
    with pytest.raises(SeriesError, match=r"column 'load', row 2000-01-03.*expected a number, got 'n/a'"):
        to_collection(frame, time_col="time", value_col="load")


def test_irregular_timestamps_and_bad_arguments():
    y = pd.Series(np.arange(6.0), index=pd.to_datetime(
        ["2000-01-01", "2000-01-02", "2000-01-04", "2000-01-09", "2000-01-17", "2000-01-30"]))
    with pytest.raises(SeriesError, match="irregular"):
        to_collection(y)
    with pytest.raises(TypeError, match="y: expected a pandas Series or DataFrame, got list"):
        to_collection([1.0, 2.0])
    with pytest.raises(SeriesError, match="value_col: no column 'x'"):
        to_collection(pd.DataFrame({"t": [1, 2], "y": [1.0, 2.0]}), time_col="t", value_col="x")


def test_integer_time_steps_have_no_calendar():
    c = to_collection(pd.Series([1.0, 2.0, 3.0]))
    assert c.freq is None and list(c.future_index(0, 2)) == [3, 4]
    assert calendar_features(c.times[0], c.freq).shape == (3, 0)


def test_calendar_features_follow_the_frequency():
    half_hours = pd.date_range("2000-06-05", periods=96, freq="30min")
    f = calendar_features(half_hours, pd.tseries.frequencies.to_offset("30min"))
    assert f.shape == (96, 4)  # time of day + day of week, sine and cosine
    np.testing.assert_allclose(f[0], f[48] * [1, 0, 1, 0] + f[0] * [0, 1, 0, 1], atol=1e-12)  # same time of day
    months = pd.date_range("2000-01-01", periods=24, freq="MS")
    g = calendar_features(months, months.freq)
    assert g.shape == (24, 2) and np.allclose(g[:12], g[12:]) and np.abs(g).max() <= 1


def test_seasonal_lags_by_hand():
    values = np.arange(20.0)
    past, future = seasonal_lags(values, 12, context=4, horizon=6, season_length=4)
    assert past.tolist() == [4.0, 5.0, 6.0, 7.0]  # one season before steps 8..11
    # seasonal naive from the history before index 12: last season is 8, 9, 10, 11
    assert future.tolist() == [8.0, 9.0, 10.0, 11.0, 8.0, 9.0]


def test_constant_series_window_has_no_nan():
    c = to_collection(monthly(np.full(30, 7.0)))
    scales = series_scales(c)
    assert scales.tolist() == [1.0]
    window = make_window(build_arrays(c, use_calendar=True)[0], 20, context=8, horizon=4, scale=1.0, impute=False,
                         season_length=12)
    for key, tensor in window.items():
        assert np.isfinite(tensor.numpy()).all(), key
    assert window["past_target"].abs().max() == 0 and window["level"] == 7.0


def test_missing_values_are_flagged_or_imputed():
    values = np.arange(30.0)
    values[[10, 11, 25]] = np.nan
    c = to_collection(monthly(values))
    arrays = build_arrays(c, use_calendar=False)[0]
    masked = make_window(arrays, 20, context=12, horizon=6, scale=1.0, impute=False)
    assert masked["past_observed"].tolist() == [1.0] * 2 + [0.0] * 2 + [1.0] * 8
    assert masked["past_target"][2] == 0.0
    imputed = make_window(arrays, 20, context=12, horizon=6, scale=1.0, impute=True)
    level = float(imputed["level"])
    assert float(imputed["past_target"][2]) + level == pytest.approx(10.0)
    assert masked["future_observed"].tolist() == [1.0] * 5 + [0.0]
