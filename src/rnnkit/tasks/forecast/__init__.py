"""Time-series forecasting: the :class:`Forecaster` estimator, backtests, baselines and the pipeline."""

from rnnkit.tasks.forecast.estimator import Forecaster, ForecasterConfig

__all__ = ["Forecaster", "ForecasterConfig"]
