"""Trainer callbacks: early stopping and keep-the-best-weights-in-memory.

A callback is any object with some of these methods, called on every process:

- ``on_step_end(trainer, step, row)`` after each optimizer step (``row`` is the log row);
- ``on_epoch_end(trainer, epoch, record)`` after each epoch (``record`` is the history entry,
  with the validation metrics when the epoch validated);
- ``on_fit_end(trainer, result)`` once, after the last epoch (not when training failed);
- ``state_dict()`` / ``load_state_dict(state)`` (JSON values) when its state must survive a
  checkpoint and a resume.

A callback ends the run with ``trainer.stop(reason)`` (or by setting ``trainer.should_stop =
True``, reason ``"callback"``): after the current epoch when it does so in ``on_epoch_end``,
after the current optimizer step when in ``on_step_end`` (except under DDP: the epoch's end).
"""

from __future__ import annotations

import math
import time
from typing import Any

from torch import Tensor


def _better(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _check_mode(mode: str) -> None:
    if mode not in ("min", "max"):
        raise ValueError(f"mode: expected 'min' or 'max', got {mode!r}")


class EarlyStopping:
    """Stop after ``patience`` validations in a row without improvement of ``monitor``.

    ``TrainerConfig(early_stopping_patience=N)`` adds one of these (on ``config.monitor`` and
    ``config.monitor_mode``); its state is saved in every checkpoint, so a resumed run stops at
    the same epoch as an uninterrupted one.

    Args:
        monitor: a validation metric of the epoch record (``"val_loss"``).
        patience: validations without improvement that end the run (0: stop at the first).
        mode: ``"min"`` or ``"max"``.
        min_delta: an improvement must be larger than this.

    Example:
        >>> trainer = rnnkit.Trainer(max_epochs=50, callbacks=[EarlyStopping("val_loss", patience=3)])
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 3, *, mode: str = "min",
                 min_delta: float = 0.0) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience: expected an integer >= 0, got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not (
                math.isfinite(min_delta) and min_delta >= 0):
            raise ValueError(f"min_delta: expected a finite number >= 0, got {min_delta!r}")
        _check_mode(mode)
        self.monitor, self.patience, self.mode, self.min_delta = monitor, patience, mode, float(min_delta)
        self.best: float | None = None
        self.bad_validations = 0

    def on_epoch_end(self, trainer: Any, epoch: int, record: dict[str, Any]) -> None:
        value = record.get(self.monitor)
        if value is None:  # this epoch did not validate
            return
        if _better(value, self.best, self.mode, self.min_delta):
            self.best, self.bad_validations = value, 0
        else:
            self.bad_validations += 1
        if self.bad_validations >= self.patience:
            trainer.stop("early_stopping")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_validations": self.bad_validations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_validations = state.get("best"), int(state.get("bad_validations", 0))


class KeepBest:
    """Keep a copy of the weights of the best epoch in memory and put them back when training ends.

    Unlike ``save_best`` (a checkpoint on disk, needs ``output_dir``), this works without writing
    anything. The copy is not part of checkpoints: after a resume, the best of the epochs since
    the resume is kept.

    Args:
        monitor: a validation metric of the epoch record (``"val_loss"``).
        mode: ``"min"`` or ``"max"``.
        module: whose weights to keep (default: the model being trained).

    Attributes:
        best: the best value seen (``None`` before the first validation).
        best_epoch: the epoch it was seen in.

    Example:
        >>> keeper = KeepBest("val_loss")
        >>> rnnkit.Trainer(max_steps=500, callbacks=[keeper]).fit(model, train, val)
        >>> keeper.best   # the model now holds the weights of that epoch
    """

    def __init__(self, monitor: str = "val_loss", *, mode: str = "min", module: Any = None) -> None:
        _check_mode(mode)
        self.monitor, self.mode, self.module = monitor, mode, module
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.weights: dict[str, Tensor] | None = None

    def _target(self, trainer: Any) -> Any:
        return self.module if self.module is not None else trainer.model

    def on_epoch_end(self, trainer: Any, epoch: int, record: dict[str, Any]) -> None:
        value = record.get(self.monitor)
        if value is None or not math.isfinite(value) or not _better(value, self.best, self.mode):
            return
        self.best, self.best_epoch = value, epoch
        self.weights = {k: v.detach().clone() for k, v in self._target(trainer).state_dict().items()}

    def on_fit_end(self, trainer: Any, result: Any) -> None:
        self.restore(self._target(trainer))

    def restore(self, module: Any) -> None:
        """Load the kept weights into ``module`` (nothing happens before the first validation)."""
        if self.weights is not None:
            module.load_state_dict(self.weights)


class TimeBudget:
    """Trainer callback: stop once ``seconds`` of wall time have passed since it was made.

    Args:
        seconds: the budget (``None``: no limit).
        within_epoch: also stop after the step that passes the budget (otherwise only at an
            epoch's end).

    Example:
        >>> rnnkit.Trainer(max_epochs=100, callbacks=[TimeBudget(60)]).fit(model, train, val)  # doctest: +SKIP
    """

    def __init__(self, seconds: float | None, *, within_epoch: bool = False) -> None:
        self.seconds, self.within_epoch, self.start = seconds, within_epoch, time.perf_counter()

    def expired(self) -> bool:
        """Whether the budget is spent."""
        return self.seconds is not None and time.perf_counter() - self.start > self.seconds

    def on_step_end(self, trainer: Any, step: int, row: dict[str, Any]) -> None:
        if self.within_epoch and self.expired():
            trainer.should_stop = True

    def on_epoch_end(self, trainer: Any, epoch: int, record: dict[str, Any]) -> None:
        if self.expired():
            trainer.should_stop = True


__all__ = ["EarlyStopping", "KeepBest", "TimeBudget"]
