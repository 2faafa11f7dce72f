"""Rolling-origin evaluation: forecasts from several origins near the end of each series,
scored against what happened, for the RNN and the baselines alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnkit.data.timeseries import SeriesCollection, SeriesError
from rnnkit.metrics import forecast as metrics


def origin_positions(length: int, horizon: int, origins: int, stride: int | None = None) -> list[int]:
    """Index of the first forecast step of each origin, oldest first; the last window ends at the
    series' end and origins are ``stride`` (default ``horizon``) steps apart."""
    stride = stride or horizon
    positions = [length - horizon - k * stride for k in range(origins)][::-1]
    if positions[0] < 1:
        raise SeriesError(f"backtest: {origins} origins {stride} steps apart with horizon {horizon} need more than "
                          f"{horizon + (origins - 1) * stride} points, the series has {length}")
    return positions


def cut(collection: SeriesCollection, ends: list[int]) -> SeriesCollection:
    """Each series cut to its first ``ends[i]`` points."""
    return SeriesCollection(
        list(collection.ids),
        [t[:e] for t, e in zip(collection.times, ends, strict=True)],
        [v[:e] for v, e in zip(collection.values, ends, strict=True)],
        [c[:e] for c, e in zip(collection.covariates, ends, strict=True)] if collection.covariates else [],
        list(collection.covariate_names),
        collection.freq,
    )


def _rows(collection, i, origin, horizon, columns) -> pd.DataFrame:
    return pd.DataFrame({
        "id": collection.ids[i],
        "origin": collection.times[i][origin],
        "step": np.arange(1, horizon + 1),
        "time": collection.times[i][origin : origin + horizon],
        "actual": collection.values[i][origin : origin + horizon],
        **columns,
    })


def backtest_function(
    collection: SeriesCollection,
    method: Callable,
    *,
    horizon: int,
    origins: int,
    stride: int | None = None,
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
    season_length: int | None = None,
) -> tuple[pd.DataFrame, float]:
    """Backtest a baseline ``method(history, horizon, quantiles, season_length) -> (mean, {q: array})``.

    Returns:
        The forecasts (one row per series, origin and step) and the seconds it took.
    """
    start = time.perf_counter()
    frames = []
    for i, values in enumerate(collection.values):
        for origin in origin_positions(len(values), horizon, origins, stride):
            mean, qs = method(values[:origin], horizon, quantiles, season_length=season_length)
            columns = {"mean": mean, **{f"q{q:g}": qs[q] for q in qs}}
            frames.append(_rows(collection, i, origin, horizon, columns))
    return pd.concat(frames, ignore_index=True), time.perf_counter() - start


def backtest_forecaster(
    forecaster,
    collection: SeriesCollection,
    *,
    origins: int,
    stride: int | None = None,
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
    refit: bool = True,
) -> tuple[pd.DataFrame, float]:
    """Backtest a :class:`~rnnkit.tasks.forecast.Forecaster` at the same origins as the baselines.

    With ``refit`` the forecaster is first fitted on each series up to its first origin (so no
    forecast sees data past its origin); the forecasts then read the history up to each origin.

    Returns:
        The forecasts and the seconds taken (fitting included).
    """
    horizon = forecaster.config.horizon
    start = time.perf_counter()
    positions = [origin_positions(len(v), horizon, origins, stride) for v in collection.values]
    if refit:
        forecaster._fit_collection(cut(collection, [p[0] for p in positions]))
    frames = []
    for k in range(origins):
        ends = [p[k] for p in positions]
        history = cut(collection, ends)
        future_covs = None
        if collection.covariate_names:
            steps = forecaster._feature_steps(horizon)
            future_covs = [c[e : e + steps] for c, e in zip(collection.covariates, ends, strict=True)]
            if any(len(f) < steps for f in future_covs):
                raise SeriesError("backtest: covariates must cover each origin's whole forecast window")
        columns = forecaster.forecast_arrays(history, horizon, quantiles, future_covs)
        for i in range(len(collection)):
            frames.append(_rows(collection, i, ends[i], horizon, {c: v[i] for c, v in columns.items()}))
    return pd.concat(frames, ignore_index=True), time.perf_counter() - start


@dataclass
class Scores:
    """Errors of one method over all series, origins and steps."""

    mae: float
    rmse: float
    smape: float
    mase: float
    pinball: float
    coverage80: float


def score(frame: pd.DataFrame, collection: SeriesCollection, *, season_length: int | None) -> Scores:
    """MAE, RMSE and sMAPE over all forecasts; MASE and pinball per series (scaled by its
    in-sample seasonal naive MAE before the first origin), then averaged over series."""
    mase_values, pinball_values = [], []
    for i, name in enumerate(collection.ids):
        rows = frame[frame["id"] == name]
        first = collection.times[i].get_loc(rows["origin"].min())
        scale = metrics.seasonal_naive_scale(collection.values[i][:first], season_length)
        mase_values.append(metrics.mase(rows["actual"].to_numpy(), rows["mean"].to_numpy(), scale))
        qcols = {float(c[1:]): rows[c].to_numpy() for c in rows.columns if c.startswith("q")}
        pinball_values.append(metrics.pinball(rows["actual"].to_numpy(), qcols) / scale if qcols else np.nan)
    actual, mean = frame["actual"].to_numpy(), frame["mean"].to_numpy()
    has_band = {"q0.1", "q0.9"} <= set(frame.columns)
    return Scores(
        mae=metrics.mae(actual, mean),
        rmse=metrics.rmse(actual, mean),
        smape=metrics.smape(actual, mean),
        mase=float(np.mean(mase_values)),
        pinball=float(np.mean(pinball_values)),
        coverage80=metrics.coverage(actual, frame["q0.1"].to_numpy(), frame["q0.9"].to_numpy())
        if has_band else np.nan,
    )


def errors_by_step(frame: pd.DataFrame) -> pd.Series:
    """Mean absolute error at each forecast step (1..H), over series and origins."""
    return (frame["actual"] - frame["mean"]).abs().groupby(frame["step"]).mean()
