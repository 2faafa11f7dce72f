"""Forecasting's evaluation stage: backtest the RNN and the baselines at the same origins, score them,
forecast beyond the data and draw the figures (the app's ``evaluate``; benchmarks call it too)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from rnnkit.data.timeseries import SeriesCollection
from rnnkit.tasks.forecast import baselines
from rnnkit.tasks.forecast.backtest import backtest_forecaster, backtest_function, errors_by_step, score
from rnnkit.tasks.forecast.estimator import Forecaster
from rnnkit.tasks.forecast.plots import plot_errors_by_step, plot_forecast, plot_training_curve

DEFAULT_BASELINES = ("naive", "seasonal_naive", "ets")


@dataclass
class ForecastReport:
    """What a pipeline run produced."""

    table: pd.DataFrame
    forecasts: dict[str, pd.DataFrame]
    future: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)


def backtest_report(
    collection: SeriesCollection,
    forecaster: Forecaster,
    *,
    name: str,
    origins: int = 5,
    stride: int | None = None,
    baseline_names: tuple[str, ...] = DEFAULT_BASELINES,
    out_dir: Path | None = None,
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
    verbose: bool = True,
    model_backtest: tuple[pd.DataFrame, float] | None = None,
    refit: bool = True,
    save_model: bool = True,
) -> ForecastReport:
    """Backtest ``forecaster`` (fitted on the data before the first origin) and the baselines.

    Args:
        collection: the data.
        forecaster: an unfitted :class:`Forecaster` (its horizon and season length are used).
        name: dataset name, for titles and file names.
        origins, stride: rolling origins (see :func:`~rnnkit.tasks.forecast.backtest.origin_positions`).
        baseline_names: from ``naive``, ``seasonal_naive``, ``ets``, ``arima``.
        out_dir: where to write ``metrics.csv``, ``metrics.md``, ``forecasts.csv``, PNGs and the model;
            ``None`` writes nothing.
        quantiles: levels to forecast.
        verbose: print the table.
        model_backtest: the forecaster's backtest already run (``(forecasts, seconds)``), e.g. by
            the app's fit stage; otherwise it is run here.
        refit: fit the forecaster before the first origin (``False``: score a fitted model as it is).
        save_model: also save the model to ``out_dir / "model"``.

    Returns:
        A :class:`ForecastReport`.
    """
    cfg = forecaster.config
    season = cfg.season_length
    forecasts, seconds = {}, {}
    label = f"rnnkit {cfg.cell.upper()} ({cfg.decoder}, {cfg.likelihood})"
    if model_backtest is None:
        model_backtest = backtest_forecaster(forecaster, collection, origins=origins, stride=stride,
                                             quantiles=quantiles, refit=refit)
    forecasts[label], seconds[label] = model_backtest
    for base in baseline_names:
        fn = baselines.BASELINES[base]
        forecasts[base], seconds[base] = backtest_function(
            collection, fn, horizon=cfg.horizon, origins=origins, stride=stride, quantiles=quantiles,
            season_length=season,
        )
    rows = []
    for method, frame in forecasts.items():
        rows.append({"method": method, **asdict(score(frame, collection, season_length=season)),
                     "seconds": seconds[method]})
    table = pd.DataFrame(rows).set_index("method")
    # The model was fitted on the data before the first origin; from here on it forecasts from all of it.
    forecaster.history_ = collection
    future = _future(forecaster, collection, quantiles)
    report = ForecastReport(table, forecasts, future)
    if verbose:
        print(f"\n{name}: horizon {cfg.horizon}, {origins} origins, season length {season}; "
              f"MASE and pinball are scaled by the in-sample seasonal naive MAE")
        print(format_table(table))
    if out_dir is not None:
        report.files = _write(report, collection, forecaster, name, Path(out_dir), save_model=save_model)
        if verbose:
            print("wrote " + ", ".join(str(p) for p in report.files.values()))
    return report


def _future(forecaster: Forecaster, collection: SeriesCollection, quantiles) -> pd.DataFrame:
    """Forecast beyond the end of the data, reading the whole history."""
    return forecaster.predict_collection(collection, forecaster.config.horizon, tuple(quantiles))


def format_table(table: pd.DataFrame) -> str:
    """The metrics table as Markdown."""
    shown = table.rename(columns={"mae": "MAE", "rmse": "RMSE", "smape": "sMAPE %", "mase": "MASE",
                                  "pinball": "pinball (scaled)", "coverage80": "80% coverage", "seconds": "seconds"})
    return shown.to_markdown(floatfmt=".3f") if _has_tabulate() else shown.to_string(float_format="%.3f")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def _one_series(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    return frame.xs(name, level="id") if isinstance(frame.index, pd.MultiIndex) else frame


def _write(report: ForecastReport, collection, forecaster: Forecaster, name: str, out: Path, *,
           save_model: bool) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"metrics_csv": out / "metrics.csv", "metrics_md": out / "metrics.md"}
    report.table.to_csv(files["metrics_csv"])
    files["metrics_md"].write_text(format_table(report.table) + "\n")
    files["forecasts_csv"] = out / "backtest_forecasts.csv"
    pd.concat([f.assign(method=m) for m, f in report.forecasts.items()]).to_csv(files["forecasts_csv"], index=False)
    files["future_csv"] = out / "forecast.csv"
    report.future.to_csv(files["future_csv"])
    rnn_label = next(iter(report.forecasts))
    first = collection.ids[0]
    label = f"{name} ({first})" if len(collection) > 1 else name
    files["forecast_png"] = plot_forecast(
        collection.times[0], collection.values[0], report.forecasts[rnn_label].query("id == @first"),
        _one_series(report.future, first), out / "forecast.png",
        title=f"{label}: {rnn_label}", history_steps=forecaster.config.window() + 6 * forecaster.config.horizon,
    )
    files["errors_png"] = plot_errors_by_step(
        {m: errors_by_step(f) for m, f in report.forecasts.items()}, out / "errors_by_horizon.png",
        title=f"{name}: backtest MAE by steps ahead",
    )
    if forecaster.training_log_:
        files["training_png"] = plot_training_curve(forecaster.training_log_, out / "training_curve.png",
                                                    title=f"{name}: training")
    if save_model:
        files["model"] = out / "model"
        forecaster.save(files["model"])
    return files
