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


def global_forecaster_forecasts(subset: CompetitionSubset, *, seed: int = 0, **options) -> tuple[list[np.ndarray],
                                                                                                    float]:
    """Fit one global forecaster on ``subset`` and forecast each series.

    Returns:
        ``(forecasts per series, CPU seconds)``.
    """
    start = time.process_time()
    model = fit_global_forecaster(subset, seed=seed, **options)
    return forecast_subset(model, subset), time.process_time() - start


def score_methods(subset: CompetitionSubset, rnn: dict[str, list[np.ndarray]], rnn_seconds: dict[str, float], *,
                  statistical: tuple[str, ...], combine_with: tuple[str, ...]) -> CompetitionResult:
    """Add the statistical models and the combinations to rnnkit's forecasts; score everything."""
    from rnnkit.tasks.forecast.statistical import statistical_forecasts

    forecasts, seconds = dict(rnn), dict(rnn_seconds)
    label = next(iter(rnn))
    stat, stat_seconds = statistical_forecasts(subset.train, subset.horizon, subset.season_length,
                                               models=tuple(dict.fromkeys(statistical + combine_with)))
    forecasts.update(stat)
    seconds.update(stat_seconds)
    if combine_with:
        combo = f"rnnkit + {' + '.join(combine_with)} (mean)"
        forecasts[combo] = [np.mean([forecasts[label][i], *[stat[m][i] for m in combine_with]], axis=0)
                            for i in range(len(subset))]
        seconds[combo] = seconds[label] + sum(stat_seconds[m] for m in combine_with)
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
) -> CompetitionResult:
    """rnnkit's global model (averaged over ``seeds``), the statistical models and the equal-weight
    combination of rnnkit with ``combine_with``, all on the official split of ``subset``."""
    runs = [global_forecaster_forecasts(subset, seed=s, **(rnn_options or {})) for s in range(seeds)]
    label = "rnnkit LSTM (global)" + (f", {seeds} seeds" if seeds > 1 else "")
    rnn = {label: [np.mean([run[0][i] for run in runs], axis=0) for i in range(len(subset))]}
    return score_methods(subset, rnn, {label: sum(run[1] for run in runs)}, statistical=statistical,
                         combine_with=combine_with)


__all__ = ["GLOBAL_SETTINGS", "CompetitionResult", "fit_global_forecaster", "forecast_subset",
           "global_forecaster_forecasts", "global_settings", "run_competition", "score_methods"]
