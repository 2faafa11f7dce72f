"""rnnkit tune: search space from the config, resumable SQLite study, best config re-runnable."""

from __future__ import annotations

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
