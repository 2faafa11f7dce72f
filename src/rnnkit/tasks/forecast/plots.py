"""Forecast figures, drawn through :mod:`rnnkit.plots` (PNG files, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rnnkit.plots import plot_training_curves, pyplot, save_figure


def plot_forecast(
    times: pd.Index,
    values: np.ndarray,
    backtest: pd.DataFrame,
    future: pd.DataFrame | None,
    path: Path,
    *,
    title: str,
    history_steps: int,
) -> Path:
    """History and actuals, each backtest origin's forecast with its 10-90 % band, and the forecast
    beyond the data."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(11, 4.5))
    start = max(0, len(values) - history_steps)
    ax.plot(times[start:], values[start:], color="black", lw=1.0, label="actual")
    for k, (_, rows) in enumerate(backtest.groupby("origin")):
        label = "backtest forecast (mean, 10–90 %)" if k == 0 else None
        ax.plot(rows["time"], rows["mean"], color="tab:blue", lw=1.3, label=label)
        if {"q0.1", "q0.9"} <= set(rows.columns):
            ax.fill_between(rows["time"], rows["q0.1"], rows["q0.9"], color="tab:blue", alpha=0.2, lw=0)
        ax.axvline(rows["time"].iloc[0], color="grey", lw=0.5, ls=":")
    if future is not None:
        ax.plot(future.index, future["mean"], color="tab:orange", lw=1.5, label="forecast beyond the data")
        if {"q0.1", "q0.9"} <= set(future.columns):
            ax.fill_between(future.index, future["q0.1"], future["q0.9"], color="tab:orange", alpha=0.25, lw=0)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return save_figure(fig, path)


def plot_errors_by_step(errors: dict[str, pd.Series], path: Path, *, title: str) -> Path:
    """Mean absolute error at each horizon step, one line per method."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, series in errors.items():
        ax.plot(series.index, series.values, marker=".", label=name)
    ax.set_xlabel("steps ahead")
    ax.set_ylabel("MAE")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_training_curve(log: list[dict], path: Path, *, title: str) -> Path | None:
    """Training (and validation, when held out) loss against the optimisation step: the one
    training-curve plot of :func:`rnnkit.plots.plot_training_curves`, loss panel only."""
    return plot_training_curves(log, path, title=title, val_keys=["val_loss"] if any("val_loss" in e for e in log)
                                else [], gradient_norm=False, loss_label="loss (scaled units)", dpi=110)
