"""The statistical forecasting standard, through statsforecast: AutoETS, AutoARIMA, AutoTheta,
SeasonalNaive, and Naive2 as the M competitions define it — for many series at once.

These are the baselines users compare a neural forecaster against, and the partners of the
combined forecasts (see :mod:`rnnkit.tasks.forecast.combination`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from rnnkit.optional import require

#: Names :func:`statistical_forecasts` accepts.
STATISTICAL_MODELS = ("AutoETS", "AutoARIMA", "AutoTheta", "SeasonalNaive", "Naive", "Naive2")


def seasonality_test(history: np.ndarray, season_length: int) -> bool:
    """The M4 competition's 90 % autocorrelation test for seasonality at lag ``season_length``."""
    n = len(history)
    if season_length <= 1 or n < 3 * season_length:
        return False
    x = history - history.mean()
    denominator = float(np.sum(x * x))
    if denominator == 0:
        return False
    acf = np.array([np.sum(x[k:] * x[: n - k]) / denominator for k in range(season_length + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(acf[1:season_length] ** 2)) / n)
    return bool(abs(acf[season_length]) > limit)


def seasonal_indices(history: np.ndarray, season_length: int) -> np.ndarray:
    """Classical multiplicative decomposition's seasonal indices (centred moving average), one per
    position in the season, aligned so that index ``k`` belongs to time ``t`` with ``t % m == k``."""
    m = season_length
    if m % 2 == 0:
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        weights = np.ones(m) / m
    trend = np.convolve(history, weights, mode="valid")
    offset = (len(weights) - 1) // 2
    ratios = history[offset : offset + len(trend)] / np.where(trend == 0, np.nan, trend)
    positions = (np.arange(len(ratios)) + offset) % m
    indices = np.array([np.nanmean(ratios[positions == k]) if np.any(positions == k) else 1.0 for k in range(m)])
    indices = np.where(np.isfinite(indices) & (indices > 0), indices, 1.0)
    return indices * m / indices.sum()


def naive2(history: np.ndarray, horizon: int, season_length: int) -> np.ndarray:
    """Naive2: the last value of the seasonally adjusted series, re-seasonalised (seasonality only
    where the 90 % test finds it; otherwise plain naive)."""
    history = np.asarray(history, float)
    if not seasonality_test(history, season_length) or np.any(history <= 0):
        return np.repeat(history[-1], horizon)
    indices = seasonal_indices(history, season_length)
    n = len(history)
    adjusted_last = history[-1] / indices[(n - 1) % season_length]
    return adjusted_last * indices[(n + np.arange(horizon)) % season_length]


def statistical_forecasts(
    histories: Sequence[np.ndarray],
    horizon: int,
    season_length: int,
    *,
    models: Sequence[str] = ("AutoETS", "AutoTheta", "AutoARIMA", "SeasonalNaive", "Naive2"),
    n_jobs: int = 1,
) -> tuple[dict[str, list[np.ndarray]], dict[str, float]]:
    """Forecast every history with each statistical model.

    Args:
        histories: the series (arrays of different lengths, no missing values).
        horizon: steps to forecast.
        season_length: the seasonal period (1: none).
        models: names from :data:`STATISTICAL_MODELS`.
        n_jobs: statsforecast's processes.

    Returns:
        ``({model: [forecast per series]}, {model: CPU seconds})``.

    Example:
        >>> forecasts, seconds = statistical_forecasts([np.arange(30.0)], 6, 1, models=["AutoETS"])  # doctest: +SKIP
    """
    unknown = [m for m in models if m not in STATISTICAL_MODELS]
    if unknown:
        raise ValueError(f"models: expected names from {STATISTICAL_MODELS}, got {unknown}")
    import pandas as pd

    forecasts: dict[str, list[np.ndarray]] = {}
    seconds: dict[str, float] = {}
    frame = pd.DataFrame({
        "unique_id": np.repeat(np.arange(len(histories)), [len(h) for h in histories]),
        "ds": np.concatenate([np.arange(len(h)) for h in histories]),
        "y": np.concatenate([np.asarray(h, float) for h in histories]),
    })
    for name in models:
        start = time.process_time()
        if name == "Naive2":
            forecasts[name] = [naive2(h, horizon, season_length) for h in histories]
        else:
            statsforecast = require("statsforecast", "competitions")
            from statsforecast import models as sf_models

            model = _model(sf_models, name, season_length)
            engine = statsforecast.StatsForecast(models=[model], freq=1, n_jobs=n_jobs)
            result = engine.forecast(df=frame, h=horizon)
            column = next(c for c in result.columns if c not in ("unique_id", "ds"))
            result = result.sort_values(["unique_id", "ds"])
            values = result[column].to_numpy().reshape(len(histories), horizon)
            forecasts[name] = [row.astype(np.float64) for row in values]
        seconds[name] = time.process_time() - start
    return forecasts, seconds


def _model(sf_models, name: str, season_length: int):
    if name == "AutoETS":
        return sf_models.AutoETS(season_length=season_length)
    if name == "AutoARIMA":
        return sf_models.AutoARIMA(season_length=season_length)
    if name == "AutoTheta":
        return sf_models.AutoTheta(season_length=season_length)
    if name == "SeasonalNaive":
        return sf_models.SeasonalNaive(season_length=season_length)
    return sf_models.Naive()


__all__ = ["STATISTICAL_MODELS", "naive2", "seasonality_test", "statistical_forecasts"]
