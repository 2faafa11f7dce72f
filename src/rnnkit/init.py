"""Initialisations of recurrent weights and gate biases, for one cell or every cell in a module.

Each function works in place on every :class:`~rnnkit.cells.RecurrentCell` inside ``module`` (a
cell, a ``Recurrent`` or a whole model) and returns ``module``:

* :func:`orthogonal_recurrent_` — each gate's block of the recurrent matrix orthogonal (Saxe et
  al. 2014): all its singular values are 1, so a linear recurrence neither grows nor shrinks.
* :func:`identity_recurrent_` — each block the identity (Le et al. 2015, IRNN; for IndRNN ``u = 1``;
  for convolutional cells a kernel that passes each channel through at its centre).
* :func:`chrono_` — chrono initialisation of the gate biases (Tallec & Ollivier 2018):
  forget-gate bias ``log U(1, T_max - 1)`` and input-gate bias its negative, so that the memory
  time constants ``1 / (1 - sigma(b_f))`` spread over ``[2, T_max]``.

Example:
    >>> layer = rnnkit.Recurrent("lstm", 8, 32, num_layers=2)
    >>> _ = rnnkit.init.orthogonal_recurrent_(layer)
    >>> _ = rnnkit.init.chrono_(layer, max_timescale=1000)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells import (
    ConvGRUCell,
    ConvLSTMCell,
    GRUCell,
    IndRNNCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    MinGRUCell,
    MinLSTMCell,
    RecurrentCell,
)


def _cells(module: nn.Module, function: str) -> list[RecurrentCell]:
    cells = [m for m in module.modules() if isinstance(m, RecurrentCell)]
    if not cells:
        raise ValueError(f"{function}: module contains no RecurrentCell (got {type(module).__name__})")
    return cells


def _blocks(cell: RecurrentCell, function: str) -> list[Tensor]:
    """Gate blocks of ``weight_hh`` as views: rows of ``hidden_size`` (per head for sLSTM's 3-D weight)."""
    weight = getattr(cell, "weight_hh", None)
    if not isinstance(weight, Tensor) or weight.dim() < 2:
        raise ValueError(f"{function}: {type(cell).__name__} has no recurrent weight matrix weight_hh")
    if weight.dim() == 3:  # (heads, gates * head, head): square blocks per head
        return [block for head in weight for block in head.split(head.shape[-1])]
    return list(weight.split(cell.hidden_size))


@torch.no_grad()
def orthogonal_recurrent_(module: nn.Module, *, gain: float = 1.0) -> nn.Module:
    """Make each gate block of every cell's recurrent matrix (semi-)orthogonal, times ``gain``.

    Args:
        module: a cell or any module holding cells (Elman, LSTM, GRU, layer-norm cells, sLSTM).
        gain: scale of the blocks.

    Returns:
        ``module``. Cells without a dense recurrent matrix (IndRNN's diagonal, convolution
        kernels, minGRU/minLSTM/LRU) raise ``ValueError``.
    """
    for cell in _cells(module, "orthogonal_recurrent_"):
        weight = getattr(cell, "weight_hh", None)
        if isinstance(weight, Tensor) and weight.dim() == 4:
            raise ValueError(
                f"orthogonal_recurrent_: {type(cell).__name__}'s recurrent weight is a convolution kernel; "
                "use identity_recurrent_"
            )
        for block in _blocks(cell, "orthogonal_recurrent_"):
            nn.init.orthogonal_(block, gain=gain)
    return module


@torch.no_grad()
def identity_recurrent_(module: nn.Module, *, scale: float = 1.0) -> nn.Module:
    """Set each gate block of every cell's recurrent weight to ``scale`` times the identity (Le et al. 2015).

    IndRNN's diagonal becomes ``scale`` everywhere; a convolution kernel gets ``scale`` at its centre
    tap from channel ``j`` to channel ``j`` and zeros elsewhere.

    Args:
        module: a cell or any module holding cells.
        scale: the identity's scale (Le et al. use 1 for ReLU RNNs).

    Returns:
        ``module``.
    """
    for cell in _cells(module, "identity_recurrent_"):
        weight = getattr(cell, "weight_hh", None)
        if isinstance(cell, IndRNNCell):
            weight.fill_(scale)
        elif isinstance(weight, Tensor) and weight.dim() == 4:
            weight.zero_()
            rows, cols = weight.shape[2] // 2, weight.shape[3] // 2
            for block in weight.split(cell.hidden_size):
                block[:, :, rows, cols] = scale * torch.eye(*block.shape[:2], dtype=block.dtype, device=block.device)
        else:
            for block in _blocks(cell, "identity_recurrent_"):
                nn.init.eye_(block)
                block.mul_(scale)
    return module


def _chrono_biases(max_timescale: float, size: int, like: Tensor) -> Tensor:
    # Tallec & Ollivier (2018): b_f ~ log(U([1, T_max - 1])).
    return torch.log(torch.empty(size, dtype=like.dtype, device=like.device).uniform_(1.0, max_timescale - 1.0))


@torch.no_grad()
def chrono_(module: nn.Module, *, max_timescale: float) -> nn.Module:
    """Chrono initialisation of the gate biases (Tallec & Ollivier 2018).

    With ``u ~ U(1, T_max - 1)`` per unit: the gate that keeps memory gets bias ``log u`` (so, at
    zero input, it keeps ``sigma(log u) = u / (1 + u)`` per step: time constant ``1 + u``) and the
    input gate, where there is one, ``-log u``. Keep gates: LSTM's forget gate, GRU's ``z`` (torch
    convention ``h = (1 - z) n + z h``), minGRU's ``1 - z``, minLSTM's ``f`` (then ``f' = f``).
    Other biases of those gates' recurrent path are zeroed so the sum is exact.

    Args:
        module: a cell or any module holding LSTM, GRU, layer-norm, conv, minGRU or minLSTM cells.
        max_timescale: ``T_max``, the longest dependency expected, > 2.

    Returns:
        ``module``.
    """
    if not max_timescale > 2:
        raise ValueError(f"max_timescale: expected a number > 2, got {max_timescale!r}")
    for cell in _cells(module, "chrono_"):
        h = cell.hidden_size
        if isinstance(cell, (LSTMCell, ConvLSTMCell, LayerNormLSTMCell, MinLSTMCell)):
            bias = cell.bias if isinstance(cell, LayerNormLSTMCell) else cell.bias_ih
            if isinstance(cell, MinLSTMCell):
                keep, inp = slice(0, h), slice(h, 2 * h)  # its rows: f, i, candidate
            else:
                inp, keep = slice(0, h), slice(h, 2 * h)  # torch's gate order: i, f, g, o
            _require_bias(cell, bias)
            forget = _chrono_biases(max_timescale, h, bias)
            bias[keep] = forget
            bias[inp] = -forget
            if getattr(cell, "bias_hh", None) is not None:
                cell.bias_hh[: 2 * h] = 0.0
        elif isinstance(cell, (GRUCell, LayerNormGRUCell, ConvGRUCell)):
            _require_bias(cell, cell.bias_ih)
            cell.bias_ih[h : 2 * h] = _chrono_biases(max_timescale, h, cell.bias_ih)
            if getattr(cell, "bias_hh", None) is not None:
                cell.bias_hh[h : 2 * h] = 0.0
        elif isinstance(cell, MinGRUCell):
            _require_bias(cell, cell.bias_ih)
            cell.bias_ih[:h] = -_chrono_biases(max_timescale, h, cell.bias_ih)  # keep = 1 - z = sigma(-k)
        else:
            raise ValueError(
                f"chrono_: {type(cell).__name__} is not supported (supported: LSTM, GRU, layer-norm, conv, minGRU "
                "and minLSTM cells)"
            )
    return module


def _require_bias(cell: RecurrentCell, bias: Tensor | None) -> None:
    if bias is None:
        raise ValueError(f"chrono_: {type(cell).__name__} was built with bias=False; chrono sets gate biases")


__all__ = ["chrono_", "identity_recurrent_", "orthogonal_recurrent_"]
