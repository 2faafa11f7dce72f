"""The competitions' measures against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.metrics.competition import competition_scores, mape, mase, smape_m3


def test_smape_mape_mase_by_hand():
    actual, forecast = np.array([100.0, 200.0]), np.array([110.0, 180.0])
    # 200*10/210 = 9.5238..., 200*20/380 = 10.526...
    assert smape_m3(actual, forecast) == pytest.approx((2000 / 210 + 4000 / 380) / 2)
    assert mape(actual, forecast) == pytest.approx(10.0)
    history = np.array([1.0, 3.0, 2.0, 6.0, 4.0])  # lag-2 differences: 1, 3, 2 -> scale 2
    assert mase(history, np.array([5.0, 9.0]), np.array([4.0, 6.0]), season_length=2) == pytest.approx(2.0 / 2)
    # Too short for the season: lag 1 (|2| + |1| + |4| + |2|) / 4 = 2.25
    assert mase(history, np.array([5.0]), np.array([4.0]), season_length=12) == pytest.approx(1 / 2.25)
    assert np.isnan(mase(np.ones(5), np.ones(2), np.zeros(2), season_length=1))


def test_scores_average_over_series_and_skip_undefined_mase():
    scores = competition_scores([np.array([1.0, 2.0]), np.ones(3)], [np.array([3.0]), np.array([1.0])],
                                [np.array([3.0]), np.array([2.0])], season_length=1)
    assert scores["sMAPE"] == pytest.approx((0 + 200 / 3) / 2)
    assert scores["MASE"] == pytest.approx(0.0)  # the constant series' MASE is undefined and skipped
    assert scores["MAPE"] == pytest.approx(50.0)
