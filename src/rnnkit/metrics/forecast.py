"""Point and probabilistic forecast errors.

All functions take arrays of actual values and forecasts of the same shape; NaN actuals (missing
values) are ignored. MASE divides by the in-sample mean absolute error of the seasonal naive
forecast (Hyndman & Koehler 2006), computed on the history before the forecast origin.
"""

from __future__ import annotations

import numpy as np


def _valid(actual: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    keep = np.isfinite(actual)
    return (actual[keep], *(o[keep] for o in others))


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute error."""
    a, f = _valid(np.asarray(actual, float), np.asarray(forecast, float))
    return float(np.mean(np.abs(a - f)))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Root mean squared error."""
    a, f = _valid(np.asarray(actual, float), np.asarray(forecast, float))
    return float(np.sqrt(np.mean((a - f) ** 2)))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent, ``200 * |a - f| / (|a| + |f|)``, with 0/0 counted as 0."""
    a, f = _valid(np.asarray(actual, float), np.asarray(forecast, float))
    denominator = np.abs(a) + np.abs(f)
    ratio = np.divide(2 * np.abs(a - f), denominator, out=np.zeros_like(a), where=denominator > 0)
    return float(100 * np.mean(ratio))


def seasonal_naive_scale(history: np.ndarray, season_length: int | None) -> float:
    """In-sample MAE of the seasonal naive forecast (lag ``m``; lag 1 when ``m`` is None)."""
    m = season_length or 1
    h = np.asarray(history, float)
    if len(h) <= m:
        raise ValueError(f"history: MASE needs more than season_length={m} points, got {len(h)}")
    diffs = np.abs(h[m:] - h[:-m])
    diffs = diffs[np.isfinite(diffs)]
    scale = float(np.mean(diffs)) if len(diffs) else np.nan
    return scale if scale > 0 else np.nan


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Mean absolute scaled error: MAE divided by :func:`seasonal_naive_scale` of the history."""
    return mae(actual, forecast) / scale


def pinball(actual: np.ndarray, quantile_forecasts: dict[float, np.ndarray]) -> float:
    """Mean pinball (quantile) loss over the given levels; twice its mean over a dense grid of
    levels approximates the CRPS."""
    losses = []
    for q, f in quantile_forecasts.items():
        a, f = _valid(np.asarray(actual, float), np.asarray(f, float))
        error = a - f
        losses.append(np.mean(np.maximum(q * error, (q - 1) * error)))
    return float(np.mean(losses))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside ``[lower, upper]``."""
    a, lo, hi = _valid(np.asarray(actual, float), np.asarray(lower, float), np.asarray(upper, float))
    return float(np.mean((a >= lo) & (a <= hi)))
