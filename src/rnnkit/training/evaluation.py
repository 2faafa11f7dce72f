"""Validation and prediction loops: no gradients, metrics averaged by batch size across processes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.training.batches import batch_size, describe, to_device
from rnnkit.training.data import Batches
from rnnkit.training.distributed import Distributed


class BatchError(ValueError):
    """The model could not process a batch (wrong shapes or types from the data)."""


def evaluate_batches(model: nn.Module, batches: Batches, *, device: torch.device, autocast: Callable[[], Any],
                     dist: Distributed) -> dict[str, float]:
    """Mean of each ``validation_step`` metric over all examples (of all processes)."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    count = 0
    try:
        with torch.no_grad(), autocast():
            for index, batch in enumerate(batches.epoch(0)):
                try:
                    n = batch_size(batch)
                    metrics = model.validation_step(to_device(batch, device))
                except (RuntimeError, ValueError, TypeError, IndexError) as error:
                    raise BatchError(f"validation_step failed on batch {index} ({describe(batch)}): {error}") from error
                if not isinstance(metrics, dict):
                    raise TypeError(f"validation_step: expected a dict of metrics, got {type(metrics).__name__}")
                for key, value in metrics.items():
                    sums[key] = sums.get(key, 0.0) + float(value) * n
                count += n
    finally:
        model.train(was_training)
    keys = sorted(sums)
    totals = dist.sum(torch.tensor([sums[k] for k in keys] + [count], dtype=torch.float64))
    if totals[-1] == 0:
        raise ValueError("val_data: it yielded no examples")
    return {key: float(totals[i] / totals[-1]) for i, key in enumerate(keys)}


def predict_batches(model: nn.Module, batches: Batches, *, device: torch.device, autocast: Callable[[], Any]) -> Any:
    """``predict_step`` (or ``model(batch)``) over every batch; tensors are concatenated."""
    step = getattr(model, "predict_step", model)
    outputs = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), autocast():
            for batch in batches.epoch(0):
                out = step(to_device(batch, device))
                outputs.append(out.cpu() if isinstance(out, Tensor) else out)
    finally:
        model.train(was_training)
    if outputs and all(isinstance(o, Tensor) for o in outputs):
        return torch.cat(outputs)
    return outputs
