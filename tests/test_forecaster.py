"""The Forecaster estimator: fit / predict / backtest / save / load on small real-shaped data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rnnkit
from rnnkit.data.timeseries import SeriesError, to_collection
from rnnkit.tasks.forecast import Forecaster
from rnnkit.tasks.forecast.backtest import backtest_forecaster, backtest_function, origin_positions, score
from rnnkit.tasks.forecast.baselines import seasonal_naive

TINY = {"hidden_size": 8, "num_layers": 1, "max_steps": 30, "batch_size": 16, "context_length": 24}


def seasonal_series(n=160, season=12, seed=0, name="y"):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 10 + 0.02 * t + 3 * np.sin(2 * np.pi * t / season) + 0.2 * rng.standard_normal(n)
    return pd.Series(values, index=pd.date_range("2000-01-01", periods=n, freq="MS"), name=name)


def test_predict_frame_has_future_index_mean_and_ordered_quantiles():
    y = seasonal_series()
    model = Forecaster(6, season_length=12, **TINY).fit(y)
    forecast = model.predict(quantiles=(0.1, 0.5, 0.9))
    assert list(forecast.columns) == ["mean", "q0.1", "q0.5", "q0.9"]
    assert list(forecast.index) == list(pd.date_range("2013-05-01", periods=6, freq="MS"))
    assert (forecast["q0.1"] <= forecast["q0.5"]).all() and (forecast["q0.5"] <= forecast["q0.9"]).all()
    assert np.isfinite(forecast.to_numpy()).all()
    assert len(model.predict(3)) == 3
    with pytest.raises(ValueError, match="direct decoder forecasts at most 6 steps, got 7"):
        model.predict(7)
    with pytest.raises(ValueError, match=r"quantiles: every level must lie in \(0, 1\), got 1.5"):
        model.predict(quantiles=(1.5,))


def test_the_model_learns_a_clean_seasonal_series():
    # Honest learning check: after training, the backtest error is well below the naive forecast's.
    y = seasonal_series(n=240, seed=1)
    collection = to_collection(y)
    model = Forecaster(6, season_length=12, hidden_size=16, num_layers=1, max_steps=250, context_length=24,
                       seasonal_lag=False)
    frame, _ = backtest_forecaster(model, collection, origins=3)
    naive_frame, _ = backtest_function(collection, lambda h, n, q, season_length: (np.full(n, h[-1]), {}),
                                       horizon=6, origins=3)
    ours = score(frame, collection, season_length=12).mae
    naive = score(naive_frame, collection, season_length=12).mae
    assert ours < 0.5 * naive, (ours, naive)


@pytest.mark.parametrize(("decoder", "likelihood"), [("autoregressive", "gaussian"), ("autoregressive", "student_t"),
                                                     ("direct", "quantile"), ("direct", "student_t")])
def test_decoders_and_likelihoods(decoder, likelihood):
    y = seasonal_series(n=100)
    model = Forecaster(4, season_length=12, decoder=decoder, likelihood=likelihood, num_samples=20, **TINY).fit(y)
    forecast = model.predict(quantiles=(0.2, 0.8))
    assert forecast.shape == (4, 3) and np.isfinite(forecast.to_numpy()).all()
    assert (forecast["q0.2"] <= forecast["q0.8"]).all()
    if decoder == "autoregressive":
        assert len(model.predict(9)) == 9  # sampling can run past the trained horizon


def test_quantile_likelihood_needs_the_direct_decoder():
    with pytest.raises(ValueError, match="'quantile' cannot be sampled"):
        Forecaster(4, decoder="autoregressive", likelihood="quantile", **TINY).fit(seasonal_series(n=80))


def test_many_series_in_long_layout_train_one_global_model():
    frames = [seasonal_series(n=90 + 10 * k, seed=k, name=f"s{k}").rename("v").rename_axis("t").reset_index()
              .assign(store=f"s{k}") for k in range(3)]
    long = pd.concat(frames)
    model = Forecaster(5, season_length=12, **TINY).fit(long, id_col="store", time_col="t", value_col="v")
    forecast = model.predict()
    assert forecast.index.names == ["id", "t"]
    assert sorted(forecast.index.get_level_values("id").unique()) == ["s0", "s1", "s2"]
    assert forecast.loc["s2"].index[0] == pd.Timestamp("2000-01-01") + pd.DateOffset(months=110)


def test_known_covariates_are_required_for_the_future():
    y = seasonal_series(n=100)
    promo = pd.DataFrame({"promo": (np.arange(112) % 5 == 0).astype(float)},
                         index=pd.date_range("2000-01-01", periods=112, freq="MS"))
    model = Forecaster(4, season_length=12, **TINY).fit(y, covariates=promo.iloc[:100])
    with pytest.raises(ValueError, match=r"covariates: the model was fitted with covariates \['promo'\]"):
        model.predict()
    with pytest.raises(SeriesError, match="no row for future time 2008-05-01"):
        model.predict(covariates=promo.iloc[:100])
    assert np.isfinite(model.predict(covariates=promo).to_numpy()).all()


def test_series_shorter_than_one_window_are_padded_not_refused():
    # 40 points < context 24 + season 12 + horizon 6: trained and forecast from padded contexts.
    model = Forecaster(6, season_length=12, **TINY).fit(seasonal_series(n=40))
    assert np.isfinite(model.predict().to_numpy()).all() and model.short_series_ == []
    # A padded window equals the full window's observed part, with the padding flagged unobserved.
    from rnnkit.data.windows import build_arrays, make_window

    collection = to_collection(seasonal_series(n=40))
    arrays = build_arrays(collection, use_calendar=False)[0]
    window = make_window(arrays, 10, context=24, horizon=6, scale=1.0, impute=False)
    assert window["past_observed"][:14].sum() == 0 and window["past_observed"][14:].all()
    level = float(collection.values[0][:10].mean())
    np.testing.assert_allclose(window["past_target"][14:].numpy(), collection.values[0][:10] - level, rtol=1e-5)


def test_a_series_of_at_most_one_horizon_is_forecast_and_reported():
    long = seasonal_series(n=80, name="a")
    tiny = seasonal_series(n=5, name="b")
    frame = pd.concat([long.rename("y").to_frame().assign(id="a"), tiny.rename("y").to_frame().assign(id="b")])
    frame = frame.rename_axis("t").reset_index()
    model = Forecaster(6, season_length=12, **TINY).fit(frame, id_col="id", time_col="t", value_col="y")
    assert model.short_series_ == ["b"]
    forecast = model.predict()
    assert np.isfinite(forecast.to_numpy()).all() and len(forecast.xs("b", level="id")) == 6
    with pytest.raises(SeriesError, match="every series has at most horizon = 6 points"):
        Forecaster(6, **TINY).fit(seasonal_series(n=6))


def test_constant_series_and_missing_values_give_finite_forecasts():
    flat = pd.Series(5.0, index=pd.date_range("2000-01-01", periods=80, freq="D"))
    forecast = Forecaster(4, **TINY).fit(flat).predict()
    assert np.isfinite(forecast.to_numpy()).all()
    y = seasonal_series(n=120)
    y.iloc[[5, 6, 7, 50, 118]] = np.nan
    for impute in (False, True):
        forecast = Forecaster(4, season_length=12, impute=impute, **TINY).fit(y).predict()
        assert np.isfinite(forecast.to_numpy()).all()


def test_save_load_round_trip_and_continue_from_new_data(tmp_path):
    y = seasonal_series(n=120)
    model = Forecaster(4, season_length=12, **TINY).fit(y.iloc[:100])
    before = model.predict()
    model.save(tmp_path / "m")
    loaded = rnnkit.load(tmp_path / "m")
    assert isinstance(loaded, Forecaster) and loaded.config == model.config
    pd.testing.assert_frame_equal(loaded.predict(), before)
    # new observations arrived: forecast from their end, without retraining
    continued = loaded.predict(y=y)
    assert continued.index[0] == y.index[-1] + pd.DateOffset(months=1)
    pd.testing.assert_frame_equal(continued, model.predict(y=y))


def test_backtest_origins_and_seasonal_naive_by_hand():
    assert origin_positions(100, 10, 3) == [70, 80, 90]
    assert origin_positions(100, 10, 3, stride=5) == [80, 85, 90]
    with pytest.raises(SeriesError, match="need more than 30 points, the series has 25"):
        origin_positions(25, 10, 3)
    mean, _ = seasonal_naive(np.arange(10.0), 6, season_length=4)
    assert mean.tolist() == [6.0, 7.0, 8.0, 9.0, 6.0, 7.0]


def test_unknown_options_and_unfitted_model():
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['hidden'\]"):
        Forecaster(4, hidden=3)
    with pytest.raises(RuntimeError, match="call fit"):
        Forecaster(4).predict()


def test_backtest_method_scores_the_same_origins_as_the_functions():
    y = seasonal_series(n=150)
    forecasts, scores = Forecaster(6, season_length=12, **TINY).backtest(y, origins=3)
    assert sorted(forecasts["origin"].unique()) == list(y.index[[132, 138, 144]])
    assert forecasts.groupby("origin").size().tolist() == [6, 6, 6]
    np.testing.assert_array_equal(forecasts["actual"].to_numpy(), y.to_numpy()[132:150])
    mae = float(np.mean(np.abs(forecasts["actual"] - forecasts["mean"])))
    assert scores["mae"] == pytest.approx(mae) and set(scores) >= {"mase", "smape", "pinball", "coverage80"}
    with pytest.raises(RuntimeError, match=r"backtest\(refit=False\) needs a fitted model"):
        Forecaster(6, **TINY).backtest(y, refit=False)


def test_ensemble_averages_its_members_and_survives_save_load(tmp_path):
    import torch

    from rnnkit.models.forecasting import ForecastEnsemble

    y = seasonal_series(n=120)
    model = Forecaster(4, season_length=12, ensemble=3, **TINY).fit(y)
    assert isinstance(model.network, ForecastEnsemble) and len(model.network.members) == 3
    members = model.network.members
    # Different initial weights, so different members (the point of an ensemble).
    first = [next(m.parameters()) for m in members]
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])
    # The ensemble's forecast is the members' average, mean and quantiles alike.
    forecast = model.predict(quantiles=(0.1, 0.9))
    single = []
    network = model.network
    try:
        for member in members:
            model.network = member
            single.append(model.predict(quantiles=(0.1, 0.9)))
    finally:
        model.network = network
    average = sum(single) / 3
    assert np.allclose(forecast.to_numpy(), average.to_numpy(), rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m")
    loaded = rnnkit.load(tmp_path / "m")
    assert np.allclose(loaded.predict(quantiles=(0.1, 0.9)).to_numpy(), forecast.to_numpy())
    with pytest.raises(ValueError, match="ensemble: expected a positive integer, got 0"):
        Forecaster(4, ensemble=0)


def test_fallback_validation_picks_a_statistical_forecast_the_network_cannot_beat(tmp_path):
    # A pure seasonal pattern: seasonal naive is exact on the validation window, a tiny network is not.
    y = pd.Series(np.tile([5.0, 9.0, 4.0, 12.0, 7.0, 3.0, 8.0, 11.0, 6.0, 10.0, 2.0, 13.0], 4),
                  index=pd.date_range("2000-01-01", periods=48, freq="MS"))
    model = Forecaster(6, season_length=12, fallback="validation", hidden_size=4, num_layers=1, max_steps=3,
                       context_length=12).fit(y)
    assert model.selection_["choice"] == "seasonal_naive"
    assert model.selection_["errors"]["seasonal_naive"] == pytest.approx(0.0, abs=1e-9)
    assert "seasonal_naive" in model.explain() and "did not beat" in model.explain()
    forecast = model.predict(quantiles=(0.1, 0.9))
    np.testing.assert_allclose(forecast["mean"].to_numpy(), y.iloc[36:42].to_numpy())
    assert (forecast["q0.1"] <= forecast["q0.9"]).all()
    model.save(tmp_path / "m")
    again = rnnkit.load(tmp_path / "m")
    assert again.selection_ == model.selection_
    np.testing.assert_allclose(again.predict()["mean"].to_numpy(), forecast["mean"].to_numpy())
    with pytest.raises(ValueError, match="fallback: expected one of"):
        Forecaster(6, fallback="auto")


def test_epoch_budget_with_early_stopping_stops_when_validation_stops_improving():
    rng = np.random.default_rng(0)
    t = np.arange(120)
    y = pd.Series(10 + 3 * np.sin(2 * np.pi * t / 12) + rng.standard_normal(120),
                  index=pd.date_range("2000-01-01", periods=120, freq="MS"))
    model = Forecaster(6, season_length=12, context_length=24, hidden_size=16, num_layers=1, max_epochs=80,
                       patience=2, lr=1e-2).fit(y)
    losses = [row["val_loss"] for row in model.training_log_ if "val_loss" in row]
    assert len(model.training_log_) < 80
    best = int(np.argmin(losses))
    assert len(losses) - 1 - best == 2  # stopped exactly `patience` epochs after the best one
