"""The data of ``rnnkit forecast``: a built-in dataset or the user's CSV, as a series collection."""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rnnkit.data.datasets import load_dataset
from rnnkit.data.timeseries import SeriesCollection, SeriesError, to_collection

DEFAULT_DATASET = "sunspots"


def sniff_delimiter(path: Path) -> str:
    """The delimiter of a CSV file: ``,`` unless its first lines are clearly ``;``, tab or ``|`` separated."""
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            sample = handle.read(64 * 1024)
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_csv(path: str | Path, *, what: str = "--data") -> pd.DataFrame:
    """Read a user's CSV (comma, semicolon, tab or pipe separated) with a clear error for a
    missing or unreadable file."""
    path = Path(path)
    if path.is_dir():
        raise SeriesError(f"{what}: {path} is a directory; give a CSV file")
    if not path.is_file():
        raise SeriesError(f"{what}: {path} does not exist")
    try:
        return pd.read_csv(path, sep=sniff_delimiter(path))
    except Exception as error:  # pandas' parser errors name the line
        raise SeriesError(f"{what}: cannot read {path} as CSV: {error}") from None


def csv_layout(frame: pd.DataFrame, config: Any) -> dict:
    """Column roles of a CSV: as configured, or the first column as time and the only other as value."""
    columns = [str(c) for c in frame.columns]
    for flag, name in (("--time-col", config.time_col), ("--value-col", config.value_col),
                       ("--id-col", config.id_col), *(("--covariate-cols", c) for c in config.covariate_cols)):
        if name is not None and name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            raise SeriesError(f"{flag}: the CSV has no column {name!r}; its columns are {columns}"
                              + (f" (did you mean {close[0]!r}?)" if close else ""))
    if len(columns) == 1:
        raise SeriesError(f"--data: the CSV has a single column {columns[0]!r}; it needs a time column and a value "
                          "column, separated by commas (or semicolons, tabs or pipes)")
    time_col = config.time_col or frame.columns[0]
    value_col = config.value_col
    if value_col is None and config.id_col is None:
        others = [c for c in frame.columns if c != time_col]
        if len(others) != 1:
            raise SeriesError(f"--value-col: the CSV has columns {list(frame.columns)}; say which holds the values")
        value_col = others[0]
    if config.id_col and not value_col:
        raise SeriesError("--value-col: needed with --id-col (long layout: id, time, value columns)")
    return {"id_col": config.id_col, "time_col": time_col, "value_col": value_col,
            "covariate_cols": list(config.covariate_cols) or None, "freq": config.freq}


@dataclass
class ForecastData:
    """One forecasting problem: the series, its name, horizon and season, and the CSV layout."""

    collection: SeriesCollection
    name: str
    horizon: int
    season_length: int | None
    layout: dict = field(default_factory=dict)
    demo: bool = False
    #: The model's backtest forecasts and seconds, set by the app's fit stage.
    model_backtest: tuple[pd.DataFrame, float] | None = None
    #: A competition subset (official train/test split) instead of a rolling-origin backtest.
    competition: Any = None


def load_forecast_data(config: Any) -> ForecastData:
    """The series named by ``config`` (``data`` CSV or built-in ``dataset``)."""
    if config.data:
        frame = read_csv(config.data)
        layout = csv_layout(frame, config)
        collection = to_collection(frame, **layout)
        return ForecastData(collection, Path(config.data).stem, config.horizon or 12, config.season_length, layout)
    name = config.dataset or DEFAULT_DATASET
    from rnnkit.data.competitions import SUBSETS, load_competition

    if name in SUBSETS:
        subset = load_competition(name)
        if config.series:
            subset = subset.head(config.series, seed=config.seed)
        collection = to_collection(subset.to_long_frame(), id_col="id", time_col="t", value_col="y")
        return ForecastData(collection, name, subset.horizon, subset.season_length, competition=subset)
    y, info = load_dataset(name)
    return ForecastData(to_collection(y), name, config.horizon or info.horizon, config.season_length or
                        info.season_length, demo=name == DEFAULT_DATASET)
