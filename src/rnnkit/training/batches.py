"""Helpers over batches (a tensor, a tuple/list or a dict of tensors) and recurrent states."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor


def map_tensors(fn: Any, value: Any) -> Any:
    """Apply ``fn`` to every tensor inside nested tuples, lists, dicts and NamedTuples."""
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(map_tensors(fn, v) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(map_tensors(fn, v) for v in value)
    if isinstance(value, Mapping):
        return {k: map_tensors(fn, v) for k, v in value.items()}
    return value


def tensors_in(value: Any, prefix: str = "batch") -> list[tuple[str, Tensor]]:
    """``(path, tensor)`` pairs of every tensor in ``value``, in order (``batch[0]``, ``batch['x']``)."""
    if isinstance(value, Tensor):
        return [(prefix, value)]
    if isinstance(value, (tuple, list)):
        return [pair for i, v in enumerate(value) for pair in tensors_in(v, f"{prefix}[{i}]")]
    if isinstance(value, Mapping):
        return [pair for k, v in value.items() for pair in tensors_in(v, f"{prefix}[{k!r}]")]
    return []


def describe(value: Any) -> str:
    """A short description of a batch's structure, for error messages."""
    parts = [f"{path}: {tuple(t.shape)} {str(t.dtype).replace('torch.', '')}" for path, t in tensors_in(value)]
    return ", ".join(parts) if parts else type(value).__name__


def batch_size(batch: Any) -> int:
    """Examples in a batch: the first dimension of its tensors, which must agree.

    Raises:
        ValueError: the batch holds no tensor, a 0-d tensor, or tensors with different first dimensions.
    """
    pairs = tensors_in(batch)
    if not pairs:
        raise ValueError(f"batch: expected a tensor, or a tuple/list/dict of tensors, got {describe(batch)}")
    sizes = {path: (t.shape[0] if t.dim() else None) for path, t in pairs}
    if None in sizes.values():
        path = next(p for p, s in sizes.items() if s is None)
        raise ValueError(
            f"batch: {path} is a 0-d tensor; every tensor needs a batch dimension first ({describe(batch)})"
        )
    if len(set(sizes.values())) > 1:
        raise ValueError(f"batch: tensors disagree on the batch size (first dimension): {describe(batch)}")
    return next(iter(sizes.values()))


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a batch to ``device`` (non-blocking where possible)."""
    return map_tensors(lambda t: t.to(device, non_blocking=True), batch)


def detach_state(state: Any) -> Any:
    """Cut a recurrent state from the graph (truncated BPTT between chunks)."""
    return map_tensors(lambda t: t.detach(), state)


def sequence_length(batch: Any) -> int:
    """Time steps of a batch-first batch: dimension 1 of its tensors with at least two dimensions.

    Raises:
        ValueError: no such tensor, or they disagree (define ``model.sequence_length`` / ``time_slice``).
    """
    lengths = {path: t.shape[1] for path, t in tensors_in(batch) if t.dim() >= 2}
    if not lengths or len(set(lengths.values())) > 1:
        raise ValueError(
            "tbptt: cannot split this batch along time: expected batch-first tensors (B, T, ...) that share T, "
            f"got {describe(batch)}; define model.time_slice(batch, start, stop) and model.sequence_length(batch)"
        )
    return next(iter(lengths.values()))


def time_slice(batch: Any, start: int, stop: int) -> Any:
    """Steps ``[start, stop)`` of every tensor with at least two dimensions (dimension 1); others whole."""
    return map_tensors(lambda t: t[:, start:stop] if t.dim() >= 2 else t, batch)
