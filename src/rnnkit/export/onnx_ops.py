"""ONNX translations of rnnkit's standard-layer operators (``rnnkit::lstm_layer``, ``gru_layer``, ``rnn_layer``).

:mod:`rnnkit.backends.graph` runs each standard Elman/LSTM/GRU layer of an exported
:class:`rnnkit.Recurrent` as one custom operator; these onnxscript functions write each as ONNX's
own recurrent operator, with the layer's lengths as ``sequence_lens`` (onnxruntime then zeroes the
outputs past each sequence's end and returns the state at its last real step, as PyTorch does;
the reverse direction reads each valid part from its end). PyTorch orders the gates
``i, f, g, o`` (LSTM) and ``r, z, n`` (GRU), ONNX ``i, o, f, c`` and ``z, r, h``: the weights are
reordered by a ``Gather`` of constant rows, which the exporter's optimiser folds into the weights.
"""

from __future__ import annotations

from rnnkit.optional import require

_INT32 = 6  # onnx.TensorProto.INT32


def _reorder(op, tensor, chunks: list[int], size: int):
    rows = [chunk * size + i for chunk in chunks for i in range(size)]
    return op.Gather(tensor, op.Constant(value_ints=rows), axis=1)


def _outputs(op, y):
    # ONNX: Y (T, D, B, H); PyTorch: (T, B, D * H).
    return op.Reshape(op.Transpose(y, perm=[0, 2, 1, 3]), op.Constant(value_ints=[0, 0, -1]))


def translation_table() -> dict:
    """``{operator overload: onnxscript function}`` for ``torch.onnx.export(custom_translation_table=...)``."""
    import torch

    import rnnkit.backends.graph  # noqa: F401 - registers the operators

    op = require("onnxscript", "export").opset18

    def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths):
        hidden, directions = h0.shape[2], h0.shape[0]
        order = [0, 3, 1, 2]  # i f g o -> i o f c
        w = _reorder(op, w_ih, order, hidden)
        r = _reorder(op, w_hh, order, hidden)
        b = op.Concat(_reorder(op, b_ih, order, hidden), _reorder(op, b_hh, order, hidden), axis=1)
        y, h, c = op.LSTM(x, w, r, b, op.Cast(lengths, to=_INT32), h0, c0, hidden_size=hidden,
                          direction="bidirectional" if directions == 2 else "forward")
        return _outputs(op, y), h, c

    def gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh, lengths):
        hidden, directions = h0.shape[2], h0.shape[0]
        order = [1, 0, 2]  # r z n -> z r h
        w = _reorder(op, w_ih, order, hidden)
        r = _reorder(op, w_hh, order, hidden)
        b = op.Concat(_reorder(op, b_ih, order, hidden), _reorder(op, b_hh, order, hidden), axis=1)
        y, h = op.GRU(x, w, r, b, op.Cast(lengths, to=_INT32), h0, hidden_size=hidden, linear_before_reset=1,
                      direction="bidirectional" if directions == 2 else "forward")
        return _outputs(op, y), h

    def rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, lengths, relu: bool):
        hidden, directions = h0.shape[2], h0.shape[0]
        b = op.Concat(b_ih, b_hh, axis=1)
        activation = "Relu" if relu else "Tanh"
        y, h = op.RNN(x, w_ih, w_hh, b, op.Cast(lengths, to=_INT32), h0, hidden_size=hidden,
                      activations=[activation] * directions,
                      direction="bidirectional" if directions == 2 else "forward")
        return _outputs(op, y), h

    return {
        torch.ops.rnnkit.lstm_layer.default: lstm_layer,
        torch.ops.rnnkit.gru_layer.default: gru_layer,
        torch.ops.rnnkit.rnn_layer.default: rnn_layer,
    }
