"""``rnnkit forecast``: the forecasting application on the shared app contract.

Train = fit the forecaster on each series up to its first backtest origin and forecast from every
origin; evaluate = the baselines at the same origins, the scores side by side, a forecast beyond
the data and the plots; predict = continue a saved model from its saved history or new data.
"""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.tasks.forecast.config import DEMO_DEFAULTS, ForecastAppConfig
from rnnkit.tasks.forecast.data import ForecastData, load_forecast_data, read_csv
from rnnkit.tasks.framework.app import Application, Report, RunContext

#: How the pipeline's score columns are named in metrics.json / metrics.md.
METRIC_NAMES = {"mae": "MAE", "rmse": "RMSE", "smape": "sMAPE %", "mase": "MASE", "pinball": "pinball (scaled)",
                "coverage80": "80% coverage", "seconds": "seconds"}


class ForecastApp(Application):
    """Time-series forecasting with a recurrent network against naive, seasonal naive and ETS."""

    name = "forecast"
    serving = "rnnkit.tasks.forecast.serving:ForecastRequest"
    summary = "Backtest and forecast time series with a recurrent network against statistical baselines."
    config_class = ForecastAppConfig
    extra = "forecast"

    def run_name(self, config: ForecastAppConfig) -> str:
        return super().run_name(config) if config.data else (config.dataset or "sunspots")

    def load_data(self, config: ForecastAppConfig) -> ForecastData:
        return load_forecast_data(config)

    def build(self, config: ForecastAppConfig, data: ForecastData) -> Any:
        from rnnkit.tasks.forecast.estimator import Forecaster

        if data.competition is not None:
            return self._competition_model(config, data)
        demo = data.demo and not config.data

        def chosen(key: str, fallback: Any) -> Any:
            value = getattr(config, key)
            return value if value is not None else (DEMO_DEFAULTS[key] if demo else fallback)

        forecaster = Forecaster(
            data.horizon, season_length=data.season_length, cell=config.cell, decoder=config.decoder,
            likelihood=config.likelihood, num_layers=config.num_layers, dropout=config.dropout, lr=config.lr,
            seed=config.seed, ensemble=config.ensemble, progress=config.progress, fallback=config.fallback,
            context_length=chosen("context_length", None), hidden_size=chosen("hidden_size", 64),
            max_steps=chosen("max_steps", 1500),
        )
        forecaster._layout = dict(data.layout)
        return forecaster

    def _competition_model(self, config: ForecastAppConfig, data: ForecastData) -> Any:
        from rnnkit.tasks.forecast.competitions import global_settings
        from rnnkit.tasks.forecast.estimator import Forecaster

        given = {k: getattr(config, k) for k in ("context_length", "hidden_size", "max_steps")
                 if getattr(config, k) is not None}
        settings = global_settings(data.competition, cell=config.cell, num_layers=config.num_layers,
                                   dropout=config.dropout, lr=config.lr, seed=config.seed, ensemble=config.ensemble,
                                   progress=config.progress, **given)
        season = data.season_length if data.season_length and data.season_length > 1 else None
        return Forecaster(data.horizon, season_length=season, **settings)

    def fit(self, estimator: Any, data: ForecastData, config: ForecastAppConfig, context: RunContext) -> None:
        from rnnkit.tasks.forecast.backtest import backtest_forecaster

        estimator.extra_callbacks = list(context.callbacks)
        if data.competition is not None:  # the official split: fit on the training histories
            import time

            start = time.process_time()
            estimator.fit(data.competition.to_long_frame(), id_col="id", time_col="t", value_col="y")
            data.model_backtest = (None, time.process_time() - start)
            return
        estimator.extra_callbacks = list(context.callbacks)
        data.model_backtest = backtest_forecaster(estimator, data.collection, origins=config.origins,
                                                  stride=config.stride, quantiles=config.quantiles)

    def evaluate(self, estimator: Any, data: ForecastData, config: ForecastAppConfig, context: RunContext) -> Report:
        from rnnkit.tasks.forecast.pipeline import backtest_report

        if data.competition is not None:
            return self._evaluate_competition(estimator, data)
        result = backtest_report(
            data.collection, estimator, name=data.name, origins=config.origins, stride=config.stride,
            baseline_names=tuple(config.baselines), out_dir=context.output_dir, quantiles=config.quantiles,
            verbose=False, model_backtest=data.model_backtest, refit=False, save_model=False,
        )
        metrics = {method: {METRIC_NAMES.get(k, k): float(v) for k, v in row.items()}
                   for method, row in result.table.to_dict(orient="index").items()}
        horizon_rows = result.future.head(min(12, data.horizon)).to_string(float_format="%.2f")
        return Report(
            metrics, primary="MASE", higher_is_better=False,
            plots={k: v for k, v in result.files.items() if str(v).endswith(".png")},
            sections={"forecast beyond the data": f"```\n{horizon_rows}\n```"},
            notes=[f"{data.name}: horizon {data.horizon}, {config.origins} origins, season length "
                   f"{data.season_length}; MASE and pinball are scaled by the in-sample seasonal naive MAE.",
                   *([f"Forecast used (fallback='validation'): {estimator.explain()}."]
                     if estimator.config.fallback == "validation" else [])],
        )

    def _evaluate_competition(self, estimator: Any, data: ForecastData) -> Report:
        from rnnkit.tasks.forecast.competitions import forecast_subset, score_methods

        subset = data.competition
        seconds = data.model_backtest[1] if data.model_backtest else float("nan")
        label = f"rnnkit {estimator.config.cell.upper()} (global)"
        result = score_methods(subset, {label: forecast_subset(estimator, subset)}, {label: seconds},
                               statistical=("AutoETS", "AutoTheta", "AutoARIMA", "SeasonalNaive", "Naive2"),
                               combine_with=("AutoETS", "AutoTheta"))
        return Report(result.scores, primary="sMAPE", higher_is_better=False, notes=[
            f"{subset.name}: {len(subset)} series, the competition's horizon {subset.horizon} and test split; sMAPE "
            "as M3 defines it, MASE scaled by the in-sample seasonal naive error, MAPE; CPU seconds per method."])


    def add_predict_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", help="CSV with the newer history, in the layout the model was fitted on")
        parser.add_argument("--covariates", help="CSV with future covariates (if the model uses any)")
        parser.add_argument("--horizon", type=int, help="steps (default: the model's)")
        parser.add_argument("--quantiles", default="0.1,0.5,0.9", help="comma-separated levels in (0, 1)")
        parser.add_argument("--out", help="write the forecast to this CSV (default: print it)")

    def predict(self, estimator: Any, args: argparse.Namespace) -> int:
        from pathlib import Path

        from rnnkit.tasks.framework.config import ConfigError

        try:
            quantiles = tuple(float(v) for v in args.quantiles.split(",") if v.strip())
        except ValueError:
            raise ConfigError(f"--quantiles: expected comma-separated numbers in (0, 1), got {args.quantiles!r}"
                              ) from None
        if args.out and Path(args.out).is_dir():
            raise ConfigError(f"--out: {args.out} is a directory; give the CSV file to write")
        y = None
        if args.data:
            frame = read_csv(args.data)
            if not estimator._layout.get("time_col"):  # fitted from pandas objects: first column is time
                estimator._layout = {**estimator._layout, "time_col": frame.columns[0]}
            y = frame
        covariates = read_csv(args.covariates, what="--covariates") if args.covariates else None
        if covariates is not None and not estimator._layout.get("id_col"):
            covariates = covariates.set_index(covariates.columns[0])
        forecast = estimator.predict(args.horizon, quantiles, y=y, covariates=covariates)
        if args.out:
            forecast.to_csv(args.out)
            print(f"wrote {args.out} ({len(forecast)} rows)")
        else:
            print(forecast.to_string(float_format="%.3f"))
        return 0


APP = ForecastApp()
