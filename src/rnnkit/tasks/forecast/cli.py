"""``rnnkit forecast``: backtest and forecast a built-in dataset or a user's CSV, and
``rnnkit forecast predict``: continue a saved model on new data."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from rnnkit.data.datasets import DATASETS, load_dataset
from rnnkit.data.timeseries import SeriesError, to_collection
from rnnkit.tasks.forecast.estimator import DECODERS, Forecaster
from rnnkit.tasks.forecast.pipeline import run_pipeline

DEMO = {"dataset": "sunspots", "context_length": 144, "hidden_size": 48, "max_steps": 800}


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v)


def _names(text: str) -> list[str]:
    return [v for v in text.split(",") if v]


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a user's CSV with a clear error for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise SeriesError(f"--data: {path} does not exist")
    try:
        return pd.read_csv(path)
    except Exception as error:  # pandas' parser errors name the line
        raise SeriesError(f"--data: cannot read {path} as CSV: {error}") from None


def _layout(frame: pd.DataFrame, args: argparse.Namespace) -> dict:
    """Column roles of a CSV: as given, or the first column as time and the only other column as value."""
    time_col = args.time_col or frame.columns[0]
    value_col = args.value_col
    if value_col is None and args.id_col is None:
        others = [c for c in frame.columns if c != time_col]
        if len(others) != 1:
            raise SeriesError(f"--value-col: the CSV has columns {list(frame.columns)}; say which holds the values")
        value_col = others[0]
    if args.id_col and not value_col:
        raise SeriesError("--value-col: needed with --id-col (long layout: id, time, value columns)")
    return {"id_col": args.id_col, "time_col": time_col, "value_col": value_col,
            "covariate_cols": _names(args.covariate_cols) if args.covariate_cols else None, "freq": args.freq}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit forecast",
        description="Backtest a recurrent forecaster against naive, seasonal naive and ETS at rolling origins, "
                    "forecast beyond the data, write tables, plots and the model. With no arguments: the embedded "
                    "monthly sunspot series. 'rnnkit forecast predict --model DIR --data new.csv' continues a saved "
                    "model.",
    )
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=sorted(DATASETS), help="a built-in dataset (default: sunspots)")
    data.add_argument("--data", help="a CSV file instead of a built-in dataset")
    data.add_argument("--time-col", help="time column of the CSV (default: its first column)")
    data.add_argument("--value-col", help="value column (default: the only other column)")
    data.add_argument("--id-col", help="series id column, for many series in long layout")
    data.add_argument("--covariate-cols", help="comma-separated known covariate columns (long layout)")
    data.add_argument("--freq", help="pandas frequency, if it cannot be inferred (e.g. MS, 30min, W-SAT)")
    model = parser.add_argument_group("model")
    model.add_argument("--horizon", type=int, help="steps to forecast (default: the dataset's, else 12)")
    model.add_argument("--season-length", type=int, help="seasonal period in steps (default: the dataset's)")
    model.add_argument("--context-length", type=int, help="steps the network reads before each forecast")
    model.add_argument("--cell", default="lstm", help="recurrent cell: lstm, gru, elman, ... (default lstm)")
    model.add_argument("--decoder", choices=sorted(DECODERS), default="direct")
    model.add_argument("--likelihood", choices=["gaussian", "student_t", "quantile"], default="gaussian")
    model.add_argument("--hidden-size", type=int)
    model.add_argument("--num-layers", type=int, default=2)
    model.add_argument("--max-steps", type=int, help="training steps (default 1500; 800 for the demo)")
    model.add_argument("--seed", type=int, default=0)
    model.add_argument("--ensemble", type=int, default=1,
                       help="train this many networks from different initial weights and average their forecasts")
    run = parser.add_argument_group("evaluation and output")
    run.add_argument("--origins", type=int, default=5, help="rolling backtest origins (default 5)")
    run.add_argument("--stride", type=int, help="steps between origins (default: the horizon)")
    run.add_argument("--baselines", default="naive,seasonal_naive,ets",
                     help="comma-separated from naive, seasonal_naive, ets, arima")
    run.add_argument("--quantiles", type=_floats, default=(0.1, 0.5, 0.9), help="e.g. 0.05,0.5,0.95")
    run.add_argument("--out", help="output folder (default runs/forecast/<dataset or file name>)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run_forecast(argv: Sequence[str]) -> int:
    """``rnnkit forecast [options]``."""
    args = build_parser().parse_args(argv)
    if args.data and args.dataset:
        raise SeriesError("--data and --dataset: give one of them")
    if args.data:
        frame = read_csv(args.data)
        layout = _layout(frame, args)
        collection = to_collection(frame, **layout)
        name, horizon, season = Path(args.data).stem, args.horizon or 12, args.season_length
    else:
        name = args.dataset or DEMO["dataset"]
        y, info = load_dataset(name)
        collection = to_collection(y)
        horizon, season = args.horizon or info.horizon, args.season_length or info.season_length
    demo = not args.data and name == DEMO["dataset"]
    options = {
        "season_length": season, "cell": args.cell, "decoder": args.decoder, "likelihood": args.likelihood,
        "num_layers": args.num_layers, "seed": args.seed, "ensemble": args.ensemble, "progress": not args.quiet,
        "context_length": args.context_length or (DEMO["context_length"] if demo else None),
        "hidden_size": args.hidden_size or (DEMO["hidden_size"] if demo else 64),
        "max_steps": args.max_steps or (DEMO["max_steps"] if demo else 1500),
    }
    forecaster = Forecaster(horizon, **options)
    if args.data:
        forecaster._layout = layout
    out = Path(args.out) if args.out else Path("runs") / "forecast" / name
    report = run_pipeline(collection, forecaster, name=name, origins=args.origins, stride=args.stride,
                          baseline_names=tuple(_names(args.baselines)), out_dir=out, quantiles=args.quantiles)
    print("\nforecast beyond the data:")
    print(report.future.head(min(12, horizon)).to_string(float_format="%.2f"))
    return 0


def run_predict(argv: Sequence[str]) -> int:
    """``rnnkit forecast predict --model DIR [--data new.csv] [--horizon H] [--out file.csv]``."""
    parser = argparse.ArgumentParser(prog="rnnkit forecast predict",
                                     description="Forecast with a saved model, from its saved history or new data.")
    parser.add_argument("--model", required=True, help="folder written by 'rnnkit forecast' or Forecaster.save")
    parser.add_argument("--data", help="CSV with the newer history, in the layout the model was fitted on")
    parser.add_argument("--covariates", help="CSV with future covariates (if the model uses any)")
    parser.add_argument("--horizon", type=int, help="steps (default: the model's)")
    parser.add_argument("--quantiles", type=_floats, default=(0.1, 0.5, 0.9))
    parser.add_argument("--out", help="write the forecast to this CSV (default: print it)")
    args = parser.parse_args(argv)
    model = Forecaster.load(args.model)
    y = None
    if args.data:
        frame = read_csv(args.data)
        if not model._layout.get("time_col"):  # fitted from pandas objects: first column is time
            model._layout = {**model._layout, "time_col": frame.columns[0]}
        y = frame
    covariates = read_csv(args.covariates) if args.covariates else None
    if covariates is not None and not model._layout.get("id_col"):
        covariates = covariates.set_index(covariates.columns[0])
    forecast = model.predict(args.horizon, tuple(args.quantiles), y=y, covariates=covariates)
    if args.out:
        forecast.to_csv(args.out)
        print(f"wrote {args.out} ({len(forecast)} rows)")
    else:
        print(forecast.to_string(float_format="%.3f"))
    return 0


def main(argv: Sequence[str]) -> int:
    """Dispatch ``rnnkit forecast`` and ``rnnkit forecast predict``."""
    argv = list(argv)
    if argv and argv[0] == "predict":
        return run_predict(argv[1:])
    return run_forecast(argv)
