"""ONNX export of Recurrent stacks: parity in onnxruntime at other batch sizes and lengths than the export's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.export import ExportError, export_module, run_session, to_onnx

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TOLERANCE = 1e-5  # float32; the measured differences are ~1e-7 to 2e-6


def test_standard_lstm_stack_becomes_onnx_lstm_with_lengths_and_state(tmp_path):
    torch.manual_seed(0)
    layer = rnnkit.Recurrent("lstm", 3, 5, num_layers=2, bidirectional=True)
    result = to_onnx(layer, tmp_path / "lstm.onnx", with_state=True, example_batch=2, example_steps=4)
    assert result.operators.get("LSTM") == 2 and "Scan" not in result.operators
    assert result.checked_shapes["x"] == [5, 9, 3]  # checked at another batch and length than exported
    assert max(result.max_abs_diff.values()) < TOLERANCE, result.max_abs_diff
    # A third size, by hand: outputs past each end are exactly zero, final states at the last real step.
    x = torch.randn(7, 11, 3)
    lengths = torch.tensor([11, 1, 3, 8, 11, 2, 5])
    h0, c0 = torch.randn(4, 7, 5), torch.randn(4, 7, 5)
    out, h, c = run_session(result.path, {"x": x, "lengths": lengths, "h0": h0, "c0": c0})
    with torch.no_grad():
        ref_out, (ref_h, ref_c) = layer(x, (h0, c0), lengths=lengths)
    assert (torch.as_tensor(out)[1, 1:] == 0).all() and (torch.as_tensor(out)[2, 3:] == 0).all()
    for got, want in ((out, ref_out), (h, ref_h), (c, ref_c)):
        assert (torch.as_tensor(got) - want).abs().max().item() < TOLERANCE


STACKS = {
    "gru_time_major": lambda: rnnkit.Recurrent("gru", 3, 4, batch_first=False),
    "elman_relu": lambda: rnnkit.Recurrent("elman", 3, 4, bidirectional=True, nonlinearity="relu"),
    "layernorm_lstm": lambda: rnnkit.Recurrent("layernorm_lstm", 3, 4, num_layers=2, bidirectional=True,
                                               residual=True),
    "mingru": lambda: rnnkit.Recurrent("mingru", 3, 4, bidirectional=True),
    "lru": lambda: rnnkit.Recurrent("lru", 3, 4, bidirectional=True),
    # The rest (slow: each scan adds seconds of tracing).
    "layernorm_gru": lambda: rnnkit.Recurrent("layernorm_gru", 3, 4, bidirectional=True),
    "lstm_proj": lambda: rnnkit.Recurrent("lstm", 3, 4, proj_size=2, bidirectional=True),
    "indrnn": lambda: rnnkit.Recurrent("indrnn", 3, 4, num_layers=2),
    "minlstm": lambda: rnnkit.Recurrent("minlstm", 3, 4),
    "slstm": lambda: rnnkit.Recurrent("slstm", 3, 4),
    "zoneout_gru": lambda: rnnkit.Recurrent("gru", 3, 4, regularizers=[rnnkit.layers.regularizers.Zoneout(0.3)]),
}
FAST = ["gru_time_major", "elman_relu", "layernorm_lstm", "mingru", "lru"]


class Zoo(nn.Module):
    """Several stacks on the same input, so that one export checks them all."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.stacks = nn.ModuleDict({name: STACKS[name]() for name in names})

    def forward(self, x, lengths):
        outputs = []
        for stack in self.stacks.values():
            time_major = not stack.batch_first
            out, state = stack(x.transpose(0, 1) if time_major else x, lengths=lengths)
            outputs += [out.transpose(0, 1) if time_major else out, state[0] if isinstance(state, tuple) else state]
        return tuple(outputs)


@pytest.mark.parametrize("names", [
    pytest.param(FAST, id="standard+scan"),
    pytest.param([n for n in STACKS if n not in FAST], id="more-cells", marks=pytest.mark.slow),
])
def test_every_other_cell_exports_as_a_scan_with_parity(tmp_path, names):
    torch.manual_seed(1)
    zoo = Zoo(names).eval()
    output_names = [f"{n}_{part}" for n in zoo.stacks for part in ("out", "state")]
    batch, time = torch.export.Dim("batch"), torch.export.Dim("time")
    result = export_module(
        zoo, tmp_path / "zoo.onnx", (torch.randn(2, 6, 3), torch.tensor([6, 3])), input_names=["x", "lengths"],
        output_names=output_names, dynamic_shapes=[{0: batch, 1: time}, {0: batch}],
        check_args=(torch.randn(5, 13, 3), torch.tensor([13, 1, 7, 13, 4])),
    )
    assert "Scan" in result.operators
    if "elman_relu" in names:
        assert {"GRU", "RNN"} <= set(result.operators)
    assert "LSTM" not in result.operators  # layer-norm LSTM, and proj_size (no ONNX form): scans
    assert len(result.max_abs_diff) == len(output_names)
    worst = {name: diff for name, diff in result.max_abs_diff.items() if diff >= TOLERANCE}
    assert not worst, worst


class Branchy(rnnkit.cells.RecurrentCell):
    """A cell whose step branches on a tensor's value: no graph can hold that."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.proj = nn.Linear(input_size, hidden_size)

    def project_input(self, x):
        return self.proj(x)

    def step(self, px, state):
        h = torch.tanh(px + state) if float(px.sum()) > 0 else px
        return h, h


def test_a_cell_that_cannot_be_exported_is_named_with_the_reason(tmp_path):
    layer = rnnkit.Recurrent(Branchy, 3, 4)
    with pytest.raises(ExportError, match=r"Branchy.*data-dependent"):
        to_onnx(layer, tmp_path / "branchy.onnx")


def test_to_onnx_refuses_what_is_not_a_recurrent_stack(tmp_path):
    with pytest.raises(ExportError, match=r"an rnnkit\.Recurrent \(or a torch\.nn\.RNN/LSTM/GRU\), got Linear"):
        to_onnx(nn.Linear(3, 4), tmp_path / "linear.onnx")


def test_a_torch_nn_gru_exports_through_its_recurrent_copy(tmp_path):
    torch.manual_seed(2)
    gru = nn.GRU(3, 4, num_layers=2, batch_first=False)
    result = to_onnx(gru, tmp_path / "gru.onnx")
    assert result.operators.get("GRU") == 2
    x = torch.randn(9, 4, 3)  # time-major, like the module
    (out, h) = run_session(result.path, {"x": x, "lengths": torch.full((4,), 9)})
    with torch.no_grad():
        want_out, want_h = gru(x)
    assert (torch.as_tensor(out) - want_out).abs().max().item() < TOLERANCE
    assert (torch.as_tensor(h) - want_h).abs().max().item() < TOLERANCE
