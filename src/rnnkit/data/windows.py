"""Fixed-length windows over a :class:`~rnnkit.data.timeseries.SeriesCollection`, scaled and
ready for the forecasting networks (see :mod:`rnnkit.models.forecasting` for the batch keys).

Scaling: each series has a scale (its standard deviation over the data the model was fitted on,
1 for a constant series) and each window a level (the mean of its observed context values), so
``z = (y - level) / scale``. A local level lets a network follow trends beyond the range it was
trained on; a per-series scale keeps the units of all windows of a series alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from rnnkit.data.timeseries import SeriesCollection, calendar_features


@dataclass
class SeriesArrays:
    """Per-series numpy arrays: values (NaN = missing) and known features, over ``T + extra`` steps."""

    values: np.ndarray
    features: np.ndarray


#: Above this magnitude squares overflow float64: statistics divide by the peak first.
_HUGE = 1e150


def series_scales(collection: SeriesCollection) -> np.ndarray:
    """Standard deviation of each series' observed values (1.0 where it is 0 or undefined).

    Computed on the values divided by their largest magnitude, so that values near the float64
    limit (1e300) do not overflow when squared; a scale too small to divide by is 1.0.
    """
    scales = []
    for v in collection.values:
        observed = v[np.isfinite(v)]
        peak = float(np.max(np.abs(observed))) if observed.size else 0.0
        if peak < _HUGE:
            scales.append(float(np.nanstd(v)) if observed.size else 1.0)
        else:
            scales.append(float(np.std(observed / peak)) * peak)
    scales = np.array(scales, dtype=float)
    return np.where(np.isfinite(scales) & (scales > 1e-12), scales, 1.0)


def _mean(values: np.ndarray) -> float:
    """The mean, without overflowing for values near the float64 limit."""
    peak = float(np.max(np.abs(values)))
    if peak < _HUGE:
        return float(values.mean())
    return float(np.mean(values / peak)) * peak


def build_arrays(
    collection: SeriesCollection,
    *,
    use_calendar: bool,
    future_covariates: list[np.ndarray] | None = None,
    horizon: int = 0,
) -> list[SeriesArrays]:
    """Values and features of each series, with features extended ``horizon`` steps into the future.

    Args:
        collection: the series.
        use_calendar: add calendar features derived from the time index.
        future_covariates: per series ``(horizon, F)`` user covariates for the future steps.
        horizon: future steps to add features for (values there are NaN).
    """
    arrays = []
    for i in range(len(collection)):
        times = collection.times[i]
        if horizon:
            times = times.append(collection.future_index(i, horizon))
        parts = [calendar_features(times, collection.freq)] if use_calendar else []
        if collection.covariate_names:
            covs = collection.covariates[i]
            if horizon:
                covs = np.concatenate([covs, future_covariates[i]], axis=0)
            # A missing covariate value carries the last known one (0 before any is known).
            parts.append(_forward_fill(covs))
        features = np.concatenate(parts, axis=1) if parts else np.zeros((len(times), 0))
        values = np.concatenate([collection.values[i], np.full(horizon, np.nan)])
        arrays.append(SeriesArrays(values, features.astype(np.float64)))
    return arrays


def _forward_fill(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    for j in range(out.shape[1]):
        col = out[:, j]
        valid = np.where(np.isfinite(col), np.arange(len(col)), 0)
        np.maximum.accumulate(valid, out=valid)
        col[:] = np.where(np.isfinite(col[valid]), col[valid], 0.0)
    return out


def interpolate_missing(values: np.ndarray) -> np.ndarray:
    """Linear interpolation of NaNs (ends take the nearest observed value)."""
    observed = np.isfinite(values)
    if observed.all() or not observed.any():
        return values
    x = np.arange(len(values))
    return np.interp(x, x[observed], values[observed])


def seasonal_lags(values: np.ndarray, end: int, *, context: int, horizon: int, season_length: int):
    """Seasonal lag inputs of a window with origin ``end``.

    Returns:
        ``(past, future)``: for each context step the value one season earlier, and for each
        future step the seasonal naive forecast from the history before ``end`` (the value
        ``ceil(h / m)`` seasons back), both with missing values interpolated.
    """
    m = season_length
    start = end - context - m
    history = interpolate_missing(values[max(start, 0) : end])
    if start < 0:  # not enough history: repeat the first value (only reachable at a series' start)
        history = np.concatenate([np.full(-start, history[0]), history])
    past = history[:context]
    h = np.arange(1, horizon + 1)
    future = history[len(history) - 1 + h - m * np.ceil(h / m).astype(int)]
    return past, future


def make_window(
    arrays: SeriesArrays,
    end: int,
    *,
    context: int,
    horizon: int,
    scale: float,
    impute: bool,
    season_length: int | None = None,
    level: str = "mean",
) -> dict[str, Tensor]:
    """One window whose context ends just before index ``end`` (the forecast origin).

    With ``season_length``, the first feature of every step is a seasonal lag (see
    :func:`seasonal_lags`), scaled like the target. A series shorter than the context (``end <
    context``) is padded at the start with missing values (flagged unobserved) and zero features,
    so short series are forecast from what they have instead of being refused.

    ``level="mean"`` centres a window on the mean of its observed context, ``"last"`` on its last
    observed value (better for trending series: the network forecasts changes from where the
    series is, as N-BEATS-style global models do).

    Returns:
        The batch keys of one window plus ``level`` and ``scale`` (to unscale outputs).
    """
    pad = max(context - end, 0)
    past = arrays.values[end - context + pad : end]
    future = arrays.values[end : end + horizon]
    observed = np.isfinite(past)
    if not observed.any():
        level_value = 0.0
    elif level == "last":
        level_value = float(past[observed][-1])
    else:
        level_value = _mean(past[observed])
    past_input = interpolate_missing(past) if impute else past
    past_features = arrays.features[end - context + pad : end]
    future_features = arrays.features[end : end + horizon]
    if pad:
        past_input = np.concatenate([np.full(pad, np.nan), past_input])
        past_features = np.concatenate([np.zeros((pad, past_features.shape[1])), past_features])
    past_z = np.nan_to_num((past_input - level_value) / scale)
    future_observed = np.isfinite(future)
    future_z = np.nan_to_num((future - level_value) / scale)
    if season_length:
        past_lag, future_lag = seasonal_lags(
            arrays.values, end, context=context, horizon=horizon, season_length=season_length
        )
        past_features = np.column_stack([np.nan_to_num((past_lag - level_value) / scale), past_features])
        future_features = np.column_stack([np.nan_to_num((future_lag - level_value) / scale), future_features])
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return {
        "past_target": as_tensor(past_z),
        "past_observed": as_tensor(np.isfinite(past_input)),
        "past_features": as_tensor(past_features),
        "future_target": as_tensor(future_z),
        "future_observed": as_tensor(future_observed),
        "future_features": as_tensor(future_features),
        "level": torch.tensor(level_value, dtype=torch.float64),
        "scale": torch.tensor(scale, dtype=torch.float64),
    }


class WindowDataset(Dataset):
    """Every window of every series whose forecast origin lies in ``[first_end, last_end]``.

    Args:
        arrays: per-series arrays.
        scales: per-series scale.
        context, horizon: window parts.
        ends: per series, the origins to use (index of the first future step).
        impute: interpolate missing context values instead of zero + observed flag.
        season_length: add the seasonal lag feature (see :func:`make_window`).
    """

    def __init__(
        self,
        arrays: list[SeriesArrays],
        scales: np.ndarray,
        *,
        context: int,
        horizon: int,
        ends: list[range],
        impute: bool = False,
        season_length: int | None = None,
        level: str = "mean",
    ) -> None:
        self.level = level
        self.arrays, self.scales = arrays, scales
        self.context, self.horizon, self.impute = context, horizon, impute
        self.season_length = season_length
        # Windows whose future holds no observed value teach nothing; leave them out.
        self.index = [
            (i, end)
            for i, series_ends in enumerate(ends)
            for end in series_ends
            if np.isfinite(arrays[i].values[end : end + horizon]).any()
        ]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int) -> dict[str, Tensor]:
        i, end = self.index[k]
        return make_window(
            self.arrays[i], end, context=self.context, horizon=self.horizon, scale=float(self.scales[i]),
            impute=self.impute, season_length=self.season_length, level=self.level,
        )
