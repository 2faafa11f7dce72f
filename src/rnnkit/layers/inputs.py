"""Checks of what users pass to the layers, with messages that name the argument,
the expected value and the received one (never a stack trace from deep inside torch)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rnnkit.cells.base import State, state_tensors


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def check_sequence_input(x: object, *, input_size: int, batch_first: bool, feature_axes: int = 1) -> Tensor:
    """Check a batched sequence input: a floating-point tensor ``(B, T, I)`` (or ``(T, B, I)``).

    With ``feature_axes=3`` (spatial cells) each step is an image: ``(B, T, C, H, W)`` with
    ``C = input_size``.
    """
    features = "input_size" if feature_axes == 1 else "channels, height, width"
    layout = f"(batch, time, {features})" if batch_first else f"(time, batch, {features})"
    if not isinstance(x, Tensor):
        raise TypeError(f"x: expected a torch.Tensor {layout}, got {type(x).__name__}")
    if not (x.is_floating_point() or x.is_complex()):
        raise TypeError(
            f"x: expected a floating-point tensor, got dtype {x.dtype} (convert with x.float(); "
            "token ids need an nn.Embedding first)"
        )
    rank = 2 + feature_axes
    if x.dim() != rank:
        raise ValueError(f"x: expected a {rank}-D tensor {layout} with input_size={input_size}, got shape {_shape(x)}")
    if x.shape[2] != input_size:
        where = "last dimension" if feature_axes == 1 else "channel dimension (dim 2)"
        raise ValueError(f"x: expected input_size={input_size} features in the {where}, got shape {_shape(x)}")
    if x.shape[1 if batch_first else 0] == 0 and x.shape[0 if batch_first else 1] > 0:
        raise ValueError(f"x: the time dimension is empty (shape {_shape(x)}); give at least one step")
    return x


def check_lengths(lengths: object, *, batch: int, steps: int, device: torch.device) -> Tensor | None:
    """Check ``lengths`` and return it as an int64 tensor on ``device``, or ``None`` when all are ``steps``.

    Accepts a list/tuple of ints or an integer tensor of shape ``(batch,)`` on the CPU or on ``device``;
    every value must lie in ``[1, steps]``.
    """
    if lengths is None:
        return None
    if isinstance(lengths, (list, tuple)):
        lengths = torch.as_tensor(lengths)
    if not isinstance(lengths, Tensor):
        raise TypeError(
            f"lengths: expected a tensor or list of ints of shape ({batch},), got {type(lengths).__name__}"
        )
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"lengths: expected integers, got dtype {lengths.dtype}")
    if lengths.device.type != "cpu" and lengths.device != device:
        raise ValueError(
            f"lengths: expected a tensor on the CPU or on the input's device {device}, got {lengths.device}"
        )
    if lengths.shape != (batch,):
        raise ValueError(f"lengths: expected shape ({batch},) (one per sequence), got {_shape(lengths)}")
    if batch == 0:
        return None
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1:
        raise ValueError(f"lengths: every length must be >= 1, got a minimum of {low}")
    if high > steps:
        raise ValueError(f"lengths: every length must be <= the time dimension {steps}, got a maximum of {high}")
    if low == steps:
        return None  # all full: skip masking entirely
    return lengths.to(device=device, dtype=torch.long)


def lengths_from_mask(mask: object, *, batch: int, steps: int) -> Tensor:
    """Turn a right-padded boolean mask ``(batch, time)`` (True = real step) into lengths."""
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        raise TypeError(f"mask: expected a bool tensor of shape ({batch}, {steps}), got {mask!r:.60}")
    if mask.shape != (batch, steps):
        raise ValueError(f"mask: expected shape ({batch}, {steps}), got {_shape(mask)}")
    lengths = mask.sum(1)
    expected = torch.arange(steps, device=mask.device).unsqueeze(0) < lengths.unsqueeze(1)
    if not torch.equal(expected, mask):
        raise ValueError("mask: expected right padding (True for the first L_b steps of each row, then False)")
    return lengths


def check_state(
    state: State,
    *,
    expected: Sequence[tuple[int, ...]],
    names: Sequence[str],
    dtype: torch.dtype,
    device: torch.device,
) -> None:
    """Check a stacked state against the expected shape of each tensor."""
    tensors = state_tensors(state) if isinstance(state, (Tensor, tuple, list)) else None
    if tensors is None or len(tensors) != len(expected) or not all(isinstance(t, Tensor) for t in tensors):
        want = "a tensor" if len(expected) == 1 else f"a tuple of {len(expected)} tensors ({', '.join(names)})"
        raise TypeError(f"state: expected {want}, got {type(state).__name__}")
    for name, tensor, shape in zip(names, tensors, expected, strict=True):
        label = "state" if len(expected) == 1 else f"state.{name}"
        if tuple(tensor.shape) != tuple(shape):
            raise ValueError(f"{label}: expected shape {tuple(shape)}, got {_shape(tensor)}")
        if tensor.dtype != dtype or tensor.device != device:
            raise ValueError(
                f"{label}: expected dtype {dtype} on {device} (like the input), got {tensor.dtype} on {tensor.device}"
            )
