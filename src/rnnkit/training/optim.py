"""Optimizers and learning-rate schedules by name (or a factory), as :class:`TrainerConfig` describes them."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from rnnkit.training.config import TrainerConfig

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


def build_optimizer(config: TrainerConfig, parameters: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """The optimizer ``config.optimizer`` names (or its factory builds) over ``parameters``."""
    factory = _OPTIMIZERS[config.optimizer] if isinstance(config.optimizer, str) else config.optimizer
    try:
        optimizer = factory(list(parameters), lr=config.lr, weight_decay=config.weight_decay,
                            **config.optimizer_options)
    except TypeError as error:
        raise ValueError(
            f"optimizer_options: {config.optimizer!r} rejected {config.optimizer_options}: {error}"
        ) from None
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer: the factory returned {type(optimizer).__name__}, not a torch.optim.Optimizer")
    return optimizer


def build_scheduler(
    config: TrainerConfig, optimizer: torch.optim.Optimizer, total_steps: int | None
) -> torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau | None:
    """The schedule ``config.scheduler`` names.

    ``"cosine"`` and ``"one-cycle"`` advance once per optimizer step over ``total_steps``;
    ``"reduce-on-plateau"`` advances after each validation on ``config.monitor``.
    """
    name, options = config.scheduler, dict(config.scheduler_options)
    if name is None:
        return None
    try:
        if name == "reduce-on-plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=config.monitor_mode, **options)
        if total_steps is None:
            raise ValueError(
                f"scheduler: {name!r} needs the run's length; set max_steps (the training data has no length)"
            )
        if name == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps, **options)
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total_steps, **options)
    except TypeError as error:
        raise ValueError(f"scheduler_options: {name!r} rejected {config.scheduler_options}: {error}") from None
