"""rnnkit moving-digits: tiny runs of the app, its run directory, the baselines, --data and predict."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.cli import main
from rnnkit.tasks import get_app
from rnnkit.tasks.framework import run_pipeline
from rnnkit.tasks.moving_digits import FramePredictor, MovingDigitsConfig
from rnnkit.tasks.moving_digits.data import load_moving_digits_data, read_sequences


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("rnnkit-cache")


def _tiny(tmp_path, cache_dir, **changes):
    settings = dict(hidden_size=2, num_layers=1, kernel_size=3, canvas=16, frames=4, context=2, train_sequences=8,
                    test_sequences=4, steps=2, batch_size=4, output_dir=str(tmp_path / "run"),
                    cache_dir=str(cache_dir), progress=False)
    return MovingDigitsConfig(**{**settings, **changes})


def test_tiny_run_writes_the_standard_run_directory(cache_dir, tmp_path):
    config = _tiny(tmp_path, cache_dir)
    result = run_pipeline(get_app("moving-digits"), config, verbose=False)
    run = tmp_path / "run"
    assert result.output_dir == run
    assert (run / "moving_digits.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((run / "config.json").read_text())["config"]["steps"] == 2
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["primary"] == "one-step MSE" and saved["model"] == "rnnkit convlstm 1x2"
    methods = saved["methods"]
    assert list(methods) == ["rnnkit convlstm 1x2", "copy the last frame", "blank frame"]
    scores = saved["extra"]["scores"]
    assert methods["copy the last frame"]["one-step MSE"] == pytest.approx(scores["copy_last_frame_mse"])
    assert all(np.isfinite(v) for v in scores.values())
    assert 0 < scores["copy_last_frame_mse"] < 0.2 and 0 < scores["blank_frame_mse"] < 0.2
    assert "| copy the last frame |" in (run / "metrics.md").read_text()
    # Trained through the Trainer: its log has the two optimiser steps.
    estimator = result.estimator
    assert max(row["step"] for row in estimator.training_log_) == 2
    # model/ is what rnnkit.load reads: the same predictions and scores.
    loaded = rnnkit.load(run / "model")
    assert isinstance(loaded, FramePredictor) and loaded.get_config() == estimator.get_config()
    data = load_moving_digits_data(config)
    assert torch.equal(loaded.predict(data.test), estimator.predict(data.test))
    assert loaded.evaluate(data.test, config.context) == pytest.approx({k: v for k, v in scores.items()
                                                                         if k != "train_seconds"})


def test_baselines_are_computed_on_the_same_frames():
    frames = torch.zeros(3, 4, 1, 5, 5)
    frames[:, :, :, 1:3, 1:3] = 0.5  # a still square: copying the last frame is exact
    model = FramePredictor(hidden_size=2, num_layers=1, steps=1, batch_size=3).fit(frames)
    scores = model.evaluate(frames, context=2)
    assert scores["copy_last_frame_mse"] == 0.0 and scores["rollout_copy_last_context_frame_mse"] == 0.0
    assert scores["blank_frame_mse"] == pytest.approx(4 * 0.25 / 25)
    predicted = model.predict(frames)
    assert scores["one_step_mse"] == pytest.approx(float((predicted[:, :-1] - frames[:, 1:]).pow(2).mean()))
    with pytest.raises(ValueError, match="context: expected 1 <= context < 4"):
        model.evaluate(frames, context=4)


def test_cli_command(cache_dir, tmp_path, capsys):
    args = ["moving-digits", "--steps", "1", "--canvas", "16", "--frames", "3", "--context", "2", "--train-sequences",
            "4", "--test-sequences", "2", "--hidden-size", "2", "--num-layers", "1", "--kernel-size", "3",
            "--batch-size", "2", "--cell", "convgru", "--output-dir", str(tmp_path), "--cache-dir", str(cache_dir),
            "--quiet"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "convgru 1x2" in out and "| rnnkit convgru 1x2 |" in out and "| copy the last frame |" in out
    assert (tmp_path / "moving_digits.png").is_file() and (tmp_path / "model").is_dir()
    assert main(["moving-digits", "--kernel-size", "4", "--output-dir", str(tmp_path / "bad")]) == 2
    assert "kernel_size: expected an odd number, got 4" in capsys.readouterr().err


def test_user_frames_train_and_predict(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frames = (rng.random((3, 6, 8, 8)) > 0.7).astype(np.uint8) * 255  # time-major: 3 frames of 6 sequences
    np.save(tmp_path / "frames.npy", frames)
    args = ["moving-digits", "--data", str(tmp_path / "frames.npy"), "--time-major", "--test-sequences", "2",
            "--context", "2", "--steps", "1", "--hidden-size", "2", "--num-layers", "1", "--batch-size", "2",
            "--output-dir", str(tmp_path / "run"), "--quiet"]
    assert main(args) == 0
    assert "4 training / 2 test sequences of 3 frames 8x8 from frames.npy" in capsys.readouterr().out
    out = tmp_path / "predicted.npy"
    assert main(["moving-digits", "predict", "--model", str(tmp_path / "run" / "model"), "--data",
                 str(tmp_path / "frames.npy"), "--time-major", "--context", "2", "--horizon", "3", "--out",
                 str(out)]) == 0
    predicted = np.load(out)
    assert predicted.shape == (6, 3, 1, 8, 8) and 0 <= predicted.min() and predicted.max() <= 1
    printed = capsys.readouterr().out
    assert "rollout MSE" in printed and "over the 1 known frames" in printed
    # The predicted frames are the saved model's rollout.
    model = rnnkit.load(tmp_path / "run" / "model")
    sequences = torch.from_numpy(read_sequences(tmp_path / "frames.npy", time_major=True))
    assert np.array_equal(predicted, model.rollout(sequences[:, :2], 3).numpy())


def test_read_sequences_checks_the_file(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"data: expected frames shaped .* got shape \(4, 8, 8\)"):
        read_sequences(tmp_path / "flat.npy")
    np.save(tmp_path / "big.npy", np.full((2, 3, 4, 4), 2.0, np.float32))
    with pytest.raises(ValueError, match=r"data: expected float frames in \[0, 1\]"):
        read_sequences(tmp_path / "big.npy")
    np.savez(tmp_path / "one.npz", frames=np.full((2, 3, 1, 4, 4), 255, np.uint8))
    sequences = read_sequences(tmp_path / "one.npz")
    assert sequences.shape == (2, 3, 1, 4, 4) and sequences.dtype == np.float32 and sequences.max() == 1.0
