"""The reference backend: any cell, run step by step in Python.

Written to be a fair baseline rather than a strawman: the input projection of all time steps is
one matrix product, steps come from ``unbind`` (views, no indexing in the loop), and masking for
variable lengths is only paid when some sequence is shorter than the batch's time dimension.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells.base import RecurrentCell, State, map_state


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence's valid prefix along time, leaving its padding in place.

    Args:
        x: time-major tensor ``(T, B, ...)``.
        lengths: ``(B,)`` valid lengths on ``x``'s device, or ``None`` (all ``T``).

    Returns:
        Tensor like ``x`` with ``out[t, b] = x[L_b - 1 - t, b]`` for ``t < L_b``, else ``x[t, b]``.
        The map is its own inverse, so the same call restores the original order.
    """
    if lengths is None:
        return x.flip(0)
    steps = x.shape[0]
    t = torch.arange(steps, device=x.device).unsqueeze(1)
    ends = lengths.unsqueeze(0)
    index = torch.where(t < ends, ends - 1 - t, t)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, index)


def _select(keep: Tensor, new: Tensor, old: Tensor) -> Tensor:
    return torch.where(keep.view(-1, *([1] * (new.dim() - 1))), new, old)


def between_layers(
    out: Tensor, layer_input: Tensor, index: int, num_layers: int, *, residual: bool, dropout: float, training: bool
) -> Tensor:
    """What passes from layer ``index`` to the next: its output, plus its input (residual), then dropout.

    The one place every backend and :meth:`rnnkit.Recurrent.step` join stacked layers.

    Args:
        out: layer ``index``'s output (any shape; one step or a whole sequence).
        layer_input: that layer's input, of ``out``'s shape when ``residual`` applies.
        index: the layer's index, from 0.
        num_layers: layers in the stack.
        residual: add ``layer_input`` to ``out`` for every layer after the first.
        dropout: dropout probability on every layer's output but the last.
        training: whether dropout is active.

    Returns:
        The next layer's input.

    Example:
        >>> between_layers(torch.ones(2), torch.ones(2), 1, 2, residual=True, dropout=0.5, training=False)
        tensor([2., 2.])
    """
    if residual and index > 0:
        out = out + layer_input
    if dropout > 0 and training and index < num_layers - 1:
        out = F.dropout(out, dropout, training=True)
    return out


def run_loop(
    cell: RecurrentCell,
    x: Tensor,
    state: State,
    *,
    lengths: Tensor | None = None,
    reverse: bool = False,
    step_outputs: list[Tensor] | None = None,
) -> tuple[Tensor, State]:
    """Run one cell over a time-major sequence.

    Args:
        cell: the cell to run.
        x: input ``(T, B, I)``.
        state: the cell's initial state for the batch.
        lengths: ``(B,)`` valid lengths on ``x``'s device; ``None`` when every sequence is ``T`` long.
        reverse: read each sequence's valid part from its end to its start.
        step_outputs: if given, each step's output tensor ``(B, O)`` is appended to it in time
            order. These are the very tensors the next step consumes (the cell's output is its
            hidden state), so a gradient taken with respect to one of them is the total
            derivative through the recurrence (used by gradient-flow diagnostics).

    Returns:
        ``(outputs, final_state)``: outputs ``(T, B, cell.output_size)``, exactly zero past each
        sequence's end; the final state is the state after each sequence's last real step.
    """
    projected = cell.project_input(x)
    if reverse:
        projected = reverse_padded(projected, lengths)
    outputs = []
    if lengths is None:
        for px in projected.unbind(0):
            y, state = cell.step(px, state)
            outputs.append(y)
        out = torch.stack(outputs)
    else:
        valid = torch.arange(x.shape[0], device=x.device).unsqueeze(1) < lengths.unsqueeze(0)  # (T, B)
        for px, keep in zip(projected.unbind(0), valid.unbind(0), strict=True):
            y, new_state = cell.step(px, state)
            # Past its end a sequence keeps its state, so the final state is its last real one.
            state = map_state(lambda n, o, k=keep: _select(k, n, o), new_state, state)
            outputs.append(y)
        out = torch.stack(outputs)
        out = out.masked_fill(~valid.view(*valid.shape, *([1] * (out.dim() - 2))), 0.0)
    if reverse:
        out = reverse_padded(out, lengths)
    if step_outputs is not None:
        step_outputs.extend(outputs[::-1] if reverse else outputs)
    return out, state


def run_layers(
    cells: Sequence[Sequence[RecurrentCell]],
    x: Tensor,
    states: Sequence[State],
    *,
    lengths: Tensor | None = None,
    dropout: float = 0.0,
    training: bool = False,
    residual: bool = False,
    run_cell: Callable[..., tuple[Tensor, State]] = run_loop,
    step_outputs: list[list[Tensor]] | None = None,
) -> tuple[Tensor, list[State]]:
    """Run a stack of (possibly bidirectional) layers, one cell at a time.

    Args:
        cells: ``cells[layer][direction]``; direction 1, if present, reads time reversed.
        x: time-major input ``(T, B, I)``.
        states: initial state of each cell in ``layer * directions + direction`` order.
        lengths: ``(B,)`` valid lengths on ``x``'s device, or ``None``.
        dropout: dropout probability on the outputs of every layer but the last (training only).
        training: whether dropout is active.
        residual: add each layer's input to its output, for every layer after the first.
        run_cell: runs one cell over the sequence, with :func:`run_loop`'s signature
            (``run_loop`` itself, or ``rnnkit.backends.scan.run_scan``).
        step_outputs: if given, one list per cell (``layer * directions + direction`` order) of
            its per-step outputs is appended (see :func:`run_loop`); only ``run_loop`` records them.

    Returns:
        ``(outputs, final_states)`` with outputs ``(T, B, directions * output_size, ...)``: the
        directions are concatenated on the feature axis (dim 2), which is also the channel axis
        of spatial cells.
    """
    finals: list[State] = []
    layer_input = x
    for index, layer in enumerate(cells):
        outs = []
        for direction, cell in enumerate(layer):
            if step_outputs is None:
                out, final = run_cell(cell, layer_input, states[len(finals)], lengths=lengths, reverse=direction == 1)
            else:
                steps: list[Tensor] = []
                out, final = run_loop(
                    cell, layer_input, states[len(finals)], lengths=lengths, reverse=direction == 1, step_outputs=steps
                )
                step_outputs.append(steps)
            outs.append(out)
            finals.append(final)
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)
        layer_input = between_layers(
            out, layer_input, index, len(cells), residual=residual, dropout=dropout, training=training
        )
    return layer_input, finals
