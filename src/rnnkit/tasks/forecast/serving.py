"""The ``POST /v1/forecast`` request body and its answer (see :mod:`rnnkit.tasks.framework.serve`)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field, field_validator, model_validator


class ForecastRequest(BaseModel):
    """Forecast from the model's saved history, or from a newer history of one series.

    Attributes:
        horizon: steps (default: the model's; the direct decoder cannot exceed it).
        quantiles: levels in (0, 1).
        times, values: a newer history of the series (same frequency as the training data),
            given together; omit both to forecast from the saved history.
    """

    horizon: int | None = Field(None, ge=1, le=100_000)
    quantiles: list[float] = Field(default_factory=lambda: [0.1, 0.5, 0.9], min_length=1, max_length=99)
    times: list[str] | None = Field(None, max_length=1_000_000)
    values: list[float | None] | None = Field(None, max_length=1_000_000)

    @field_validator("quantiles")
    @classmethod
    def _levels(cls, quantiles: list[float]) -> list[float]:
        for q in quantiles:
            if not 0.0 < q < 1.0:
                raise ValueError(f"each quantile must lie strictly between 0 and 1, got {q}")
        return quantiles

    @field_validator("values")
    @classmethod
    def _finite(cls, values: list[float | None] | None) -> list[float | None] | None:
        for i, v in enumerate(values or []):
            if v is not None and not math.isfinite(v):
                raise ValueError(f"values[{i}] is {v}; use null for a missing value")
        return values

    @model_validator(mode="after")
    def _together(self) -> ForecastRequest:
        if (self.times is None) != (self.values is None):
            raise ValueError("times and values: give both (a newer history) or neither (the saved history)")
        if self.times is not None and len(self.times) != len(self.values):
            raise ValueError(f"times and values: {len(self.times)} times but {len(self.values)} values")
        return self


def answer(forecaster: Any, request: ForecastRequest) -> dict:
    """The forecast as ``{"times": [...], "mean": [...], "q0.1": [...], ...}``."""
    y = None
    if request.times is not None:
        try:
            index = pd.DatetimeIndex(pd.to_datetime(request.times))
        except (ValueError, TypeError) as error:
            raise ValueError(f"times: cannot read as timestamps: {error}") from None
        y = pd.Series(request.values, index=index, dtype="float64")
        if forecaster._layout.get("id_col"):
            raise ValueError("times/values: this model was fitted on many series; send the saved history "
                             "(omit times and values)")
    # A pd.Series history needs no column names, whatever layout the model was fitted from.
    layout, forecaster._layout = forecaster._layout, ({key: None for key in forecaster._layout} if y is not None
                                                      else forecaster._layout)
    try:
        frame = forecaster.predict(request.horizon, tuple(request.quantiles), y=y)
    finally:
        forecaster._layout = layout
    if isinstance(frame.index, pd.MultiIndex):
        return {"series": {str(i): _columns(frame.xs(i, level=0)) for i in frame.index.get_level_values(0).unique()}}
    return _columns(frame)


def _columns(frame: pd.DataFrame) -> dict:
    out: dict[str, Any] = {"times": [str(t) for t in frame.index]}
    out.update({c: [float(v) for v in frame[c]] for c in frame.columns})
    return out
