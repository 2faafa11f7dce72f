"""The issue's "bad input" cases for collections: mixed frequencies, leading missing values, an
all-equal series among others, an integer index without a frequency; and the progress default."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.timeseries import SeriesError, to_collection
from rnnkit.tasks.forecast.estimator import Forecaster

TINY = {"hidden_size": 8, "num_layers": 1, "max_steps": 20, "batch_size": 16, "context_length": 12}


def long_frame(**series: pd.Series) -> pd.DataFrame:
    return pd.concat([s.rename("y").to_frame().assign(id=k) for k, s in series.items()]).rename_axis("t").reset_index()


def monthly(values) -> pd.Series:
    return pd.Series(np.asarray(values, float), index=pd.date_range("2000-01-01", periods=len(values), freq="MS"))


def test_a_frame_that_mixes_frequencies_is_an_error_naming_the_series():
    a = monthly(np.arange(30))
    b = pd.Series(np.arange(30.0), index=pd.date_range("2000-01-01", periods=30, freq="D"))
    # Before: the daily series was silently put on the monthly grid (its values written to the
    # wrong steps). Now an error says which series and which time, and what to do.
    with pytest.raises(SeriesError, match=r"series 'b': time 2000-01-02 00:00:00 is not on the MS grid.*mixes "
                                          r"frequencies"):
        to_collection(long_frame(a=a, b=b), id_col="id", time_col="t", value_col="y")
    with pytest.raises(SeriesError, match=r"series 'b': time .* not on the MS grid"):  # a given freq too
        to_collection(long_frame(b=b), id_col="id", time_col="t", value_col="y", freq="MS")
    groups = [to_collection(long_frame(**{k: s}), id_col="id", time_col="t", value_col="y") for k, s in
              (("a", a), ("b", b))]  # grouped by frequency: each group is fine
    assert [g.freq.freqstr for g in groups] == ["MS", "D"]


def test_leading_missing_values_and_an_all_equal_series_in_one_collection():
    t = np.arange(60)
    seasonal = monthly(10 + 3 * np.sin(2 * np.pi * t / 12))
    late = seasonal.copy()
    late.iloc[:15] = np.nan  # the series starts 15 months late
    flat = monthly(np.full(60, 4.0))
    frame = long_frame(s=seasonal, late=late, flat=flat)
    model = Forecaster(6, season_length=12, **TINY).fit(frame, id_col="id", time_col="t", value_col="y")
    forecast = model.predict()
    assert np.isfinite(forecast.to_numpy()).all()
    assert forecast.xs("late", level="id").index[0] == pd.Timestamp("2005-01-01")
    flat_mean = forecast.xs("flat", level="id")["mean"].to_numpy()
    assert np.all(np.abs(flat_mean - 4.0) < 4.0)  # finite and in the series' range of scales
    from rnnkit.tasks.forecast.es_rnn import ESRNNForecaster

    es = ESRNNForecaster(3, context_length=4, max_epochs=2, hidden_size=8, num_layers=1)
    out = es.fit([np.full(30, 4.0), 10 + np.sin(np.arange(30.0))]).predict()
    np.testing.assert_allclose(out[0], 4.0, rtol=0.2)  # an all-equal series stays near its value


def test_an_integer_index_has_no_frequency_and_continues_its_steps():
    y = pd.Series(10 + np.sin(np.arange(50) / 3), index=np.arange(100, 150))
    collection = to_collection(y)
    assert collection.freq is None
    forecast = Forecaster(4, **TINY).fit(y).predict()
    assert list(forecast.index) == [150, 151, 152, 153]


def test_progress_defaults_to_interactive_only(capsys):
    y = monthly(10 + np.sin(np.arange(60) / 2))
    assert Forecaster(3).config.progress is None
    Forecaster(3, **{**TINY, "max_steps": 3}).fit(y)  # under pytest stderr is not a terminal: silent
    captured = capsys.readouterr()
    assert "step" not in captured.err and "epoch=" not in captured.out
    Forecaster(3, progress=True, **{**TINY, "max_steps": 3}).fit(y)
    captured = capsys.readouterr()
    assert "3/3" in captured.err and "epoch=" in captured.out + captured.err
