"""Convolutional front ends that compose in front of any ``Recurrent`` (CRNN).

A front end turns a sequence into a shorter sequence of features: :class:`Conv1dFrontEnd` convolves
along time (feature vectors per step), :class:`Conv2dFrontEnd` convolves a time-frequency map
(a spectrogram, or an image read column by column as in Shi, Bai & Yao 2017, "An End-to-End
Trainable Neural Network for Image-based Sequence Recognition") and flattens the remaining
frequency axis into features. :class:`CRNN` runs a front end, then a ``Recurrent``.

Lengths are carried through: padded steps are zeroed before every convolution and again before
every pooling, so a padded sequence gives the same valid features as the same sequence alone
(a max over ReLU outputs and zeros equals the max over the real steps), and each max-pooling (in
``ceil`` mode) maps a length ``L`` to ``ceil(L / pool)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnnkit.cells.base import State
from rnnkit.layers.inputs import check_lengths
from rnnkit.layers.recurrent import Recurrent


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or any(not isinstance(v, int) or v < 1 for v in pair):
        raise ValueError(f"{name}: expected a positive int or a pair of them, got {value!r}")
    return pair


def _channels(channels: Sequence[int]) -> tuple[int, ...]:
    channels = tuple(channels)
    if not channels or any(not isinstance(c, int) or c < 1 for c in channels):
        raise ValueError(f"channels: expected a non-empty sequence of positive ints, got {channels!r}")
    return channels


def _odd(kernel: tuple[int, ...]) -> tuple[int, ...]:
    if any(k % 2 == 0 for k in kernel):
        raise ValueError(f"kernel_size: expected odd sizes (for 'same' padding), got {kernel}")
    return kernel


def _zero_padding(x: Tensor, lengths: Tensor | None, time_dim: int) -> Tensor:
    if lengths is None:
        return x
    valid = torch.arange(x.shape[time_dim], device=x.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
    shape = [x.shape[0]] + [1] * (x.dim() - 1)
    shape[time_dim] = x.shape[time_dim]
    return x * valid.view(shape).to(x.dtype)


def _pooled_lengths(lengths: Tensor | None, pool: int) -> Tensor | None:
    return None if lengths is None else torch.div(lengths + pool - 1, pool, rounding_mode="floor")


class _FrontEnd(nn.Module):
    """Shared forward of the front ends: conv -> ReLU -> max-pool per block, with lengths."""

    time_dim: int
    time_pool: int
    convs: nn.ModuleList  # each: convolution then ReLU
    pools: nn.ModuleList  # each: max-pooling (or identity)

    def output_lengths(self, lengths: Tensor | list[int]) -> Tensor:
        """Lengths of the feature sequences for input lengths (``ceil(L / pool)`` per block)."""
        lengths = torch.as_tensor(lengths)
        for _ in self.convs:
            lengths = _pooled_lengths(lengths, self.time_pool)
        return lengths

    def _run(self, x: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor | None]:
        for conv, pool in zip(self.convs, self.pools, strict=True):
            x = conv(_zero_padding(x, lengths, self.time_dim))
            x = pool(_zero_padding(x, lengths, self.time_dim))
            lengths = _pooled_lengths(lengths, self.time_pool)
        return _zero_padding(x, lengths, self.time_dim), lengths


class Conv1dFrontEnd(_FrontEnd):
    """1-D convolutions along time with max-pooling: ``(B, T, F) -> (B, ceil(T / pool**n), channels[-1])``.

    Each block: ``Conv1d(kernel_size, 'same' padding) -> ReLU -> MaxPool1d(pool, ceil_mode=True)``.

    Args:
        input_size: features ``F`` per step.
        channels: output channels of each block (its length is the number of blocks ``n``).
        kernel_size: odd kernel size along time.
        pool: time pooling per block (1: none).

    Example:
        >>> front = Conv1dFrontEnd(13, (32, 32), pool=2)
        >>> feats, lengths = front(torch.randn(2, 100, 13), torch.tensor([100, 37]))
        >>> feats.shape, lengths.tolist()
        (torch.Size([2, 25, 32]), [25, 10])
    """

    time_dim = 2

    def __init__(self, input_size: int, channels: Sequence[int], *, kernel_size: int = 3, pool: int = 2) -> None:
        super().__init__()
        channels = _channels(channels)
        (kernel,) = _odd((kernel_size,))
        self.input_size, self.output_size, self.time_pool = input_size, channels[-1], pool
        convs, previous = [], input_size
        for out in channels:
            convs.append(nn.Sequential(nn.Conv1d(previous, out, kernel, padding=kernel // 2), nn.ReLU()))
            previous = out
        self.convs = nn.ModuleList(convs)
        self.pools = nn.ModuleList(
            [nn.MaxPool1d(pool, ceil_mode=True) if pool > 1 else nn.Identity() for _ in channels]
        )

    def forward(self, x: Tensor, lengths: Tensor | list[int] | None = None) -> tuple[Tensor, Tensor | None]:
        """Features ``(B, T', C)`` and their lengths (``None`` when ``lengths`` is ``None``)."""
        if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[-1] != self.input_size:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x: expected (batch, time, input_size={self.input_size}), got {got}")
        lengths = None if lengths is None else torch.as_tensor(lengths, device=x.device)
        out, lengths = self._run(x.transpose(1, 2), lengths)
        return out.transpose(1, 2), lengths


class Conv2dFrontEnd(_FrontEnd):
    """2-D convolutions over a time-frequency map with pooling, flattened to features per step.

    ``(B, T, F)`` (one channel) or ``(B, T, C, F)`` -> ``(B, T', channels[-1] * F')`` with
    ``T' = ceil(T / pool_t**n)`` and ``F' = ceil(F / pool_f**n)``. Each block:
    ``Conv2d(kernel_size, 'same') -> ReLU -> MaxPool2d((pool_t, pool_f), ceil_mode=True)``.

    Args:
        input_size: frequency bins ``F`` (the last axis).
        channels: output channels of each block.
        in_channels: input channels ``C`` (1: the input is ``(B, T, F)``).
        kernel_size: odd kernel size (int or (time, frequency)).
        pool: pooling (int or (time, frequency)).

    Example:
        >>> front = Conv2dFrontEnd(40, (16, 32), pool=(2, 2))
        >>> feats, _ = front(torch.randn(2, 50, 40))
        >>> feats.shape, front.output_size
        (torch.Size([2, 13, 320]), 320)
    """

    time_dim = 2

    def __init__(
        self,
        input_size: int,
        channels: Sequence[int],
        *,
        in_channels: int = 1,
        kernel_size: int | tuple[int, int] = 3,
        pool: int | tuple[int, int] = 2,
    ) -> None:
        super().__init__()
        channels = _channels(channels)
        kernel = _odd(_pair(kernel_size, "kernel_size"))
        pool_t, pool_f = _pair(pool, "pool")
        self.input_size, self.in_channels, self.time_pool = input_size, in_channels, pool_t
        convs, previous, freq = [], in_channels, input_size
        for out in channels:
            padding = (kernel[0] // 2, kernel[1] // 2)
            convs.append(nn.Sequential(nn.Conv2d(previous, out, kernel, padding=padding), nn.ReLU()))
            previous, freq = out, -(-freq // pool_f)
        self.convs = nn.ModuleList(convs)
        pooled = (pool_t, pool_f) != (1, 1)
        self.pools = nn.ModuleList(
            [nn.MaxPool2d((pool_t, pool_f), ceil_mode=True) if pooled else nn.Identity() for _ in channels]
        )
        self.output_size = channels[-1] * freq

    def forward(self, x: Tensor, lengths: Tensor | list[int] | None = None) -> tuple[Tensor, Tensor | None]:
        """Features ``(B, T', C' * F')`` and their lengths (``None`` when ``lengths`` is ``None``)."""
        expected = (3, self.input_size) if self.in_channels == 1 else (4, self.input_size)
        if not isinstance(x, Tensor) or (x.dim(), x.shape[-1]) != expected or (
            self.in_channels > 1 and x.shape[2] != self.in_channels
        ):
            layout = "(batch, time, freq)" if self.in_channels == 1 else f"(batch, time, {self.in_channels}, freq)"
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x: expected {layout} with freq={self.input_size}, got {got}")
        lengths = None if lengths is None else torch.as_tensor(lengths, device=x.device)
        image = x.unsqueeze(1) if self.in_channels == 1 else x.transpose(1, 2)  # (B, C, T, F)
        out, lengths = self._run(image, lengths)
        return out.permute(0, 2, 1, 3).flatten(2), lengths


class CRNN(nn.Module):
    """A convolutional front end followed by any ``Recurrent`` (composition, no new options).

    Args:
        front_end: a :class:`Conv1dFrontEnd`, :class:`Conv2dFrontEnd` or any module
            ``(x, lengths) -> (features, lengths)`` with an ``output_size``.
        recurrent: the ``Recurrent`` reading the features (batch-first, ``input_size`` = the front
            end's ``output_size``).

    Example:
        >>> crnn = CRNN(Conv1dFrontEnd(13, (32,)), Recurrent("gru", 32, 64, bidirectional=True))
        >>> out, state = crnn(torch.randn(2, 100, 13), lengths=torch.tensor([100, 60]))
        >>> out.shape, crnn.output_lengths(torch.tensor([100, 60])).tolist()
        (torch.Size([2, 50, 128]), [50, 30])
    """

    def __init__(self, front_end: nn.Module, recurrent: Recurrent) -> None:
        super().__init__()
        if getattr(front_end, "output_size", None) != recurrent.input_size:
            raise ValueError(
                f"recurrent: expected input_size={getattr(front_end, 'output_size', None)} (the front end's "
                f"output_size), got {recurrent.input_size}"
            )
        if not recurrent.batch_first:
            raise ValueError("recurrent: expected batch_first=True (the front end emits (batch, time, features))")
        self.front_end = front_end
        self.recurrent = recurrent

    def output_lengths(self, lengths: Tensor | list[int]) -> Tensor:
        """Lengths of the output sequences for the given input lengths."""
        return self.front_end.output_lengths(lengths)

    def forward(
        self, x: Tensor, state: State | None = None, lengths: Tensor | list[int] | None = None
    ) -> tuple[Tensor, State]:
        """``(output, state)`` of the recurrent layer over the front end's features (see ``Recurrent``)."""
        if lengths is not None and not torch.compiler.is_exporting():  # (values cannot be checked in a graph)
            batch = x.shape[0] if isinstance(x, Tensor) else 0
            steps = x.shape[1] if isinstance(x, Tensor) and x.dim() > 1 else 0
            lengths = check_lengths(lengths, batch=batch, steps=steps, device=x.device)
        features, lengths = self.front_end(x, lengths)
        return self.recurrent(features, state, lengths)
