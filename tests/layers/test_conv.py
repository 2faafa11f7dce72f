"""ConvLSTM/ConvGRU through the driver (spatial state), and the convolutional front ends (CRNN)."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.cells import ConvGRUCell, ConvLSTMCell, LSTMCell, LSTMState, state_tensors
from rnnkit.layers import CRNN, Conv1dFrontEnd, Conv2dFrontEnd
from tests.conftest import max_diff

F64 = torch.float64


def test_convlstm_with_1x1_kernels_is_an_lstm_at_every_pixel():
    torch.manual_seed(0)
    conv = ConvLSTMCell(2, 3, kernel_size=1).double()
    dense = LSTMCell(2, 3, forget_bias=None).double()
    with torch.no_grad():
        dense.weight_ih.copy_(conv.weight_ih[:, :, 0, 0])
        dense.weight_hh.copy_(conv.weight_hh[:, :, 0, 0])
        dense.bias_ih.copy_(conv.bias_ih)
        dense.bias_hh.zero_()
    x = torch.randn(2, 2, 4, 5, dtype=F64)
    h, c = torch.randn(2, 3, 4, 5, dtype=F64), torch.randn(2, 3, 4, 5, dtype=F64)
    _, (h1, c1) = conv(x, LSTMState(h, c))
    pixels = lambda t: t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])  # noqa: E731
    _, (h_ref, c_ref) = dense(pixels(x), LSTMState(pixels(h), pixels(c)))
    assert max_diff(pixels(h1), h_ref) < 1e-14 and max_diff(pixels(c1), c_ref) < 1e-14


def test_convgru_matches_its_equations():
    torch.manual_seed(1)
    cell = ConvGRUCell(2, 3, kernel_size=3).double()
    with torch.no_grad():
        cell.bias_ih.uniform_(-1, 1)
    x, h = torch.randn(1, 2, 5, 5, dtype=F64), torch.randn(1, 3, 5, 5, dtype=F64)
    _, h1 = cell(x, h)
    conv = lambda v, w: torch.nn.functional.conv2d(v, w, padding=1)  # noqa: E731
    xr, xz, xn = (conv(x, cell.weight_ih) + cell.bias_ih.view(1, -1, 1, 1)).chunk(3, 1)
    ur, uz, un = cell.weight_hh.chunk(3, 0)
    r, z = torch.sigmoid(xr + conv(h, ur)), torch.sigmoid(xz + conv(h, uz))
    n = torch.tanh(xn + conv(r * h, un))  # reset before the convolution (Ballas et al.)
    assert max_diff(h1, (1 - z) * n + z * h) < 1e-14


def test_convlstm_peephole_terms():
    torch.manual_seed(2)
    cell = ConvLSTMCell(1, 2, kernel_size=3, peephole=True).double()
    with torch.no_grad():
        cell.weight_peephole.uniform_(-1, 1)
    x, h, c = torch.randn(1, 1, 4, 4, dtype=F64), torch.randn(1, 2, 4, 4, dtype=F64), torch.randn(1, 2, 4, 4, dtype=F64)
    _, (h1, c1) = cell(x, LSTMState(h, c))
    pre = torch.nn.functional.conv2d(x, cell.weight_ih, cell.bias_ih, padding=1) + torch.nn.functional.conv2d(
        h, cell.weight_hh, padding=1
    )
    i, f, g, o = pre.chunk(4, 1)
    w = cell.weight_peephole
    c_ref = torch.sigmoid(f + w[1] * c) * c + torch.sigmoid(i + w[0] * c) * torch.tanh(g)
    assert max_diff(c1, c_ref) < 1e-14
    assert max_diff(h1, torch.sigmoid(o + w[2] * c_ref) * torch.tanh(c_ref)) < 1e-14


@pytest.mark.parametrize("cell", ["convlstm", "convgru"])
def test_spatial_state_with_lengths_bidirectional_and_layers(cell):
    torch.manual_seed(3)
    layer = rnnkit.Recurrent(cell, 2, 3, num_layers=2, bidirectional=True, kernel_size=3).double()
    assert layer.backend == "loop"
    x = torch.randn(3, 5, 2, 6, 7, dtype=F64)
    lengths = torch.tensor([5, 1, 3])
    out, state = layer(x, lengths=lengths)
    assert out.shape == (3, 5, 6, 6, 7)
    assert all(t.shape == (4, 3, 3, 6, 7) for t in state_tensors(state))
    for b, length in enumerate(lengths.tolist()):
        assert torch.all(out[b, length:] == 0)
        alone, alone_state = layer(x[b : b + 1, :length])
        assert max_diff(out[b : b + 1, :length], alone) < 1e-12
        assert max_diff(rnnkit.cells.map_state(lambda t, b=b: t[:, b : b + 1], state), alone_state) < 1e-12


@pytest.mark.parametrize("cell", ["convlstm", "convgru"])
def test_spatial_streaming_equals_one_call(cell):
    torch.manual_seed(4)
    layer = rnnkit.Recurrent(cell, 1, 2, num_layers=2, residual=True, kernel_size=3, batch_first=False).double()
    x = torch.randn(6, 2, 1, 4, 5, dtype=F64)  # time-major
    whole, final = layer(x)
    first, state = layer(x[:2])
    second, state = layer(x[2:], state)
    assert max_diff(torch.cat([first, second]), whole) < 1e-12 and max_diff(state, final) < 1e-12
    state, outs = None, []
    for x_t in x.unbind(0):
        y, state = layer.step(x_t, state)
        outs.append(y)
    assert max_diff(torch.stack(outs), whole) < 1e-12 and max_diff(state, final) < 1e-12


@pytest.mark.parametrize("cell", ["convlstm", "convgru"])
def test_gradcheck_conv_cells(cell):
    torch.manual_seed(5)
    layer = rnnkit.Recurrent(cell, 1, 1, bidirectional=True, kernel_size=3).double()
    names = [n for n, _ in layer.named_parameters()]
    x = torch.randn(2, 3, 1, 3, 3, dtype=F64, requires_grad=True)

    def f(x, *weights):
        params = dict(zip(names, weights, strict=True))
        out, state = torch.func.functional_call(layer, params, (x,), {"lengths": torch.tensor([3, 2])})
        return (out, *state_tensors(state))

    weights = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert torch.autograd.gradcheck(f, (x, *weights), fast_mode=True)


def test_spatial_input_errors():
    layer = rnnkit.Recurrent("convlstm", 2, 3)
    with pytest.raises(ValueError, match=r"x: expected a 5-D tensor \(batch, time, channels, height, width\)"):
        layer(torch.randn(2, 5, 2))
    with pytest.raises(ValueError, match=r"channel dimension \(dim 2\)"):
        layer(torch.randn(2, 5, 3, 4, 4))
    with pytest.raises(ValueError, match=r"one step of shape \(batch, channels=2, height, width\)"):
        layer.step(torch.randn(2, 2, 4))
    with pytest.raises(ValueError, match=r"state.h: expected shape \(1, 1, 3, 4, 4\), got \(1, 1, 3, 5, 5\)"):
        layer(torch.randn(1, 2, 2, 4, 4), layer.initial_state(1, spatial=(5, 5)))
    with pytest.raises(ValueError, match="kernel_size: expected an odd"):
        ConvLSTMCell(1, 2, kernel_size=2)


# --- front ends -----------------------------------------------------------------------------------


def test_conv1d_front_end_lengths_and_padding_invariance():
    torch.manual_seed(6)
    front = Conv1dFrontEnd(3, (4, 5), kernel_size=3, pool=2).double()
    x = torch.randn(3, 11, 3, dtype=F64)
    lengths = torch.tensor([11, 1, 6])
    feats, out_lengths = front(x, lengths)
    assert feats.shape == (3, 3, 5) and out_lengths.tolist() == [3, 1, 2]  # ceil(ceil(L/2)/2)
    assert front.output_lengths([11, 1, 6]).tolist() == [3, 1, 2]
    for b, length in enumerate(lengths.tolist()):
        # Garbage in the padding changes nothing: each row equals its sequence alone.
        alone, _ = front(x[b : b + 1, :length])
        assert max_diff(feats[b : b + 1, : out_lengths[b]], alone) < 1e-12
        assert torch.all(feats[b, out_lengths[b] :] == 0)


def test_conv2d_front_end_shapes_and_padding_invariance():
    torch.manual_seed(7)
    front = Conv2dFrontEnd(9, (2, 3), kernel_size=(3, 3), pool=(2, 2)).double()
    assert front.output_size == 3 * 3  # 9 -> 5 -> 3 frequency bins
    x = torch.randn(2, 10, 9, dtype=F64)
    feats, lengths = front(x, torch.tensor([10, 5]))
    assert feats.shape == (2, 3, 9) and lengths.tolist() == [3, 2]
    alone, _ = front(x[1:, :5])
    assert max_diff(feats[1:, :2], alone) < 1e-12
    multi = Conv2dFrontEnd(9, (2,), in_channels=4, pool=1)
    assert multi(torch.randn(2, 10, 4, 9))[0].shape == (2, 10, 18)
    with pytest.raises(ValueError, match=r"x: expected \(batch, time, 4, freq\) with freq=9"):
        multi(torch.randn(2, 10, 9))


def test_crnn_composes_a_front_end_with_any_recurrent_layer():
    torch.manual_seed(8)
    crnn = CRNN(Conv1dFrontEnd(3, (6,), pool=2), rnnkit.Recurrent("mingru", 6, 4, bidirectional=True)).double()
    x, lengths = torch.randn(2, 9, 3, dtype=F64), torch.tensor([9, 4])
    out, state = crnn(x, lengths=lengths)
    assert out.shape == (2, 5, 8) and crnn.output_lengths(lengths).tolist() == [5, 2]
    alone, alone_state = crnn(x[1:, :4])
    assert max_diff(out[1:, :2], alone) < 1e-12 and max_diff(state[:, 1:], alone_state) < 1e-12
    out.sum().backward()
    assert crnn.front_end.convs[0][0].weight.grad is not None
    with pytest.raises(ValueError, match=r"recurrent: expected input_size=6 \(the front end's output_size\), got 5"):
        CRNN(Conv1dFrontEnd(3, (6,)), rnnkit.Recurrent("gru", 5, 4))
