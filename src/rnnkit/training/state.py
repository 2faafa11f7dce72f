"""What a training run returns and what it must carry across a checkpoint."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch


class TrainingDiverged(RuntimeError):
    """Too many consecutive steps had a non-finite loss or gradient."""


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        history: one record per epoch: ``epoch``, ``step``, ``train_loss`` (mean over the
            epoch's steps), ``lr``, ``seconds`` and every validation metric (``val_loss``, ...).
        steps: optimizer steps taken in all (including skipped non-finite ones).
        epochs: epochs completed.
        stop_reason: ``"max_epochs"``, ``"max_steps"``, ``"early_stopping"`` or ``"callback"``
            (a callback set ``trainer.should_stop``).
        best_metric: best value of ``config.monitor`` seen (``None`` without validation).
        best_checkpoint, last_checkpoint: checkpoint directories (``None`` when nothing was written).
        nonfinite_steps: steps skipped because the loss or gradient was not finite.
        output_dir: where files were written, if anywhere.
    """

    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    epochs: int = 0
    stop_reason: str = ""
    best_metric: float | None = None
    best_checkpoint: Path | None = None
    last_checkpoint: Path | None = None
    nonfinite_steps: int = 0
    output_dir: Path | None = None


@dataclass
class RunState:
    """Everything about a run's progress that a checkpoint must restore."""

    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    best: float | None = None
    best_checkpoint: str | None = None
    bad_validations: int = 0  # read only from checkpoints written before EarlyStopping was a callback
    nonfinite_total: int = 0
    nonfinite_consecutive: int = 0
    last_finite_loss: float | None = None
    last_finite_step: int | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    # The running sums behind the epoch's train_loss, so a mid-epoch resume reports the whole epoch.
    epoch_loss_sum: float = 0.0
    epoch_loss_count: int = 0


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class AccumulationGroup:
    """The micro-batches accumulated towards the next optimizer step."""

    losses: list[float] = field(default_factory=list)
    extras: dict[str, list[float]] = field(default_factory=dict)

    def add(self, loss: float, extras: dict[str, float]) -> None:
        self.losses.append(loss)
        for key, value in extras.items():
            self.extras.setdefault(key, []).append(value)

    def reset(self) -> None:
        self.losses, self.extras = [], {}
