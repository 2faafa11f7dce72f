"""Forecast metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.metrics import forecast as metrics


def test_point_metrics_by_hand():
    actual = np.array([1.0, 2.0, np.nan, 4.0])
    forecast = np.array([2.0, 2.0, 9.0, 2.0])
    assert metrics.mae(actual, forecast) == pytest.approx(1.0)  # (1 + 0 + 2) / 3, the NaN left out
    assert metrics.rmse(actual, forecast) == pytest.approx(np.sqrt(5 / 3))
    assert metrics.smape(actual, forecast) == pytest.approx(100 * (2 / 3 + 0 + 4 / 6) / 3)
    assert metrics.smape(np.zeros(2), np.zeros(2)) == 0.0


def test_mase_scale_is_in_sample_seasonal_naive():
    history = np.array([1.0, 5.0, 2.0, 6.0, 4.0, 8.0])
    assert metrics.seasonal_naive_scale(history, 2) == pytest.approx((1 + 1 + 2 + 2) / 4)
    assert metrics.seasonal_naive_scale(history, None) == pytest.approx((4 + 3 + 4 + 2 + 4) / 5)
    assert metrics.mase(np.array([3.0]), np.array([6.0]), 1.5) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="MASE needs more than season_length=12 points, got 6"):
        metrics.seasonal_naive_scale(history, 12)


def test_pinball_and_coverage():
    actual = np.array([0.0, 10.0])
    assert metrics.pinball(actual, {0.9: np.array([1.0, 1.0])}) == pytest.approx((0.1 * 1 + 0.9 * 9) / 2)
    assert metrics.coverage(np.array([1.0, 5.0, 9.0]), np.zeros(3), np.full(3, 6.0)) == pytest.approx(2 / 3)
