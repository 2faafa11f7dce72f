"""``LearningRateDecay``: the epoch-wise learning-rate decay of the language-model literature.

Two rules, used alone or together, each multiplying every parameter group's learning rate by
``factor`` at the end of an epoch:

- a fixed schedule (``after_epoch=N``): after the N-th epoch and every later one. Zaremba et al.
  2014 (small PTB model): ``factor=0.5, after_epoch=4``, so epochs 1-4 run at the initial rate,
  epoch 5 at half of it, epoch 6 at a quarter, ...;
- a plateau rule (``on_plateau=True``): after each validation that did not improve on the best
  one so far. PyTorch's ``word_language_model`` example divides by 4 (``factor=0.25``).

An epoch that meets both rules decays once. Unlike ``TrainerConfig(scheduler=...)`` this acts
only at epoch ends, so it fits the language models' "one batch per epoch" streams; do not combine
it with a per-step scheduler (both would set the rate).
"""

from __future__ import annotations

import math
from typing import Any


class LearningRateDecay:
    """Trainer callback: multiply the learning rate by ``factor`` at epoch ends (see the module).

    Args:
        factor: the multiplier, in (0, 1).
        after_epoch: decay after this epoch (counted from 1) and every later one (``None``: no
            fixed schedule).
        on_plateau: also decay after every validation of ``monitor`` that is not better than the
            best so far (a non-finite value counts as not better).
        monitor: the validation metric of the epoch record (``"val_loss"``).
        mode: ``"min"`` or ``"max"``.
        min_lr: the rate never goes below this.

    Attributes:
        decays: how many times the rate was multiplied; best: the best monitored value so far.

    Example:
        >>> zaremba = LearningRateDecay(0.5, after_epoch=4)
        >>> rnnkit.Trainer(optimizer="sgd", lr=20, max_epochs=13, callbacks=[zaremba])  # doctest: +SKIP
    """

    def __init__(self, factor: float = 0.5, *, after_epoch: int | None = None, on_plateau: bool = False,
                 monitor: str = "val_loss", mode: str = "min", min_lr: float = 0.0) -> None:
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < 1:
            raise ValueError(f"factor: expected a number in (0, 1), got {factor!r}")
        if after_epoch is not None and (isinstance(after_epoch, bool) or not isinstance(after_epoch, int)
                                        or after_epoch < 1):
            raise ValueError(f"after_epoch: expected an integer >= 1 or None, got {after_epoch!r}")
        if after_epoch is None and not on_plateau:
            raise ValueError("after_epoch/on_plateau: give after_epoch=N, on_plateau=True or both; "
                             "got neither, so the rate would never decay")
        if mode not in ("min", "max"):
            raise ValueError(f"mode: expected 'min' or 'max', got {mode!r}")
        if isinstance(min_lr, bool) or not isinstance(min_lr, (int, float)) or not (
                math.isfinite(min_lr) and min_lr >= 0):
            raise ValueError(f"min_lr: expected a finite number >= 0, got {min_lr!r}")
        self.factor, self.after_epoch, self.on_plateau = float(factor), after_epoch, bool(on_plateau)
        self.monitor, self.mode, self.min_lr = monitor, mode, float(min_lr)
        self.best: float | None = None
        self.decays = 0

    def _plateau(self, record: dict[str, Any]) -> bool:
        """Whether this epoch's validation did not improve (and remember the best)."""
        value = record.get(self.monitor)
        if value is None:  # the epoch did not validate
            return False
        value = float(value)
        if math.isfinite(value) and (self.best is None or (
                value < self.best if self.mode == "min" else value > self.best)):
            self.best = value
            return False
        return True

    def on_epoch_end(self, trainer: Any, epoch: int, record: dict[str, Any]) -> None:
        scheduled = self.after_epoch is not None and epoch + 1 >= self.after_epoch
        stalled = self._plateau(record) if self.on_plateau else False
        if scheduled or stalled:
            for group in trainer.optimizer.param_groups:
                group["lr"] = max(group["lr"] * self.factor, self.min_lr)
            self.decays += 1

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "decays": self.decays}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.decays = state.get("best"), int(state.get("decays", 0))


__all__ = ["LearningRateDecay"]
