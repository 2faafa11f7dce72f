"""Forecasting competitions (M3, Tourism): one global rnnkit model per frequency, the
statsforecast standard and their combination, scored with the competitions' measures.

Used by ``benchmarks/forecast_competitions.py``; see ``docs/apps/forecast-competitions.md`` for
the measured tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from rnnkit.data.competitions import CompetitionSubset
from rnnkit.metrics.competition import competition_scores

#: Settings of the global model per frequency (context in steps; chosen by the competition's
#: shortest series: M3 yearly has 14 points, so its contexts are padded).
GLOBAL_SETTINGS = {
    "yearly": {"context_length": 12},
    "quarterly": {"context_length": 16},
    "monthly": {"context_length": 36},
    "other": {"context_length": 16},
}

#: Context of the ES-RNN per frequency (its windows are level-normalised and deseasonalised, so
#: shorter contexts than the LSTM's serve).
ES_RNN_SETTINGS = {
    "yearly": {"context_length": 6},
    "quarterly": {"context_length": 12},
    "monthly": {"context_length": 24},
    "other": {"context_length": 12},
}

#: The global models :func:`run_competition` can train, by option name and by label.
MODELS = {"lstm": "rnnkit LSTM (global)", "es-rnn": "rnnkit ES-RNN"}


@dataclass
class CompetitionResult:
    """Scores per method on one subset, with CPU seconds, and the forecasts."""

    name: str
    scores: dict[str, dict[str, float]]
    forecasts: dict[str, list[np.ndarray]] = field(default_factory=dict)


def global_settings(subset: CompetitionSubset, **options) -> dict:
    """The :class:`~rnnkit.Forecaster` keyword arguments of the global model for ``subset``."""
    frequency = subset.name.split("-", 1)[1]
    return {"hidden_size": 64, "num_layers": 2, "dropout": 0.1, "max_steps": 800, "batch_size": 128,
            "lr": 3e-3, "val_fraction": 0.2, "calendar": False, "seasonal_lag": True,
            "level": "last", "min_context_length": 4, **GLOBAL_SETTINGS[frequency], **options}


def fit_global_forecaster(subset: CompetitionSubset, **options):
    """One :class:`~rnnkit.Forecaster` fitted across every series of ``subset`` (cross-learning)."""
    from rnnkit.tasks.forecast.estimator import Forecaster

    season = subset.season_length if subset.season_length > 1 else None
    model = Forecaster(subset.horizon, season_length=season, **global_settings(subset, **options))
    return model.fit(subset.to_long_frame(), id_col="id", time_col="t", value_col="y")


def forecast_subset(model, subset: CompetitionSubset) -> list[np.ndarray]:
    """The fitted model's mean forecast from the end of each training history of ``subset``."""
    frame = model.predict()
    return [frame.xs(i, level="id")["mean"].to_numpy() for i in subset.ids]


def es_rnn_settings(subset: CompetitionSubset, **options) -> dict:
    """The :class:`~rnnkit.tasks.forecast.es_rnn.ESRNNForecaster` keyword arguments for ``subset``."""
    frequency = subset.name.split("-", 1)[1]
    return {"season_length": subset.season_length, **ES_RNN_SETTINGS[frequency], **options}


def global_forecaster_forecasts(subset: CompetitionSubset, *, model: str = "lstm", seed: int = 0,
                                **options) -> tuple[list[np.ndarray], float]:
    """Fit one global model on ``subset`` and forecast each series.

    Args:
        subset: the competition subset.
        model: ``"lstm"`` (:class:`~rnnkit.Forecaster` across series) or ``"es-rnn"`` (the hybrid
            :class:`~rnnkit.tasks.forecast.es_rnn.ESRNNForecaster`).
        seed: random seed.
        **options: settings of that model, over the per-frequency defaults.

    Returns:
        ``(forecasts per series, CPU seconds)``.
    """
    if model not in MODELS:
        raise ValueError(f"model: expected one of {sorted(MODELS)}, got {model!r}")
    start = time.process_time()
    if model == "es-rnn":
        from rnnkit.tasks.forecast.es_rnn import ESRNNForecaster

        fitted = ESRNNForecaster(subset.horizon, seed=seed, **es_rnn_settings(subset, **options)).fit(subset.train)
        return fitted.predict(), time.process_time() - start
    fitted = fit_global_forecaster(subset, seed=seed, **options)
    return forecast_subset(fitted, subset), time.process_time() - start


def score_methods(subset: CompetitionSubset, rnn: dict[str, list[np.ndarray]], rnn_seconds: dict[str, float], *,
                  statistical: tuple[str, ...], combine_with: tuple[str, ...]) -> CompetitionResult:
    """Add the statistical models and the combinations to rnnkit's forecasts; score everything."""
    from rnnkit.tasks.forecast.statistical import statistical_forecasts

    forecasts, seconds = dict(rnn), dict(rnn_seconds)
    stat, stat_seconds = statistical_forecasts(subset.train, subset.horizon, subset.season_length,
                                               models=tuple(dict.fromkeys(statistical + combine_with)))
    forecasts.update(stat)
    seconds.update(stat_seconds)
    if combine_with:
        # Equal-weight combinations: each rnnkit model with the statistical partners, all rnnkit
        # models together with them, and the partners alone.
        groups = [[label] for label in rnn] + ([list(rnn)] if len(rnn) > 1 else [])
        for members in groups:
            short = " + ".join(m.removeprefix("rnnkit ").split(" (")[0] for m in members)
            combo = f"rnnkit {short} + {' + '.join(combine_with)} (mean)"
            forecasts[combo] = [np.mean([*[forecasts[m][i] for m in members], *[stat[m][i] for m in combine_with]],
                                        axis=0) for i in range(len(subset))]
            seconds[combo] = sum(seconds[m] for m in members) + sum(stat_seconds[m] for m in combine_with)
        stat_combo = " + ".join(combine_with) + " (mean)"
        forecasts[stat_combo] = [np.mean([stat[m][i] for m in combine_with], axis=0) for i in range(len(subset))]
        seconds[stat_combo] = sum(stat_seconds[m] for m in combine_with)
    scores = {}
    for method, values in forecasts.items():
        scores[method] = {**competition_scores(subset.train, subset.test, values, season_length=subset.season_length),
                          "CPU s": seconds[method]}
    return CompetitionResult(subset.name, scores, forecasts)


def run_competition(
    subset: CompetitionSubset,
    *,
    statistical: tuple[str, ...] = ("AutoETS", "AutoTheta", "AutoARIMA", "SeasonalNaive", "Naive2"),
    combine_with: tuple[str, ...] = ("AutoETS", "AutoTheta"),
    seeds: int = 1,
    rnn_options: dict | None = None,
    models: tuple[str, ...] = ("lstm",),
    model_options: dict[str, dict] | None = None,
) -> CompetitionResult:
    """rnnkit's global models (each averaged over ``seeds``), the statistical models and the
    equal-weight combinations of rnnkit with ``combine_with``, all on the official split of ``subset``.

    Args:
        subset: the competition subset.
        statistical: statsforecast models (and Naive2) scored beside rnnkit.
        combine_with: the statistical partners of the combinations.
        seeds: networks per rnnkit model, averaged.
        rnn_options: options of the LSTM (``model="lstm"``).
        models: rnnkit models from :data:`MODELS` (``"lstm"``, ``"es-rnn"``).
        model_options: per model name, its options (``{"es-rnn": {"max_epochs": 20}}``).
    """
    options = {"lstm": dict(rnn_options or {}), **{k: dict(v) for k, v in (model_options or {}).items()}}
    rnn, rnn_seconds = {}, {}
    for model in models:
        runs = [global_forecaster_forecasts(subset, model=model, seed=s, **options.get(model, {}))
                for s in range(seeds)]
        label = MODELS[model] + (f", {seeds} seeds" if seeds > 1 else "")
        rnn[label] = [np.mean([run[0][i] for run in runs], axis=0) for i in range(len(subset))]
        rnn_seconds[label] = sum(run[1] for run in runs)
    return score_methods(subset, rnn, rnn_seconds, statistical=statistical, combine_with=combine_with)


__all__ = ["ES_RNN_SETTINGS", "GLOBAL_SETTINGS", "MODELS", "CompetitionResult", "es_rnn_settings",
           "fit_global_forecaster", "forecast_subset", "global_forecaster_forecasts", "global_settings",
           "run_competition", "score_methods"]
