"""Running one cell over a sequence on the compiled kernels (``run_loop``'s contract)."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.backends.fused import ops
from rnnkit.backends.fused.functions import GRUSequence, LSTMSequence, SimpleSequence, StepRegularization
from rnnkit.backends.loop import reverse_padded
from rnnkit.cells.base import LSTMState, RecurrentCell, State, map_state
from rnnkit.cells.kernel import declared_kernel


def run_fused(
    cell: RecurrentCell,
    x: Tensor,
    state: State,
    *,
    lengths: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, State]:
    """Run one cell over a time-major sequence with its compiled kernel (same contract as ``run_loop``).

    Args:
        cell: a cell whose :func:`~rnnkit.cells.kernel.declared_kernel` is not ``None``, or a wrapper
            holding one as ``.cell`` with per-step regularisers given by its ``kernel_regularization(steps)``
            (``rnnkit.layers.regularizers.HookedCell``).
        x: input ``(T, B, I)``.
        state: the cell's initial state for the batch.
        lengths: ``(B,)`` valid lengths (CPU, int64), or ``None``.
        reverse: read each sequence's valid part from its end to its start.

    Returns:
        ``(outputs, final_state)`` as :func:`rnnkit.backends.loop.run_loop` returns them.
    """
    steps = x.shape[0]
    regularization = StepRegularization()
    if not isinstance(cell, RecurrentCell):
        regularization = cell.kernel_regularization(steps)
        cell = cell.cell
    spec = declared_kernel(cell)
    if spec is None:
        raise ValueError(f"cell: {type(cell).__name__} declares no compiled kernel (kernel_spec)")
    projected = cell.project_input(x)
    if reverse:
        projected = reverse_padded(projected, lengths)
    # Under autocast the projection may come in bfloat16: the kernels compute in the weights' dtype.
    dtype = spec.weight_hh.dtype
    projected = projected.to(dtype).contiguous()
    state = map_state(lambda t: t.to(dtype), state)
    if lengths is not None:
        lengths = lengths.to("cpu", dtype=torch.long).contiguous()
    # Under torch.compile / torch.export the same kernels as custom operators (shapes known to the tracer).
    tracing = torch.compiler.is_compiling()
    lstm = ops.lstm_sequence if tracing else LSTMSequence.apply
    gru = ops.gru_sequence if tracing else GRUSequence.apply
    simple = ops.simple_sequence if tracing else SimpleSequence.apply
    if spec.family == "lstm":
        h0, c0 = state
        norm_c_weight, norm_c_bias = spec.norm_cell if spec.norm_cell is not None else (None, None)
        out, h, c = lstm(
            projected, h0.contiguous(), c0.contiguous(), spec.weight_hh, spec.norm_hh, norm_c_weight, norm_c_bias,
            spec.eps, lengths, regularization,
        )
        final: State = (cell.state_type or LSTMState)(h, c)
    elif spec.family == "gru":
        out, final = gru(
            projected, state.contiguous(), spec.weight_hh, spec.bias_hh, spec.norm_hh, spec.eps, lengths, regularization
        )
    else:
        out, final = simple(
            projected, state.contiguous(), spec.weight_hh, spec.nonlinearity == "relu", lengths, regularization
        )
    if reverse:
        out = reverse_padded(out, lengths)
    return out, final

