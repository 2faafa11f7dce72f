"""The ``recall`` task: a synthetic sequence task with a known answer, for ``rnnkit train``.

``recall``: each input is ``T`` steps of uniform noise in ``[-1, 1]``; the target is the *first*
value, read out after the last step. Solving it needs the gradient to travel all ``T`` steps
back, which is what separates an Elman RNN from an LSTM (Hochreiter & Schmidhuber 1997).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import TensorDataset

from rnnkit.models.regressor import RecurrentRegressor
from rnnkit.tasks import TaskSetup, register_task


def make_recall_data(n: int, steps: int, *, seed: int = 0) -> TensorDataset:
    """``n`` sequences of ``steps`` uniform values in [-1, 1]; the target is each one's first value."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, steps, 1, generator=generator) * 2 - 1
    return TensorDataset(x, x[:, 0].clone())


@dataclass
class RecallConfig:
    """Settings of the ``recall`` task."""

    cell: str = "lstm"
    steps: int = 50
    hidden_size: int = 32
    num_layers: int = 1
    train_size: int = 2048
    val_size: int = 256


@register_task("recall", RecallConfig, "synthetic: recall the first of T noise values (long-range memory)")
def build_recall(config: RecallConfig, *, seed: int = 0) -> TaskSetup:
    """Model and data of the ``recall`` task."""
    model = RecurrentRegressor(config.cell, 1, config.hidden_size, 1, num_layers=config.num_layers)
    return TaskSetup(
        model=model,
        train_data=make_recall_data(config.train_size, config.steps, seed=seed),
        val_data=make_recall_data(config.val_size, config.steps, seed=seed + 1),
    )


__all__ = ["RecallConfig", "build_recall", "make_recall_data"]
