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


def global_forecaster_forecasts(subset: CompetitionSubset, *, seed: int = 0, **options) -> tuple[list[np.ndarray],
                                                                                                    float]:
    """Fit one :class:`~rnnkit.Forecaster` across all series of ``subset``; forecast each.

    Returns:
        ``(forecasts per series, CPU seconds)``.
    """
    from rnnkit.tasks.forecast.estimator import Forecaster

    frequency = subset.name.split("-", 1)[1]
    settings = {"hidden_size": 64, "num_layers": 2, "dropout": 0.1, "max_steps": 800, "batch_size": 128,
                "lr": 3e-3, "val_fraction": 0.2, "calendar": False, "seasonal_lag": True, "seed": seed,
                "level": "last", "min_context_length": 4,
                **GLOBAL_SETTINGS[frequency], **options}
    season = subset.season_length if subset.season_length > 1 else None
    start = time.process_time()
    model = Forecaster(subset.horizon, season_length=season, **settings)
    model.fit(subset.to_long_frame(), id_col="id", time_col="t", value_col="y")
    frame = model.predict()
    forecasts = [frame.xs(i, level="id")["mean"].to_numpy() for i in subset.ids]
    return forecasts, time.process_time() - start


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
    from rnnkit.tasks.forecast.statistical import statistical_forecasts

    forecasts: dict[str, list[np.ndarray]] = {}
    seconds: dict[str, float] = {}
    runs = [global_forecaster_forecasts(subset, seed=s, **(rnn_options or {})) for s in range(seeds)]
    label = "rnnkit LSTM (global)" + (f", {seeds} seeds" if seeds > 1 else "")
    forecasts[label] = [np.mean([run[0][i] for run in runs], axis=0) for i in range(len(subset))]
    seconds[label] = sum(run[1] for run in runs)
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


__all__ = ["GLOBAL_SETTINGS", "CompetitionResult", "global_forecaster_forecasts", "run_competition"]
