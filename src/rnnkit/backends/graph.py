"""The graph backend: a whole sequence as one traceable loop, for ``torch.export`` and ONNX.

The other backends loop over time in Python (``loop``, unrolled by a tracer and guarding on ``T``),
pack and pad (``native``: ``pack_padded_sequence`` cannot be exported, pytorch#49936) or call
compiled code a tracer cannot see. Under ``torch.export`` (``torch.compiler.is_exporting()``)
:class:`rnnkit.Recurrent` runs here instead:

* any cell through :func:`run_graph`: the step (or, for a cell computing in complex numbers such as
  :class:`~rnnkit.cells.LRUCell`, its ``real_step``: the same math in real arithmetic) inside
  ``torch``'s ``scan`` higher-order operator,
  so the exported graph holds one loop whose length is the input's (symbolic) time axis; the ONNX
  exporter writes it as an ONNX ``Scan``. Lengths are handled inside the loop exactly as in
  :func:`rnnkit.backends.loop.run_loop`: past its end a sequence keeps its state and outputs zero,
  and the reverse direction reads each sequence's valid part from its end.
* standard Elman/LSTM/GRU layers through :func:`run_standard_layer`: one custom operator per layer
  (``rnnkit::lstm_layer``, ``rnnkit::gru_layer``, ``rnnkit::rnn_layer``) whose eager implementation
  is PyTorch's own kernel and which :mod:`rnnkit.export.onnx_ops` translates into ONNX's ``LSTM``,
  ``GRU`` and ``RNN`` operators with ``sequence_lens``.

A layer forced onto ``backend="fused"`` or ``"scan"`` keeps rnnkit's compiled kernels under a plain
``torch.export`` (as the custom operators of :mod:`rnnkit.backends.fused.ops`; the exported program
then needs rnnkit imported to run), except within :func:`portable_export`, which the ONNX export uses.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.backends.loop import between_layers, reverse_padded
from rnnkit.backends.native import native_mode
from rnnkit.cells.base import RecurrentCell, State, state_tensors

_PORTABLE = contextvars.ContextVar("rnnkit_portable_export", default=False)


@contextlib.contextmanager
def portable_export() -> Iterator[None]:
    """Within it, an exported ``Recurrent`` never keeps rnnkit's compiled kernels as operators (a forced
    ``backend="fused"``/``"scan"`` runs here too): for exporters that only know standard operators (ONNX).

    Example:
        >>> with portable_export():
        ...     program = torch.export.export(layer, (x,))          # doctest: +SKIP
    """
    token = _PORTABLE.set(True)
    try:
        yield
    finally:
        _PORTABLE.reset(token)


def keeps_kernels(backend: str) -> bool:
    """Whether an exported layer on ``backend`` keeps rnnkit's kernels as custom operators
    (``fused`` and ``scan`` under a plain ``torch.export``, outside :func:`portable_export`)."""
    return backend in ("fused", "scan") and not _PORTABLE.get()


def _scan_operator():
    try:
        from torch._higher_order_ops.scan import scan
    except ImportError as error:  # torch < 2.6
        raise RuntimeError(
            f"exporting a recurrent layer needs torch's scan operator (torch >= 2.6), this is torch {torch.__version__}"
        ) from error
    return scan


def run_graph(
    cell: RecurrentCell,
    x: Tensor,
    state: State,
    *,
    lengths: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, State]:
    """Run one cell over a time-major sequence as one ``scan`` (same contract as ``run_loop``).

    Args:
        cell: any cell (or a cell with per-step hooks bound, ``HookedCell``).
        x: input ``(T, B, I)``; ``T`` may be symbolic.
        state: the cell's initial state for the batch.
        lengths: ``(B,)`` int64 valid lengths on ``x``'s device, or ``None``.
        reverse: read each sequence's valid part from its end to its start.

    Returns:
        ``(outputs, final_state)`` as :func:`rnnkit.backends.loop.run_loop` returns them.

    Example:
        >>> cell = rnnkit.cells.GRUCell(3, 4)
        >>> out, h = run_graph(cell, torch.randn(5, 2, 3), torch.zeros(2, 4), lengths=torch.tensor([5, 2]))
        >>> bool((out[2:, 1] == 0).all())
        True
    """
    scan = _scan_operator()
    # A cell whose step computes in complex numbers (LRU) gives the same step in real arithmetic.
    inner = getattr(cell, "cell", cell)  # through per-step hooks (HookedCell)
    step = inner.real_step if hasattr(inner, "real_step") and inner is cell else cell.step
    projected = cell.project_input(x)
    if reverse:
        projected = reverse_padded(projected, lengths)
    rebuild = type(state) if not isinstance(state, Tensor) else None
    init = state_tensors(state)

    def as_state(tensors: tuple[Tensor, ...]) -> State:
        return tensors[0] if rebuild is None else rebuild(*tensors)

    if lengths is None:
        def body(carry: tuple[Tensor, ...], px: Tensor):
            y, new = step(px, as_state(tuple(carry)))
            return [t.clone() for t in state_tensors(new)], y.clone()

        final, out = scan(body, list(init), projected)
    else:
        valid = torch.arange(projected.shape[0], device=x.device).unsqueeze(1) < lengths.unsqueeze(0)  # (T, B)

        def body(carry: tuple[Tensor, ...], inputs: tuple[Tensor, Tensor]):
            px, keep = inputs
            y, new = step(px, as_state(tuple(carry)))
            # Past its end a sequence keeps its state and outputs zero (run_loop's rule).
            kept = [torch.where(keep.view(-1, *([1] * (n.dim() - 1))), n, o)
                    for n, o in zip(state_tensors(new), carry, strict=True)]
            y = torch.where(keep.view(-1, *([1] * (y.dim() - 1))), y, torch.zeros_like(y))
            return kept, y

        final, out = scan(body, list(init), (projected, valid))
    if reverse:
        out = reverse_padded(out, lengths)
    return out, as_state(tuple(final))


# Standard layers as custom operators: PyTorch's kernel eagerly, ONNX's recurrent operators on export.


def _run_standard(mode: str, x: Tensor, hx: tuple[Tensor, ...], weights: list[Tensor], lengths: Tensor,
                  bidirectional: bool) -> tuple[Tensor, ...]:
    kernel = {"lstm": torch.lstm, "gru": torch.gru, "rnn_tanh": torch.rnn_tanh, "rnn_relu": torch.rnn_relu}[mode]
    packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
    order, restore = packed.sorted_indices, packed.unsorted_indices
    hx = tuple(h.index_select(1, order) for h in hx)
    data, *hidden = kernel(packed.data, packed.batch_sizes, hx if mode == "lstm" else hx[0], weights,
                           True, 1, 0.0, False, bidirectional)
    out, _ = pad_packed_sequence(PackedSequence(data, packed.batch_sizes, order, restore), total_length=x.shape[0])
    return (out, *(h.index_select(1, restore) for h in hidden))


def _flat(w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> list[Tensor]:
    weights: list[Tensor] = []
    for d in range(w_ih.shape[0]):
        weights += [w_ih[d], w_hh[d], b_ih[d], b_hh[d]]
    return weights


@torch.library.custom_op("rnnkit::lstm_layer", mutates_args=())
def lstm_layer(x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
               lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer (``torch.nn.LSTM``'s gate order) over ``x (T, B, I)``, weights stacked by direction
    ``(D, 4H, ·)``, states ``(D, B, H)``, int64 ``lengths (B,)``; returns ``out (T, B, D*H), h, c``."""
    out, h, c = _run_standard("lstm", x, (h0, c0), _flat(w_ih, w_hh, b_ih, b_hh), lengths, w_ih.shape[0] == 2)
    return out, h, c


@lstm_layer.register_fake
def _(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths):
    return x.new_empty(x.shape[0], x.shape[1], h0.shape[0] * h0.shape[2]), torch.empty_like(h0), torch.empty_like(c0)


@torch.library.custom_op("rnnkit::gru_layer", mutates_args=())
def gru_layer(x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
              lengths: Tensor) -> tuple[Tensor, Tensor]:
    """One GRU layer (``torch.nn.GRU``'s gate order), as :func:`lstm_layer` without the memory cell."""
    out, h = _run_standard("gru", x, (h0,), _flat(w_ih, w_hh, b_ih, b_hh), lengths, w_ih.shape[0] == 2)
    return out, h


@gru_layer.register_fake
def _(x, h0, w_ih, w_hh, b_ih, b_hh, lengths):
    return x.new_empty(x.shape[0], x.shape[1], h0.shape[0] * h0.shape[2]), torch.empty_like(h0)


@torch.library.custom_op("rnnkit::rnn_layer", mutates_args=())
def rnn_layer(x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
              lengths: Tensor, relu: bool) -> tuple[Tensor, Tensor]:
    """One Elman layer (``tanh``, or ``relu`` when ``relu``), as :func:`gru_layer`."""
    mode = "rnn_relu" if relu else "rnn_tanh"
    out, h = _run_standard(mode, x, (h0,), _flat(w_ih, w_hh, b_ih, b_hh), lengths, w_ih.shape[0] == 2)
    return out, h


@rnn_layer.register_fake
def _(x, h0, w_ih, w_hh, b_ih, b_hh, lengths, relu):
    return x.new_empty(x.shape[0], x.shape[1], h0.shape[0] * h0.shape[2]), torch.empty_like(h0)


def standard_layer_ok(cells: list[RecurrentCell]) -> bool:
    """Whether a layer's cells map onto ONNX's recurrent operators: exact LSTM (no projection), GRU or Elman."""
    return all(native_mode(cell) is not None and not getattr(cell, "proj_size", 0) for cell in cells)


def run_standard_layer(cells: list[RecurrentCell], x: Tensor, states: list[State], lengths: Tensor | None
                       ) -> tuple[Tensor, list[State]]:
    """One layer of standard cells (one per direction) as one custom operator.

    Args:
        cells: the layer's cells (forward, then reverse), all :func:`standard_layer_ok`.
        x: time-major input ``(T, B, I)``.
        states: each direction's initial state.
        lengths: ``(B,)`` int64 lengths, or ``None`` (every sequence ``T`` long).

    Returns:
        ``(output (T, B, D * H), final state of each direction)``.
    """
    mode = native_mode(cells[0])
    first = cells[0]
    hidden = first.hidden_size
    gates = {"lstm": 4, "gru": 3}.get(mode, 1)

    def bias(cell: RecurrentCell, name: str) -> Tensor:
        value = getattr(cell, name, None) if cell.bias else None
        return value if value is not None else first.weight_ih.new_zeros(gates * hidden)

    w_ih = torch.stack([c.weight_ih for c in cells])
    w_hh = torch.stack([c.weight_hh for c in cells])
    b_ih = torch.stack([bias(c, "bias_ih") for c in cells])
    b_hh = torch.stack([bias(c, "bias_hh") for c in cells])
    if lengths is None:
        lengths = torch.full((x.shape[1],), x.shape[0], dtype=torch.long, device=x.device)
    if mode == "lstm":
        h0 = torch.stack([s[0] for s in states])
        c0 = torch.stack([s[1] for s in states])
        out, h, c = torch.ops.rnnkit.lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths)
        return out, [type(states[0])(h[d], c[d]) for d in range(len(cells))]
    h0 = torch.stack(list(states))
    if mode == "gru":
        out, h = torch.ops.rnnkit.gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh, lengths)
    else:
        out, h = torch.ops.rnnkit.rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, lengths, mode == "rnn_relu")
    return out, [h[d] for d in range(len(cells))]


def run_graph_layers(
    layers: list[list[RecurrentCell]],
    x: Tensor,
    states: list[State],
    *,
    lengths: Tensor | None,
    dropout: float = 0.0,
    training: bool = False,
    residual: bool = False,
) -> tuple[Tensor, list[State]]:
    """Run a stack as :func:`rnnkit.backends.loop.run_layers` does, each layer as one traceable operation.

    Layers of standard cells (:func:`standard_layer_ok`, no per-step hooks) become one custom
    operator each (ONNX ``LSTM``/``GRU``/``RNN``), every other layer one :func:`run_graph` scan per direction.

    Args:
        layers: ``layers[k][direction]``: cells, or cells with per-step hooks bound.
        x: time-major input ``(T, B, I)``.
        states: initial state of each cell, ``layer * directions + direction`` order.
        lengths: ``(B,)`` int64 valid lengths, or ``None``.
        dropout, training, residual: as in ``run_layers``.

    Returns:
        ``(outputs (T, B, D * O), final state of each cell)``.
    """
    finals: list[State] = []
    layer_input = x
    for index, layer in enumerate(layers):
        if all(isinstance(cell, RecurrentCell) for cell in layer) and standard_layer_ok(layer):
            layer_states = list(states[len(finals):len(finals) + len(layer)])
            out, layer_finals = run_standard_layer(layer, layer_input, layer_states, lengths)
            finals += layer_finals
        else:
            outs = []
            for direction, cell in enumerate(layer):
                out, final = run_graph(cell, layer_input, states[len(finals)], lengths=lengths, reverse=direction == 1)
                outs.append(out)
                finals.append(final)
            out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=2)
        layer_input = between_layers(
            out, layer_input, index, len(layers), residual=residual, dropout=dropout, training=training
        )
    return layer_input, finals
