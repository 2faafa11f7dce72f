"""The ES-RNN forecaster across series (rnnkit.tasks.forecast.es_rnn) and its competition option."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.competitions import CompetitionSubset
from rnnkit.tasks.forecast.es_rnn import ESRNNForecaster, first_season, positive_shift

PATTERN = np.array([0.7, 1.0, 1.3, 1.0])


def test_a_pure_seasonal_series_is_forecast_close_to_the_truth_after_a_short_fit():
    t = np.arange(60)
    histories = [(20 + 0.3 * k) * PATTERN[t % 4] for k in range(8)]
    model = ESRNNForecaster(4, season_length=4, context_length=8, max_epochs=15, hidden_size=16, num_layers=1)
    forecasts = model.fit(histories).predict()
    for k, forecast in enumerate(forecasts):
        truth = (20 + 0.3 * k) * PATTERN[np.arange(60, 64) % 4]
        np.testing.assert_allclose(forecast, truth, rtol=0.02)
    coefficients = model.coefficients()
    assert np.all((coefficients["alpha"] > 0) & (coefficients["alpha"] < 1))
    assert np.all((coefficients["gamma"] > 0) & (coefficients["gamma"] < 1))
    assert model.training_log_ and "val_loss" in model.training_log_[0]


def test_zeros_short_series_and_bad_input():
    rng = np.random.default_rng(0)
    histories = [np.r_[0.0, 0.0, 5 + rng.random(20)], 3 + rng.random(5), 10 + rng.random(30)]
    model = ESRNNForecaster(3, context_length=4, max_epochs=2, hidden_size=8, num_layers=1).fit(histories)
    forecasts = model.predict()
    assert len(forecasts) == 3 and all(f.shape == (3,) and np.all(np.isfinite(f)) for f in forecasts)
    assert positive_shift(np.array([0.0, 2.0])) == pytest.approx(0.1)
    assert positive_shift(np.array([1.0, 2.0])) == 0.0
    np.testing.assert_allclose(first_season(np.tile(PATTERN, 5) * 8, 4), PATTERN)
    with pytest.raises(ValueError, match="histories: series 1 must be"):
        ESRNNForecaster(3).fit([np.ones(10), np.array([1.0, np.nan])])
    with pytest.raises(ValueError, match="horizon: expected a positive integer"):
        ESRNNForecaster(0)
    with pytest.raises(TypeError, match="unknown option"):
        ESRNNForecaster(3, windows=2)
    with pytest.raises(RuntimeError, match="call fit"):
        ESRNNForecaster(3).predict()


def test_run_competition_trains_the_es_rnn_and_combines_it():
    pytest.importorskip("statsforecast")
    from rnnkit.tasks.forecast.competitions import global_forecaster_forecasts, run_competition

    rng = np.random.default_rng(0)
    train = [10 + np.cumsum(rng.normal(1, 0.3, n)) for n in (14, 20, 25, 9)]
    test = [x[-1] + np.arange(1, 7) for x in train]
    subset = CompetitionSubset("m3-yearly", ["a", "b", "c", "d"], train, test, 6, 1)
    small = {"max_epochs": 2, "hidden_size": 8, "num_layers": 1}
    result = run_competition(subset, statistical=("Naive2",), combine_with=("AutoTheta",),
                             models=("lstm", "es-rnn"), rnn_options={"max_steps": 5, "hidden_size": 8,
                                                                     "num_layers": 1},
                             model_options={"es-rnn": small})
    es = result.forecasts["rnnkit ES-RNN"]
    both = result.forecasts["rnnkit LSTM + ES-RNN + AutoTheta (mean)"]
    lstm = result.forecasts["rnnkit LSTM (global)"]
    np.testing.assert_allclose(both[2], (lstm[2] + es[2] + result.forecasts["AutoTheta"][2]) / 3)
    assert all(np.isfinite(v["sMAPE"]) for v in result.scores.values())
    with pytest.raises(ValueError, match="model: expected one of"):
        global_forecaster_forecasts(subset, model="nbeats")


def test_seeds_average_separately_trained_networks():
    pytest.importorskip("statsforecast")
    from rnnkit.tasks.forecast.competitions import global_forecaster_forecasts, run_competition

    rng = np.random.default_rng(1)
    train = [20 + np.cumsum(rng.normal(0.5, 0.3, n)) for n in (20, 24, 30)]
    subset = CompetitionSubset("m3-other", ["a", "b", "c"], train, [x[-1] + np.arange(1, 9) for x in train], 8, 1)
    small = {"max_epochs": 2, "hidden_size": 8, "num_layers": 1}
    result = run_competition(subset, statistical=("Naive2",), combine_with=(), seeds=2, models=("es-rnn",),
                             model_options={"es-rnn": small})
    one, _ = global_forecaster_forecasts(subset, model="es-rnn", seed=0, **small)
    two, _ = global_forecaster_forecasts(subset, model="es-rnn", seed=1, **small)
    assert not np.allclose(one[0], two[0])  # different seeds, different networks
    np.testing.assert_allclose(result.forecasts["rnnkit ES-RNN, 2 seeds"][0], (one[0] + two[0]) / 2, rtol=1e-6)
