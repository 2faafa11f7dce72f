"""``rnnkit moving-digits``: next-frame prediction of moving digits on the shared app contract.

Train = fit a :class:`~rnnkit.tasks.moving_digits.FramePredictor` on the training sequences
through :class:`rnnkit.Trainer`; evaluate = one-step and closed-loop rollout MSE on the test
sequences beside the copy-the-last-frame and blank-frame baselines on the same frames, and the PNG
``moving_digits.png``; predict = roll a saved model out after the first frames of new sequences.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.tasks.framework.app import Application, Report, RunContext
from rnnkit.tasks.moving_digits.config import MovingDigitsConfig
from rnnkit.tasks.moving_digits.data import MovingDigitsData, load_moving_digits_data, read_sequences


class MovingDigitsApp(Application):
    """ConvLSTM/ConvGRU next-frame prediction against copy-the-last-frame and blank-frame baselines."""

    name = "moving-digits"
    summary = "Next-frame prediction of real MNIST digits bouncing in a canvas with a ConvLSTM."
    config_class = MovingDigitsConfig
    extra = "mnist"

    def run_name(self, config: MovingDigitsConfig) -> str:
        return super().run_name(config) if config.data else "mnist"

    def load_data(self, config: MovingDigitsConfig) -> MovingDigitsData:
        return load_moving_digits_data(config)

    def build(self, config: MovingDigitsConfig, data: MovingDigitsData) -> Any:
        from rnnkit.tasks.moving_digits.estimator import FramePredictor

        return FramePredictor(cell=config.cell, hidden_size=config.hidden_size, num_layers=config.num_layers,
                              kernel_size=config.kernel_size, steps=config.steps, batch_size=config.batch_size,
                              lr=config.lr, clip_grad_norm=config.clip_grad_norm, seed=config.seed,
                              device=config.device, progress=config.progress)

    def fit(self, estimator: Any, data: MovingDigitsData, config: MovingDigitsConfig, context: RunContext) -> None:
        estimator.extra_callbacks = list(context.callbacks)
        if context.verbose:
            from rnnkit.models.next_frame import NextFramePredictor

            backend = NextFramePredictor(config.cell, config.hidden_size, config.num_layers,
                                         config.kernel_size).recurrent.backend
            print(f"moving digits: {data.description}; {config.cell} {config.num_layers}x{config.hidden_size}, "
                  f"backend {backend} ({backend.reason})")
        estimator.fit(data.train)

    def evaluate(self, estimator: Any, data: MovingDigitsData, config: MovingDigitsConfig,
                 context: RunContext) -> Report:
        scores = estimator.evaluate(data.test, config.context)
        scores["train_seconds"] = estimator.fit_seconds_
        model = f"rnnkit {config.cell} {config.num_layers}x{config.hidden_size}"
        metrics = {
            model: {"one-step MSE": scores["one_step_mse"], "rollout MSE": scores["rollout_mse"],
                    "one-step BCE": scores["one_step_bce"]},
            "copy the last frame": {"one-step MSE": scores["copy_last_frame_mse"],
                                    "rollout MSE": scores["rollout_copy_last_context_frame_mse"]},
            "blank frame": {"one-step MSE": scores["blank_frame_mse"],
                            "rollout MSE": scores["rollout_blank_frame_mse"]},
        }
        plots = {}
        png = context.path("moving_digits.png")
        if png is not None:
            from rnnkit.tasks.moving_digits.plots import plot_predictions

            plots["predictions"] = plot_predictions(estimator, data.test, config.context, png)
        frames = data.test.shape[1]
        return Report(
            metrics, primary="one-step MSE", higher_is_better=False, plots=plots,
            notes=[f"{data.description}. Per-pixel MSE on the test sequences: one step ahead (frames 2-{frames}) "
                   f"and a closed-loop rollout of frames {config.context + 1}-{frames} after {config.context} given "
                   f"frames (its copy baseline keeps showing the last given frame). Training took "
                   f"{estimator.fit_seconds_:.0f} s."],
            extra={"scores": scores},
        )

    def add_predict_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data", required=True, help=".npy/.npz frame sequences (sequences, frames, H, W), "
                            "uint8 or floats in [0, 1]")
        parser.add_argument("--time-major", action="store_true", help="the file's first axis is time")
        parser.add_argument("--context", type=int, default=5, help="frames given before the rollout (default 5)")
        parser.add_argument("--horizon", type=int, help="frames to predict (default: the rest of each sequence)")
        parser.add_argument("--out", help="write the predicted frames (sequences, horizon, 1, H, W) to this .npy")

    def predict(self, estimator: Any, args: argparse.Namespace) -> int:
        from rnnkit.tasks.framework.cli import CLIError

        frames = torch.from_numpy(read_sequences(args.data, time_major=args.time_major))
        if not 1 <= args.context < frames.shape[1] + (1 if args.horizon else 0):
            raise CLIError(f"--context: expected 1 <= context < {frames.shape[1]} (the frames), got {args.context}")
        horizon = args.horizon or frames.shape[1] - args.context
        predicted = estimator.rollout(frames[:, : args.context], horizon)
        known = min(horizon, frames.shape[1] - args.context)
        if known > 0:
            future = frames[:, args.context : args.context + known]
            mse = float((predicted[:, :known] - future).pow(2).mean())
            copy = float((frames[:, args.context - 1 : args.context] - future).pow(2).mean())
            print(f"{len(frames)} sequences: rollout MSE {mse:.4f} over the {known} known frames "
                  f"(copy the last given frame: {copy:.4f})")
        if args.out:
            np.save(Path(args.out), predicted.numpy())
            print(f"wrote {args.out} {tuple(predicted.shape)}")
        return 0


APP = MovingDigitsApp()
