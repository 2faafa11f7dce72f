"""The native backend: PyTorch's fused recurrent kernels (cuDNN on CUDA, ATen/oneDNN on CPU).

These are the kernels ``torch.nn.RNN/LSTM/GRU`` call. This module gives them a flat-weight,
``lengths``-aware interface so :class:`rnnkit.Recurrent` can use them for standard cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.cells.base import LSTMState, RecurrentCell, State
from rnnkit.cells.elman import ElmanCell
from rnnkit.cells.gru import GRUCell
from rnnkit.cells.lstm import LSTMCell

_KERNELS = {"lstm": torch.lstm, "gru": torch.gru, "rnn_tanh": torch.rnn_tanh, "rnn_relu": torch.rnn_relu}


def native_mode(cell: RecurrentCell) -> str | None:
    """Name of the fused kernel that computes exactly this cell, or ``None`` if there is none.

    Only the exact classes qualify: a subclass may change the step, and a fused kernel would
    silently ignore that.
    """
    kind = type(cell)
    if kind is LSTMCell:
        return "lstm"
    if kind is GRUCell:
        return "gru"
    if kind is ElmanCell:
        return f"rnn_{cell.nonlinearity}"
    return None


def flat_weights(cells: Sequence[RecurrentCell]) -> list[Tensor]:
    """Parameters in the order the fused kernels expect: per layer and direction,
    ``w_ih, w_hh[, b_ih, b_hh][, w_hr]``."""
    weights: list[Tensor] = []
    for cell in cells:
        weights += [cell.weight_ih, cell.weight_hh]
        if cell.bias:
            weights += [cell.bias_ih, cell.bias_hh]
        if getattr(cell, "weight_hr", None) is not None:
            weights.append(cell.weight_hr)
    return weights


def run_native(
    mode: str,
    x: Tensor,
    state: State,
    weights: list[Tensor],
    *,
    bias: bool,
    num_layers: int,
    bidirectional: bool,
    dropout: float = 0.0,
    training: bool = False,
    batch_first: bool = True,
    lengths: Tensor | None = None,
) -> tuple[Tensor, State]:
    """Run a stack of standard layers with one fused call.

    Args:
        mode: ``"lstm"``, ``"gru"``, ``"rnn_tanh"`` or ``"rnn_relu"`` (see :func:`native_mode`).
        x: input, ``(B, T, I)`` if ``batch_first`` else ``(T, B, I)``.
        state: stacked initial state ``(L * D, B, ...)``; an :class:`LSTMState` for ``"lstm"``.
        weights: :func:`flat_weights` of the cells in layer-major, direction-minor order.
        bias, num_layers, bidirectional, dropout, training, batch_first: as in ``torch.nn.LSTM``.
        lengths: ``(B,)`` valid lengths, or ``None``; sequences are packed for the kernel.

    Returns:
        ``(outputs, final_state)``; outputs past each sequence's end are zero.
    """
    kernel = _KERNELS[mode]
    hx = tuple(state) if mode == "lstm" else state
    options = (bias, num_layers, dropout, training, bidirectional)
    if lengths is None:
        out, *hidden = kernel(x, hx, weights, *options, batch_first)
    else:
        total = x.shape[1 if batch_first else 0]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=batch_first, enforce_sorted=False)
        order, restore = packed.sorted_indices, packed.unsorted_indices
        hx = tuple(h.index_select(1, order) for h in hx) if mode == "lstm" else hx.index_select(1, order)
        data, *hidden = kernel(packed.data, packed.batch_sizes, hx, weights, *options)
        out, _ = pad_packed_sequence(
            PackedSequence(data, packed.batch_sizes, order, restore), batch_first=batch_first, total_length=total
        )
        hidden = [h.index_select(1, restore) for h in hidden]
    return out, (LSTMState(*hidden) if mode == "lstm" else hidden[0])
