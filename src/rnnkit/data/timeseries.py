"""Time series as users give them (pandas), checked and turned into aligned numpy arrays.

Accepted layouts:

* a ``pd.Series`` indexed by time: one series;
* a wide ``pd.DataFrame`` indexed by time: one series per column;
* a long ``pd.DataFrame`` with id / time / value columns: many series (a global model).

Timestamps are sorted (with a warning) when unsorted; duplicated timestamps, non-numeric values
and irregular spacing that no frequency explains are errors that name the column and row. Gaps
in a regular index become missing values.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


class SeriesError(ValueError):
    """A series that cannot be used, with a message naming where and why."""


@dataclass
class SeriesCollection:
    """One or more aligned series with a shared frequency.

    Attributes:
        ids: one name per series.
        times: per-series ``pd.Index`` of timestamps (DatetimeIndex or integer RangeIndex).
        values: per-series float64 arrays; NaN marks a missing value.
        covariates: per-series ``(T_i, F)`` float arrays of user covariates (empty ``F = 0`` if none).
        covariate_names: the ``F`` covariate names.
        freq: pandas offset for datetime indexes, ``None`` for integer time steps.
    """

    ids: list[str]
    times: list[pd.Index]
    values: list[np.ndarray]
    covariates: list[np.ndarray] = field(default_factory=list)
    covariate_names: list[str] = field(default_factory=list)
    freq: pd.DateOffset | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def future_index(self, i: int, horizon: int) -> pd.Index:
        """The ``horizon`` timestamps that follow series ``i``."""
        return future_index(self.times[i], horizon, self.freq)

    def head(self, i: int, end: int) -> SeriesCollection:
        """Series ``i`` cut to its first ``end`` points, as a collection of one."""
        covs = [self.covariates[i][:end]] if self.covariates else []
        return SeriesCollection(
            [self.ids[i]], [self.times[i][:end]], [self.values[i][:end]], covs, self.covariate_names, self.freq
        )


def future_index(times: pd.Index, horizon: int, freq: pd.DateOffset | None) -> pd.Index:
    """Timestamps of the ``horizon`` steps after ``times[-1]``."""
    if freq is None:
        start = int(times[-1]) + 1
        return pd.RangeIndex(start, start + horizon, name=times.name)
    return pd.date_range(times[-1], periods=horizon + 1, freq=freq, name=times.name)[1:]


def _as_time_index(raw: pd.Index | pd.Series, where: str) -> pd.Index:
    if isinstance(raw, pd.PeriodIndex):
        return raw.to_timestamp()
    if isinstance(raw, (pd.DatetimeIndex, pd.RangeIndex)):
        return raw
    values = pd.Index(raw)
    if pd.api.types.is_integer_dtype(values):
        return values
    try:
        return pd.DatetimeIndex(pd.to_datetime(values))
    except (ValueError, TypeError) as error:
        raise SeriesError(
            f"{where}: expected timestamps or integer time steps, could not parse them ({error})"
        ) from None


def _numeric(column: pd.Series, name: str) -> np.ndarray:
    converted = pd.to_numeric(column, errors="coerce")
    bad = converted.isna() & column.notna()
    if bad.any():
        row = column.index[np.argmax(bad.to_numpy())]
        raise SeriesError(f"column {name!r}, row {row}: expected a number, got {column[row]!r}")
    return converted.to_numpy(dtype=np.float64)


def infer_frequency(times: pd.Index, where: str = "time index") -> pd.DateOffset | None:
    """The pandas offset of a DatetimeIndex (``None`` for integer time steps).

    Tries ``pd.infer_freq`` and then the most common spacing, so that a series with a few missing
    timestamps still gets its frequency (the gaps become missing values).
    """
    if not isinstance(times, pd.DatetimeIndex):
        return None
    if times.freq is not None:
        return times.freq
    if len(times) < 3:
        raise SeriesError(f"{where}: at least 3 timestamps are needed to infer the frequency, got {len(times)}")
    guess = _infer(times)
    if guess is None and len(times) >= 5:
        # Gaps break pd.infer_freq; take the frequency most short runs of the index agree on.
        runs = [times[s : s + 5] for s in np.linspace(0, len(times) - 5, num=min(50, len(times) - 4), dtype=int)]
        guesses = pd.Series([g for run in runs if (g := _infer(run)) is not None])
        guess = guesses.mode().iloc[0] if len(guesses) else None
    if guess is None:
        raise SeriesError(f"{where}: timestamps are irregular and no frequency explains them; resample them first")
    offset = pd.tseries.frequencies.to_offset(guess)
    if not times.isin(pd.date_range(times[0], times[-1], freq=offset)).all():
        raise SeriesError(f"{where}: timestamps do not all fall on a {guess!r} grid; resample them first")
    return offset


def _infer(times: pd.Index) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guess = pd.infer_freq(times) if len(times) >= 3 else None
    return getattr(guess, "freqstr", guess)


def _sort_checked(times: pd.Index, values: np.ndarray, covs: np.ndarray, where: str):
    """Sort by time (warning if that changed anything); duplicated timestamps are an error."""
    order = np.argsort(times.to_numpy(), kind="stable")
    if not (order == np.arange(len(order))).all():
        warnings.warn(f"{where}: timestamps were not sorted; sorting them", UserWarning, stacklevel=4)
        times, values, covs = times[order], values[order], covs[order]
    duplicated = times.duplicated()
    if duplicated.any():
        raise SeriesError(f"{where}: duplicated timestamp {times[np.argmax(duplicated)]}; aggregate or drop duplicates")
    return times, values, covs


def _fill_gaps(times: pd.Index, values: np.ndarray, covs: np.ndarray, freq, what: str = "y"):
    """Put sorted data on its full regular grid, with NaN where a timestamp is missing.

    Raises:
        SeriesError: a timestamp off the grid (e.g. a daily series in a frame whose first series
            is monthly: one frame mixes frequencies).
    """
    if freq is None:
        full = pd.RangeIndex(int(times[0]), int(times[-1]) + 1, name=times.name)
    else:
        full = pd.date_range(times[0], times[-1], freq=freq, name=times.name)
    if len(full) == len(times):
        return (full if freq is not None else times), values, covs
    position = full.get_indexer(times)
    if (position < 0).any():
        raise SeriesError(
            f"{what}: time {times[np.argmax(position < 0)]} is not on the {freq.freqstr} grid of the collection "
            f"(inferred from its first series, or given as freq); a frame that mixes frequencies needs one model "
            f"per frequency: fit each group of series separately")
    filled_values = np.full(len(full), np.nan)
    filled_values[position] = values
    filled_covs = np.full((len(full), covs.shape[1]), np.nan)
    filled_covs[position] = covs
    return full, filled_values, filled_covs


def to_collection(
    y: pd.Series | pd.DataFrame,
    *,
    covariates: pd.DataFrame | None = None,
    id_col: str | None = None,
    time_col: str | None = None,
    value_col: str | None = None,
    covariate_cols: list[str] | None = None,
    freq: str | None = None,
) -> SeriesCollection:
    """Check user data and turn it into a :class:`SeriesCollection`.

    Args:
        y: a Series, a wide DataFrame (time index, one column per series), or a long DataFrame
            (give ``id_col``, ``time_col`` and ``value_col``).
        covariates: for Series / wide input, a DataFrame of known covariates on the same time index
            (shared by all series). For long input use ``covariate_cols`` instead.
        id_col, time_col, value_col: column names of the long layout; ``time_col`` alone selects the
            time column of a wide frame.
        covariate_cols: covariate columns of a long frame.
        freq: pandas frequency string, if it cannot be inferred.

    Returns:
        The checked collection.
    """
    if not isinstance(y, (pd.Series, pd.DataFrame)):
        raise TypeError(f"y: expected a pandas Series or DataFrame, got {type(y).__name__}")
    if len(y) == 0:
        raise SeriesError("y: the series is empty")
    if isinstance(y, pd.DataFrame) and id_col is not None:
        return _from_long(y, id_col, time_col, value_col, covariate_cols or [], freq)
    if isinstance(y, pd.DataFrame) and time_col is not None:
        if time_col not in y.columns:
            raise SeriesError(f"time_col: no column {time_col!r}; columns are {list(y.columns)}")
        y = y.set_index(time_col)
    if isinstance(y, pd.DataFrame) and value_col is not None:
        if value_col not in y.columns:
            raise SeriesError(f"value_col: no column {value_col!r}; columns are {list(y.columns)}")
        y = y[value_col]
    frame = y.to_frame(name=y.name if y.name is not None else "y") if isinstance(y, pd.Series) else y
    times = _as_time_index(frame.index, "y's index")
    columns = {str(c): _numeric(frame[c].reset_index(drop=True).set_axis(frame.index), str(c)) for c in frame.columns}
    if covariates is not None:
        if not isinstance(covariates, pd.DataFrame):
            raise TypeError(f"covariates: expected a DataFrame on y's time index, got {type(covariates).__name__}")
        cov_times = _as_time_index(covariates.index, "covariates' index")
        missing = ~times.isin(cov_times)
        if missing.any():
            raise SeriesError(f"covariates: no row for time {times[np.argmax(missing)]} of y")
        aligned = covariates.set_axis(cov_times).loc[times]
        cov = np.column_stack([_numeric(aligned[c], f"covariates[{c!r}]") for c in aligned.columns])
        cov_names = [str(c) for c in covariates.columns]
    else:
        cov, cov_names = np.zeros((len(times), 0)), []
    out = SeriesCollection([], [], [], [], cov_names, None)
    for name, values in columns.items():
        t, v, c = _sort_checked(times, values, cov, f"series {name!r}")
        if out.freq is None:
            out.freq = pd.tseries.frequencies.to_offset(freq) if freq else infer_frequency(t, f"series {name!r}")
        t, v, c = _fill_gaps(t, v, c, out.freq, f"series {name!r}")
        out.ids.append(name)
        out.times.append(t)
        out.values.append(v)
        out.covariates.append(c)
    return out


def _from_long(frame, id_col, time_col, value_col, covariate_cols, freq) -> SeriesCollection:
    for role, name in (("id_col", id_col), ("time_col", time_col), ("value_col", value_col)):
        if name is None or name not in frame.columns:
            raise SeriesError(
                f"{role}: expected a column of the long frame, got {name!r}; columns are {list(frame.columns)}"
            )
    for name in covariate_cols:
        if name not in frame.columns:
            raise SeriesError(f"covariate_cols: no column {name!r}; columns are {list(frame.columns)}")
    values = _numeric(frame[value_col], value_col)
    covs = np.zeros((len(frame), 0))
    if covariate_cols:
        covs = np.column_stack([_numeric(frame[c], c) for c in covariate_cols])
    times = _as_time_index(frame[time_col], f"column {time_col!r}")
    offset = pd.tseries.frequencies.to_offset(freq) if freq else None
    out = SeriesCollection([], [], [], [], list(covariate_cols), offset)
    groups = pd.Series(np.arange(len(frame))).groupby(frame[id_col].to_numpy(), sort=True)
    for key, rows in groups:
        rows = rows.to_numpy()
        t, v, c = _sort_checked(pd.Index(times[rows]), values[rows], covs[rows], f"series {key!r}")
        if out.freq is None and isinstance(t, pd.DatetimeIndex):
            out.freq = infer_frequency(t, f"series {key!r}")
        t, v, c = _fill_gaps(t, v, c, out.freq, f"series {key!r}")
        out.ids.append(str(key))
        out.times.append(t)
        out.values.append(v)
        out.covariates.append(c)
    return out


def calendar_features(times: pd.Index, freq: pd.DateOffset | None) -> np.ndarray:
    """Sine/cosine encodings of the calendar positions that vary at this frequency.

    Sub-daily data gets time of day and day of week; daily, day of week and day of year; weekly,
    week of year; monthly and quarterly, month of year. Integer time steps get none.

    Returns:
        ``(len(times), F)`` float array in [-1, 1].
    """
    if freq is None or not isinstance(times, pd.DatetimeIndex):
        return np.zeros((len(times), 0))
    step = pd.Timedelta(pd.Timestamp("2001-01-01") + freq - pd.Timestamp("2001-01-01"))
    cycles = []
    if step < pd.Timedelta(days=1):
        cycles.append((times.hour * 60 + times.minute).to_numpy() / (24 * 60))
    if step <= pd.Timedelta(days=1):
        cycles.append(times.day_of_week.to_numpy() / 7)
    if pd.Timedelta(days=1) <= step < pd.Timedelta(days=28):
        cycles.append((times.day_of_year.to_numpy() - 1) / 366)
    if step >= pd.Timedelta(days=28):
        cycles.append((times.month.to_numpy() - 1) / 12)
    angles = 2 * np.pi * np.stack(cycles, axis=1)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
