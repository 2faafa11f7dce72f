"""Parity with torch.nn in float64: outputs, final states and every parameter gradient (<= 1e-10)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pack_sequence

import rnnkit
from tests.conftest import TORCH_CLASSES, max_diff, random_lengths, run_torch_with_lengths

TOL = 1e-10

CONFIGS = [
    pytest.param(cell, layers, bidir, batch_first, proj, id=f"{cell}-L{layers}-{'bi' if bidir else 'uni'}-"
                 f"{'bf' if batch_first else 'tm'}{'-proj' if proj else ''}")
    for cell, layers, bidir, batch_first, proj in itertools.product(
        ["lstm", "gru", "elman"], [1, 2, 3], [False, True], [True, False], [0, 2]
    )
    if not (proj and cell != "lstm")
]


def _torch_module(cell: str, layers: int, bidir: bool, batch_first: bool, proj: int) -> nn.Module:
    options = {"proj_size": proj} if proj else {}
    return TORCH_CLASSES[cell](3, 5, layers, bidirectional=bidir, batch_first=batch_first, **options).double()


def _grads(module: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for _, p in sorted(module.named_parameters())]


def _loss(out, state) -> torch.Tensor:
    # Weighted so every output element and state element gets a distinct gradient.
    total = (out * torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).view_as(out)).sum()
    for t in rnnkit.cells.state_tensors(state):
        total = total + (t**2).sum()
    return total


@pytest.mark.parametrize(("cell", "layers", "bidir", "batch_first", "proj"), CONFIGS)
@pytest.mark.parametrize("backend", ["loop", "native"])
def test_recurrent_matches_torch_with_lengths(cell, layers, bidir, batch_first, proj, backend):
    gen = torch.Generator().manual_seed(layers * 10 + bidir)
    torch.manual_seed(0)
    reference = _torch_module(cell, layers, bidir, batch_first, proj)
    ours = rnnkit.Recurrent.from_torch(reference, backend=backend)
    assert ours.backend == backend
    batch, steps = 4, 6
    x = torch.randn(batch, steps, 3, dtype=torch.float64, generator=gen)
    if not batch_first:
        x = x.transpose(0, 1).contiguous()
    lengths = random_lengths(batch, steps, gen)

    out_ref, state_ref = run_torch_with_lengths(reference, x, lengths)
    out, state = ours(x, lengths=lengths)
    assert max_diff(out, out_ref) <= TOL
    assert max_diff(state, state_ref) <= TOL

    _loss(out_ref, state_ref).backward()
    _loss(out, state).backward()
    ref_grads = dict(reference.named_parameters())
    for name, param in ours.named_parameters():
        where, pname = name.split(".")[1:]
        ref = ref_grads[f"{pname}_{where}"].grad
        assert (param.grad - ref).abs().max().item() <= TOL, name


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
def test_recurrent_full_length_with_initial_state(cell):
    torch.manual_seed(3)
    reference = _torch_module(cell, 2, True, True, 0)
    ours = rnnkit.Recurrent.from_torch(reference, backend="loop")
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    h0 = torch.randn(4, 3, 5, dtype=torch.float64)
    state = (h0, torch.randn(4, 3, 5, dtype=torch.float64)) if cell == "lstm" else h0
    out_ref, s_ref = reference(x, state)
    out, s = ours(x, state)
    assert max_diff(out, out_ref) <= TOL and max_diff(s, s_ref) <= TOL


def _copy_dropin(torch_cls, dropin_cls, **kwargs):
    reference = torch_cls(**kwargs).double()
    ours = dropin_cls(**kwargs, backend="loop").double()
    ours.load_state_dict(reference.state_dict())
    return reference, ours


DROPINS = [(nn.LSTM, rnnkit.LSTM), (nn.GRU, rnnkit.GRU), (nn.RNN, rnnkit.RNN)]


@pytest.mark.parametrize(("torch_cls", "dropin_cls"), DROPINS, ids=["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_dropin_loop_packed_sequence(torch_cls, dropin_cls, bidir, enforce_sorted):
    torch.manual_seed(5)
    extra = {"proj_size": 2} if torch_cls is nn.LSTM else {"nonlinearity": "relu"} if torch_cls is nn.RNN else {}
    reference, ours = _copy_dropin(
        torch_cls, dropin_cls, input_size=3, hidden_size=4, num_layers=2, bidirectional=bidir, **extra
    )
    lengths = torch.tensor([6, 6, 4, 2, 1]) if enforce_sorted else torch.tensor([2, 6, 1, 6, 4])
    x = torch.randn(6, 5, 3, dtype=torch.float64)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    out_ref, s_ref = reference(packed)
    out, s = ours(packed)
    assert isinstance(out, type(out_ref))
    assert torch.equal(out.batch_sizes, out_ref.batch_sizes)
    assert max_diff(out.data, out_ref.data) <= TOL
    assert max_diff(s, s_ref) <= TOL
    _loss(out.data, s).backward()
    _loss(out_ref.data, s_ref).backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), reference.named_parameters(), strict=True):
        assert (p.grad - q.grad).abs().max().item() <= TOL, name


def test_dropin_loop_pack_sequence_with_ties_and_initial_state():
    torch.manual_seed(6)
    reference, ours = _copy_dropin(nn.GRU, rnnkit.GRU, input_size=2, hidden_size=3, num_layers=1)
    seqs = [torch.randn(n, 2, dtype=torch.float64) for n in (3, 5, 3, 1, 5)]
    packed = pack_sequence(seqs, enforce_sorted=False)
    h0 = torch.randn(1, 5, 3, dtype=torch.float64)
    out_ref, h_ref = reference(packed, h0)
    out, h = ours(packed, h0)
    assert torch.equal(out.sorted_indices, out_ref.sorted_indices)
    assert max_diff(out.data, out_ref.data) <= TOL and max_diff(h, h_ref) <= TOL


@pytest.mark.parametrize(("torch_cls", "dropin_cls"), DROPINS, ids=["lstm", "gru", "rnn"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_dropin_loop_unbatched_and_batched(torch_cls, dropin_cls, batch_first):
    torch.manual_seed(7)
    reference, ours = _copy_dropin(
        torch_cls, dropin_cls, input_size=3, hidden_size=4, num_layers=2, batch_first=batch_first, bias=False
    )
    for x in (torch.randn(5, 3, dtype=torch.float64), torch.randn(2, 5, 3, dtype=torch.float64)):
        out_ref, s_ref = reference(x)
        out, s = ours(x)
        assert out.shape == out_ref.shape
        assert max_diff(out, out_ref) <= TOL and max_diff(s, s_ref) <= TOL
        # ... and continuing from the returned state
        out_ref2, _ = reference(x, s_ref)
        out2, _ = ours(x, s)
        assert max_diff(out2, out_ref2) <= TOL


def test_dropins_are_the_torch_classes():
    for torch_cls, dropin_cls in DROPINS:
        layer = dropin_cls(3, 4, 2, bidirectional=True)
        assert isinstance(layer, torch_cls)
        assert layer.backend == "native"
        names = [n for n, _ in torch_cls(3, 4, 2, bidirectional=True).named_parameters()]
        assert [n for n, _ in layer.named_parameters()] == names
        # a torch state dict loads as is, both ways
        layer.load_state_dict(torch_cls(3, 4, 2, bidirectional=True).state_dict())
        torch_cls(3, 4, 2, bidirectional=True).load_state_dict(layer.state_dict())
    lstm = rnnkit.LSTM(3, 4, proj_size=2, batch_first=True)
    assert lstm.weight_hr_l0.shape == (2, 4)


def test_dropin_native_and_loop_agree_after_moving_dtype():
    torch.manual_seed(8)
    native = rnnkit.LSTM(3, 4, 2)
    loop = rnnkit.LSTM(3, 4, 2, backend="loop")
    loop.load_state_dict(native.state_dict())
    native, loop = native.double(), loop.double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    assert max_diff(native(x)[0], loop(x)[0]) <= TOL


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(9)
    layer = rnnkit.Recurrent("gru", 3, 4, num_layers=2, dropout=0.5, backend="loop")
    x = torch.randn(2, 5, 3)
    layer.eval()
    a, _ = layer(x)
    b, _ = layer(x)
    assert torch.equal(a, b)
    layer.train()
    c, _ = layer(x)
    assert not torch.equal(a, c)


def test_residual_adds_layer_input_native_equals_loop():
    torch.manual_seed(10)
    native = rnnkit.Recurrent("lstm", 4, 4, num_layers=3, residual=True).double()
    loop = rnnkit.Recurrent("lstm", 4, 4, num_layers=3, residual=True, backend="loop").double()
    loop.load_state_dict(native.state_dict())
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    (a, sa), (b, sb) = native(x, lengths=lengths), loop(x, lengths=lengths)
    assert max_diff(a, b) <= TOL and max_diff(sa, sb) <= TOL
    # by hand: the top layer's output minus its input is what its cell produced
    plain = rnnkit.Recurrent("lstm", 4, 4, num_layers=3, backend="loop").double()
    plain.load_state_dict(native.state_dict())
    assert max_diff(plain(x)[0], a) > 1e-3
