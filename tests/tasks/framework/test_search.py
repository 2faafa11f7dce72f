"""rnnkit tune: search space from the config, resumable SQLite study, best config re-runnable."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from rnnkit.cli import main

optuna = pytest.importorskip("optuna")


def _csv(path):
    t = np.arange(120)
    values = 10 + 3 * np.sin(2 * np.pi * t / 12) + 0.1 * t
    pd.DataFrame({"month": pd.date_range("2000-01-01", periods=120, freq="MS"), "sales": values}).to_csv(
        path, index=False)
    return path


FAST = ["--horizon", "6", "--season-length", "12", "--origins", "1", "--baselines", "naive",
        "--max-steps", "8", "--num-layers", "1", "--context-length", "24", "--quiet"]


def test_tune_resumes_from_sqlite_and_writes_a_config_train_accepts(tmp_path, capsys):
    data = _csv(tmp_path / "sales.csv")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["tune", "forecast", "--data", str(data), "--trials", "1", "--storage", storage,
            "--tune-dir", str(tmp_path / "tune"), *FAST]
    assert main(args) == 0
    assert main(args) == 0  # the same command again continues the study
    study = optuna.load_study(study_name="rnnkit-forecast", storage=storage)
    assert len(study.trials) == 2
    searched = {"hidden_size", "dropout", "lr", "cell"}
    assert searched <= set(study.trials[0].params)
    best = yaml.safe_load((tmp_path / "tune" / "best.yaml").read_text())
    assert best["max_steps"] == 8 and best["lr"] == pytest.approx(study.best_params["lr"])
    assert (tmp_path / "tune" / "history.png").stat().st_size > 1000
    out = tmp_path / "rerun"
    assert main(["forecast", "train", "--config", str(tmp_path / "tune" / "best.yaml"), "--output-dir", str(out),
                 "--quiet"]) == 0
    assert (out / "metrics.json").is_file() and (out / "model" / "config.json").is_file()


def test_tune_rejects_a_bad_storage_and_unknown_app(tmp_path, capsys):
    assert main(["tune", "forcast", "--trials", "1"]) == 2
    assert "did you mean 'forecast'" in capsys.readouterr().err
    bad = f"sqlite:///{tmp_path / 'missing-dir' / 'x' / 'study.db'}"
    assert main(["tune", "forecast", "--trials", "1", "--storage", bad, *FAST]) == 2
    assert "--storage" in capsys.readouterr().err


def test_pruning_callback_reports_and_prunes():
    from rnnkit.tasks.framework.search import PruningCallback

    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=1.0))
    trial = study.ask()
    callback = PruningCallback(trial)
    callback.on_epoch_end(None, 0, {"val_loss": 0.5})
    with pytest.raises(optuna.TrialPruned):
        callback.on_epoch_end(None, 1, {"val_loss": 2.0})
    assert callback.reports == 2


# ----------------------------------------------------------------- stand-in apps: fast, no training
from dataclasses import dataclass  # noqa: E402

from rnnkit.tasks.framework.app import Application, Report  # noqa: E402
from rnnkit.tasks.framework.config import AppConfig, setting  # noqa: E402


@dataclass
class _PlainConfig(AppConfig):
    width: int = setting(4, "a setting with no search range", min=1)


@dataclass
class _SearchedConfig(AppConfig):
    width: float = setting(4.0, "searched", min=0.0, search={"low": 0.0, "high": 10.0})


class _QuadraticApp(Application):
    """Score (width - 6)^2; ``stop_at`` raises KeyboardInterrupt in that call, as Ctrl-C would."""

    name = "quadratic"
    config_class = _SearchedConfig

    def __init__(self, stop_at: int | None = None) -> None:
        self.calls, self.stop_at = 0, stop_at

    def load_data(self, config):
        return None

    def build(self, config, data):
        return config.width

    def fit(self, estimator, data, config, context):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt

    def evaluate(self, estimator, data, config, context):
        return Report({"model": {"loss": float((estimator - 6) ** 2)}}, primary="loss", higher_is_better=False)


def test_tune_refuses_an_app_without_a_search_space(tmp_path):
    from rnnkit.tasks.framework.search import SearchError, tune

    class Plain(_QuadraticApp):
        config_class = _PlainConfig

    with pytest.raises(SearchError, match="declares no search space"):
        tune(Plain(), _PlainConfig(), trials=1, output_dir=tmp_path)


def test_a_study_stopped_by_ctrl_c_continues_when_run_again(tmp_path):
    from rnnkit.tasks.framework.search import tune

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    with pytest.raises(KeyboardInterrupt):
        tune(_QuadraticApp(stop_at=3), _SearchedConfig(), trials=5, storage=storage, output_dir=tmp_path)
    stopped = optuna.load_study(study_name="rnnkit-quadratic", storage=storage)
    assert [t.state.name for t in stopped.trials] == ["COMPLETE", "COMPLETE", "FAIL"]
    first_two = [t.params for t in stopped.trials[:2]]
    app = _QuadraticApp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the one-setting importance plot once had no room for its title
        study = tune(app, _SearchedConfig(), trials=4, storage=storage, output_dir=tmp_path)
    assert app.calls == 4 and len(study.trials) == 7  # the same study, four more trials
    assert [t.params for t in study.trials[:2]] == first_two
    widths = [t.params["width"] for t in study.trials]
    assert len(set(widths)) == 7, widths  # the resumed sampler does not draw the first trials again
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 6 and study.best_value == min(t.value for t in complete)
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["width"] == study.best_params["width"]


@pytest.mark.parametrize("url", ["sqlite:////proc/no-such-dir/study.db", "nosuchdb://host/study", "not a url"])
def test_a_storage_url_that_cannot_be_opened_is_a_search_error(tmp_path, url):
    from rnnkit.tasks.framework.search import SearchError, tune

    with pytest.raises(SearchError, match="--storage: cannot open"):
        tune(_QuadraticApp(), _SearchedConfig(), trials=1, storage=url, output_dir=tmp_path)
