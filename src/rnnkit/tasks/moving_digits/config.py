"""Every setting of ``rnnkit moving-digits`` (flags, config files and the tuner's search space)."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.tasks.framework.config import AppConfig, ConfigError, setting


@dataclass
class MovingDigitsConfig(AppConfig):
    """Settings of ``rnnkit moving-digits``: data, network, training (defaults: about ten minutes on one CPU core)."""

    cell: str = setting("convlstm", "spatial recurrent cell", choices=("convlstm", "convgru"),
                        search={"choices": ["convlstm", "convgru"]})
    hidden_size: int = setting(16, "state channels per layer", min=1, search={"low": 8, "high": 64, "log": True})
    num_layers: int = setting(2, "stacked layers", min=1, search={"low": 1, "high": 3})
    kernel_size: int = setting(3, "odd convolution kernel of the cells", min=1)
    canvas: int = setting(32, "built-in data: canvas side in pixels", min=2)
    scale: int = setting(2, "built-in data: shrink the 28x28 digits by this factor", min=1)
    frames: int = setting(10, "built-in data: frames per sequence", min=2)
    digits_per_sequence: int = setting(2, "built-in data: digits bouncing in each sequence", min=1)
    context: int = setting(5, "frames given before the closed-loop rollout", min=1)
    train_sequences: int = setting(3000, "built-in data: training sequences (from 4,000 of the 5,000 digits)", min=1)
    test_sequences: int = setting(200, "test sequences (built-in: from the other 1,000 digits; --data: the last "
                                  "ones of the file)", min=1)
    steps: int = setting(800, "optimiser steps", min=1)
    batch_size: int = setting(16, "sequences per step", min=1)
    lr: float = setting(2e-3, "Adam learning rate", min=0.0, search={"low": 3e-4, "high": 1e-2, "log": True})
    clip_grad_norm: float = setting(1.0, "gradient-norm clipping", min=0.0)
    time_major: bool = setting(False, "--data: the file's first axis is time, as in the original Moving MNIST's "
                               "mnist_test_seq.npy (20, 10000, 64, 64)")
    cache_dir: str | None = setting(None, "cache of the decoded MNIST digits (default: $RNNKIT_CACHE or "
                                    "~/.cache/rnnkit)")

    def validate(self) -> None:
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size: expected an odd number, got {self.kernel_size}")
        if not self.data and self.context >= self.frames:
            raise ConfigError(f"context: expected fewer than frames={self.frames} frames, got {self.context}")
        if not self.data and 28 % self.scale:
            raise ConfigError(f"scale: expected a divisor of the digits' 28 pixels, got {self.scale}")
        if not self.data and 28 // self.scale > self.canvas:
            raise ConfigError(f"canvas: expected at least the digit size {28 // self.scale}, got {self.canvas}")


__all__ = ["MovingDigitsConfig"]
