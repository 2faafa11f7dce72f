"""``TrainerConfig``: every option of :class:`rnnkit.Trainer`, one dataclass field each.

The CLI and YAML/TOML files map 1:1 onto these fields (``rnnkit train --max-epochs 5`` sets
``max_epochs``); unknown names are rejected with the closest valid one suggested.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULERS = ("cosine", "one-cycle", "reduce-on-plateau")
PRECISIONS = ("32", "bf16-mixed")


@dataclass
class TrainerConfig:
    """Options of :class:`rnnkit.Trainer`.

    Args:
        max_epochs: passes over the training data (``None``: until ``max_steps``).
        max_steps: optimizer steps in all (``None``: until ``max_epochs``); whichever comes first stops.
        batch_size: examples per batch (per process under DDP) when a ``Dataset`` is given.
        shuffle: reshuffle a ``Dataset`` every epoch (seeded by ``seed`` and the epoch).
        drop_last: drop a final incomplete batch of a ``Dataset``.
        num_workers: DataLoader worker processes for a ``Dataset``.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"`` or a factory called as
            ``factory(params, lr=lr, weight_decay=weight_decay, **optimizer_options)``
            (for example ``torch.optim.NAdam``).
        lr: learning rate (the peak rate for ``"one-cycle"``).
        weight_decay: weight decay passed to the optimizer.
        optimizer_options: further optimizer keyword arguments (``{"momentum": 0.9}``).
        scheduler: ``None``, ``"cosine"`` (to 0 over the run, per step), ``"one-cycle"`` (per
            step) or ``"reduce-on-plateau"`` (on ``monitor``, after each validation).
        scheduler_options: further scheduler keyword arguments (``{"factor": 0.5}``).
        accumulate_grad_batches: micro-batches whose gradients are summed per optimizer step.
        clip_grad_norm: clip the global gradient 2-norm to this value (``None``: no clipping; the
            norm is recorded every step either way).
        clip_grad_value: clip every gradient element to ``[-v, v]``.
        precision: ``"32"`` or ``"bf16-mixed"`` (autocast to bfloat16 on CPU or GPU; weights stay float32).
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``…
        monitor: validation metric for the best checkpoint, early stopping and
            ``"reduce-on-plateau"`` (``"val_loss"`` is the mean of ``validation_step``'s ``"loss"``).
        monitor_mode: ``"min"`` or ``"max"``.
        early_stopping_patience: stop after this many validations without improvement (``None``: off).
        seed: seeds Python, NumPy, torch and the data order.
        deterministic: ``torch.use_deterministic_algorithms(True)`` during ``fit``.
        tbptt_steps: truncated BPTT: time steps per chunk (``k1``: one optimizer step per chunk).
        tbptt_backprop_steps: steps backpropagated per update (``k2``, a multiple of ``k1``;
            ``None`` = ``k1``). With ``k2 > k1`` each update re-runs the previous ``k2 - k1`` steps.
        output_dir: where checkpoints, logs, plots and the final model go (``None``: write nothing).
        keep_last_checkpoints: how many recent checkpoints to keep (0: none).
        save_best: also keep the checkpoint with the best ``monitor`` value (needs validation data).
        checkpoint_every_n_steps: also checkpoint every N optimizer steps (at batch boundaries);
            a checkpoint is always written at the end of each epoch.
        val_every_n_epochs: validate every N epochs.
        log_every_n_steps: write a CSV/TensorBoard row every N optimizer steps.
        progress_bar: ``True``, ``False`` or ``None`` (on when stderr is a terminal).
        tensorboard: also write TensorBoard event files (needs ``pip install rnnkit[tensorboard]``).
        plot: write ``training_curves.png`` at the end (needs matplotlib).
        max_nonfinite_steps: stop after this many consecutive steps with a non-finite loss or gradient.
        flush_denormal: during ``fit``, treat subnormal floats as zero on the CPU (where supported);
            they arise from saturated gates and slow CPU arithmetic about tenfold.
    """

    max_epochs: int | None = 10
    max_steps: int | None = None
    batch_size: int = 32
    shuffle: bool = True
    drop_last: bool = False
    num_workers: int = 0
    optimizer: str | Callable[..., Any] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    scheduler: str | None = None
    scheduler_options: dict[str, Any] = field(default_factory=dict)
    accumulate_grad_batches: int = 1
    clip_grad_norm: float | None = None
    clip_grad_value: float | None = None
    precision: str = "32"
    device: str = "auto"
    monitor: str = "val_loss"
    monitor_mode: str = "min"
    early_stopping_patience: int | None = None
    seed: int = 0
    deterministic: bool = False
    tbptt_steps: int | None = None
    tbptt_backprop_steps: int | None = None
    output_dir: str | None = None
    keep_last_checkpoints: int = 1
    save_best: bool = True
    checkpoint_every_n_steps: int | None = None
    val_every_n_epochs: int = 1
    log_every_n_steps: int = 10
    progress_bar: bool | None = None
    tensorboard: bool = False
    plot: bool = True
    max_nonfinite_steps: int = 10
    flush_denormal: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; errors name the field, what was expected and what came."""
        if self.max_epochs is None and self.max_steps is None:
            raise ValueError("max_epochs and max_steps: give at least one (both are None)")
        for name in ("max_epochs", "max_steps", "tbptt_steps", "tbptt_backprop_steps", "checkpoint_every_n_steps"):
            _check_int(name, getattr(self, name), minimum=1, optional=True)
        for name in ("batch_size", "accumulate_grad_batches", "val_every_n_epochs", "log_every_n_steps",
                     "max_nonfinite_steps"):
            _check_int(name, getattr(self, name), minimum=1)
        for name in ("num_workers", "keep_last_checkpoints", "seed"):
            _check_int(name, getattr(self, name), minimum=0)
        _check_int("early_stopping_patience", self.early_stopping_patience, minimum=0, optional=True)
        if isinstance(self.optimizer, str) and self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {OPTIMIZERS} or a factory, got {self.optimizer!r}")
        if not isinstance(self.optimizer, str) and not callable(self.optimizer):
            raise TypeError(f"optimizer: expected a name or a callable factory, got {type(self.optimizer).__name__}")
        if self.scheduler is not None and self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler: expected None or one of {SCHEDULERS}, got {self.scheduler!r}")
        if str(self.precision) not in PRECISIONS:
            raise ValueError(f"precision: expected one of {PRECISIONS}, got {self.precision!r}")
        self.precision = str(self.precision)
        if self.monitor_mode not in ("min", "max"):
            raise ValueError(f"monitor_mode: expected 'min' or 'max', got {self.monitor_mode!r}")
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: expected a non-negative number (finite), got {value!r}")
        for name in ("clip_grad_norm", "clip_grad_value"):
            value = getattr(self, name)
            if value is not None and (not _is_number(value) or not math.isfinite(value) or value <= 0):
                raise ValueError(f"{name}: expected a positive number or None (finite), got {value!r}")
        for name in ("shuffle", "drop_last", "deterministic", "save_best", "tensorboard", "plot", "flush_denormal"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name}: expected true or false, got {getattr(self, name)!r} "
                                f"({type(getattr(self, name)).__name__})")
        if self.progress_bar is not None and not isinstance(self.progress_bar, bool):
            raise TypeError(f"progress_bar: expected true, false or None, got {self.progress_bar!r}")
        for name in ("monitor", "device"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name}: expected a string, got {getattr(self, name)!r}")
        _check_device(self.device)
        if self.output_dir is not None:
            if not isinstance(self.output_dir, (str, os.PathLike)):
                raise TypeError(f"output_dir: expected a path or None, got {self.output_dir!r}")
            self.output_dir = os.fspath(self.output_dir)
        if self.tbptt_backprop_steps is not None:
            if self.tbptt_steps is None:
                raise ValueError("tbptt_backprop_steps: needs tbptt_steps (k1) as well")
            if self.tbptt_backprop_steps % self.tbptt_steps:
                raise ValueError(
                    f"tbptt_backprop_steps: expected a multiple of tbptt_steps={self.tbptt_steps} (k2 >= k1, "
                    f"Williams & Peng's BPTT(k2; k1)), got {self.tbptt_backprop_steps}"
                )
        for name in ("optimizer_options", "scheduler_options"):
            if not isinstance(getattr(self, name), dict):
                raise TypeError(f"{name}: expected a mapping, got {type(getattr(self, name)).__name__}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str = "trainer") -> TrainerConfig:
        """Build from a mapping, rejecting unknown keys with a suggestion."""
        check_keys(values, [f.name for f in fields(cls)], where=where)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able values (a factory optimizer is recorded by its qualified name)."""
        values = asdict(self)
        if not isinstance(self.optimizer, str):
            values["optimizer"] = f"{self.optimizer.__module__}.{getattr(self.optimizer, '__qualname__', '?')}"
        return values


def check_keys(values: Mapping[str, Any], valid: list[str], *, where: str) -> None:
    """Raise ``ValueError`` for the first unknown key, naming the closest valid one."""
    for key in values:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(valid)}"
            raise ValueError(f"{where}: unknown key {key!r}{hint}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_device(device: str) -> None:
    """``"auto"`` or a device string torch understands (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``)."""
    if device == "auto":
        return
    try:
        torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"device: expected 'auto', 'cpu', 'cuda', 'cuda:N' or another torch device, got {device!r}"
                         ) from None


def _check_int(name: str, value: Any, *, minimum: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        allowed = f"an integer >= {minimum}" + (" or None" if optional else "")
        raise ValueError(f"{name}: expected {allowed}, got {value!r}")
