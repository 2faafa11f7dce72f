"""Classical baselines, forecasting from a history array: naive, seasonal naive, ETS, ARIMA.

Each returns ``(mean, quantiles)`` for ``horizon`` steps, ``quantiles`` mapping a level to an
array (empty when the method gives no distribution).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import norm

from rnnkit.data.windows import interpolate_missing


def _last_observed(history: np.ndarray) -> np.ndarray:
    return interpolate_missing(np.asarray(history, float))


def naive(history: np.ndarray, horizon: int, quantiles=(), season_length: int | None = None):
    """Repeat the last observed value."""
    h = _last_observed(history)
    return np.full(horizon, h[-1]), {}


def seasonal_naive(history: np.ndarray, horizon: int, quantiles=(), season_length: int | None = None):
    """Repeat the last observed season (the naive forecast when ``season_length`` is None)."""
    m = season_length or 1
    h = _last_observed(history)
    last_season = h[-m:]
    return np.resize(last_season, horizon) if m > 1 else np.full(horizon, h[-1]), {}


def ets(history: np.ndarray, horizon: int, quantiles=(0.1, 0.5, 0.9), season_length: int | None = None):
    """Additive-error ETS (statsmodels ``ETSModel``) with the trend chosen by AIC among none,
    additive and damped additive, and an additive season when ``season_length`` is given and the
    history holds two seasons; quantiles from its analytic prediction intervals.

    Initial states are estimated by maximum likelihood, except for seasons longer than 60 steps
    (half-hourly data with a weekly season has 336), where statsmodels' heuristic initialisation
    is used because estimating hundreds of initial states takes minutes per fit. On weekly co2 the
    estimated initialisation cuts ETS's MAE by a third (measured: 0.95 against 1.51 ppm)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    # a pandas Series: statsmodels' ETS prediction results need an index
    h = pd.Series(_last_observed(history))
    seasonal = season_length is not None and season_length > 1 and len(h) >= 2 * season_length + 10
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for trend, damped in ((None, False), ("add", False), ("add", True)):
            model = ETSModel(
                h, error="add", trend=trend, damped_trend=damped,
                seasonal="add" if seasonal else None, seasonal_periods=season_length if seasonal else None,
                initialization_method="heuristic" if seasonal and season_length > 60 else "estimated",
            )
            fitted = model.fit(disp=False, maxiter=200)
            if best is None or fitted.aic < best.aic:
                best = fitted
        prediction = best.get_prediction(start=len(h), end=len(h) + horizon - 1)
        mean = np.asarray(prediction.predicted_mean)
        sd = np.sqrt(np.asarray(prediction.var_pred_mean))
    return mean, {q: mean + sd * norm.ppf(q) for q in quantiles}


def arima(history: np.ndarray, horizon: int, quantiles=(0.1, 0.5, 0.9), season_length: int | None = None):
    """ARIMA(2, 1, 2) with drift by statsmodels (non-seasonal: fast and a fair default)."""
    from statsmodels.tsa.arima.model import ARIMA

    h = _last_observed(history)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ARIMA(h, order=(2, 1, 2), trend="t").fit()
        prediction = fitted.get_forecast(horizon)
        mean = np.asarray(prediction.predicted_mean)
        sd = np.sqrt(np.asarray(prediction.var_pred_mean))
    return mean, {q: mean + sd * norm.ppf(q) for q in quantiles}


BASELINES = {"naive": naive, "seasonal_naive": seasonal_naive, "ets": ets, "arima": arima}
