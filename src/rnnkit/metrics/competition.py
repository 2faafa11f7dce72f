"""The forecasting competitions' error measures, per series and averaged as the competitions did.

- sMAPE as M3 defines it: ``200 * |y - f| / (|y| + |f|)`` averaged over the horizon, then over
  series (Makridakis & Hibon 2000).
- MASE: mean absolute error over the in-sample mean absolute seasonal-naive error (period ``m``;
  ``m = 1`` for yearly and "other" series), averaged over series (Hyndman & Koehler 2006).
- MAPE (Tourism): ``100 * |y - f| / |y|`` averaged over the horizon, then over series.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def smape_m3(actual: np.ndarray, forecast: np.ndarray) -> float:
    """M3's symmetric MAPE of one series, in percent."""
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    denominator = np.abs(actual) + np.abs(forecast)
    terms = np.where(denominator > 0, 200.0 * np.abs(actual - forecast) / np.where(denominator > 0, denominator, 1),
                     0.0)
    return float(terms.mean())


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error of one series, in percent (zero actuals are left out)."""
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    keep = actual != 0
    return float(100.0 * np.mean(np.abs(actual[keep] - forecast[keep]) / np.abs(actual[keep]))) if keep.any() \
        else float("nan")


def mase(history: np.ndarray, actual: np.ndarray, forecast: np.ndarray, season_length: int) -> float:
    """Mean absolute scaled error of one series (scale: the in-sample seasonal naive MAE).

    A series too short for a seasonal difference uses the lag-1 difference; a constant history
    (scale 0) gives NaN, which the averages skip.
    """
    history = np.asarray(history, float)
    m = season_length if len(history) > season_length else 1
    scale = np.mean(np.abs(history[m:] - history[:-m])) if len(history) > m else float("nan")
    if not np.isfinite(scale) or scale == 0:
        return float("nan")
    return float(np.mean(np.abs(np.asarray(actual, float) - np.asarray(forecast, float))) / scale)


def competition_scores(
    histories: Sequence[np.ndarray], actuals: Sequence[np.ndarray], forecasts: Sequence[np.ndarray], *,
    season_length: int,
) -> dict[str, float]:
    """``{"sMAPE", "MASE", "MAPE"}`` averaged over series (NaN series skipped for MASE/MAPE).

    Example:
        >>> competition_scores([np.array([1., 2, 3])], [np.array([4., 5])], [np.array([3., 3])], season_length=1)
        {'sMAPE': 35.23..., 'MASE': 1.5, 'MAPE': 32.5}
    """
    rows = [(smape_m3(a, f), mase(h, a, f, season_length), mape(a, f))
            for h, a, f in zip(histories, actuals, forecasts, strict=True)]
    array = np.array(rows, dtype=float)
    return {"sMAPE": float(np.mean(array[:, 0])), "MASE": float(np.nanmean(array[:, 1])),
            "MAPE": float(np.nanmean(array[:, 2]))}


__all__ = ["competition_scores", "mape", "mase", "smape_m3"]
