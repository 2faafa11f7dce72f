"""One streaming step per layer, bound once: the cheap path of ``Recurrent.step`` and length-1 calls.

A streaming caller (token-by-token generation, a live audio frame) pays Python overhead per step
that a whole-sequence call spreads over ``T`` steps. Here each layer's step is chosen once per
layer (:func:`step_plan`): exact Elman/LSTM/GRU cells call the ATen cell kernels that
``torch.nn.LSTMCell`` / ``GRUCell`` / ``RNNCell`` call (three ops per step instead of a dozen),
every other cell its own ``project_input`` + ``step``. The numbers are those of the same
equations, equal to a whole-sequence forward to rounding (``tests/layers/test_stepping.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rnnkit.backends.native import native_mode
from rnnkit.cells.base import LSTMState, RecurrentCell, State

#: ``(cell, x, state) -> (y, state)`` for one step of one layer.
StepFn = Callable[[RecurrentCell, Tensor, State], tuple[Tensor, State]]


def _lstm_step(cell: RecurrentCell, x: Tensor, state: State) -> tuple[Tensor, State]:
    h, c = torch.lstm_cell(x, state, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    return h, LSTMState(h, c)


def _gru_step(cell: RecurrentCell, x: Tensor, state: State) -> tuple[Tensor, State]:
    h = torch.gru_cell(x, state, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    return h, h


def _tanh_step(cell: RecurrentCell, x: Tensor, state: State) -> tuple[Tensor, State]:
    h = torch.rnn_tanh_cell(x, state, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    return h, h


def _relu_step(cell: RecurrentCell, x: Tensor, state: State) -> tuple[Tensor, State]:
    h = torch.rnn_relu_cell(x, state, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    return h, h


def _cell_step(cell: RecurrentCell, x: Tensor, state: State) -> tuple[Tensor, State]:
    return cell.step(cell.project_input(x), state)


_ATEN_STEPS: dict[str, StepFn] = {"lstm": _lstm_step, "gru": _gru_step, "rnn_tanh": _tanh_step, "rnn_relu": _relu_step}


def step_fn(cell: RecurrentCell) -> StepFn:
    """The function that advances ``cell`` by one step from an unprojected input.

    Args:
        cell: any cell.

    Returns:
        ATen's cell kernel for exact ``ElmanCell``/``LSTMCell``/``GRUCell`` (no projection), else
        ``cell.project_input`` followed by ``cell.step``.

    Example:
        >>> from rnnkit.cells import GRUCell
        >>> step_fn(GRUCell(2, 3)).__name__
        '_gru_step'
    """
    mode = native_mode(cell)
    if mode is None or getattr(cell, "weight_hr", None) is not None:
        return _cell_step
    return _ATEN_STEPS[mode]


def step_plan(cells: list[RecurrentCell]) -> list[tuple[StepFn, RecurrentCell]]:
    """One ``(step function, cell)`` pair per layer (module-level functions: the plan pickles and deep-copies)."""
    return [(step_fn(cell), cell) for cell in cells]


def state_matches(state: State, layers: int, batch: int, tails: tuple[tuple[int, ...], ...], like: Tensor) -> bool:
    """Whether a stacked state has exactly the shapes ``(layers, batch, *tail)``, and ``like``'s dtype and device.

    The quick test a streaming step runs before trusting a state; a state that fails it goes
    through the full check, which raises with the argument, what was expected and what came.
    """
    tensors = (state,) if isinstance(state, Tensor) else state
    if not isinstance(tensors, tuple) or len(tensors) != len(tails):
        return False
    for tensor, tail in zip(tensors, tails):  # noqa: B905 - lengths checked above
        if (not isinstance(tensor, Tensor) or tensor.dim() != 2 + len(tail) or tensor.shape[0] != layers
                or tensor.shape[1] != batch or tuple(tensor.shape[2:]) != tail or tensor.dtype != like.dtype
                or tensor.device != like.device):
            return False
    return True
