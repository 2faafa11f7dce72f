"""Property-based tests over shapes and lengths (hypothesis)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnkit
from tests.conftest import TORCH_CLASSES, max_diff, run_torch_with_lengths


@st.composite
def problems(draw):
    batch = draw(st.integers(1, 5))
    steps = draw(st.integers(1, 8))
    lengths = draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch))
    return {
        "cell": draw(st.sampled_from(["lstm", "gru", "elman"])),
        "batch": batch,
        "steps": steps,
        "input_size": draw(st.integers(1, 4)),
        "hidden_size": draw(st.integers(1, 5)),
        "num_layers": draw(st.integers(1, 3)),
        "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "lengths": torch.tensor(lengths),
        "seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from(["loop", "native"]))
def test_any_shape_matches_torch_and_padding_is_zero(p, backend):
    torch.manual_seed(p["seed"])
    reference = TORCH_CLASSES[p["cell"]](
        p["input_size"], p["hidden_size"], p["num_layers"],
        bidirectional=p["bidirectional"], batch_first=p["batch_first"],
    ).double()
    layer = rnnkit.Recurrent.from_torch(reference, backend=backend)
    shape = (p["batch"], p["steps"]) if p["batch_first"] else (p["steps"], p["batch"])
    x = torch.randn(*shape, p["input_size"], dtype=torch.float64)
    out, state = layer(x, lengths=p["lengths"])
    out_ref, state_ref = run_torch_with_lengths(reference, x, p["lengths"])
    directions = 2 if p["bidirectional"] else 1
    assert out.shape == (*shape, directions * p["hidden_size"])
    assert max_diff(out, out_ref) <= 1e-10 and max_diff(state, state_ref) <= 1e-10
    batch_major = out if p["batch_first"] else out.transpose(0, 1)
    for b, length in enumerate(p["lengths"].tolist()):
        assert torch.all(batch_major[b, length:] == 0)


@settings(max_examples=25, deadline=None)
@given(problems())
def test_each_sequence_alone_equals_its_row_in_the_padded_batch(p):
    torch.manual_seed(p["seed"])
    layer = rnnkit.Recurrent(
        p["cell"], p["input_size"], p["hidden_size"], num_layers=p["num_layers"],
        bidirectional=p["bidirectional"], backend="loop",
    ).double()
    x = torch.randn(p["batch"], p["steps"], p["input_size"], dtype=torch.float64)
    out, state = layer(x, lengths=p["lengths"])
    for b, length in enumerate(p["lengths"].tolist()):
        alone, alone_state = layer(x[b : b + 1, :length])
        assert max_diff(out[b : b + 1, :length], alone) <= 1e-12
        row = rnnkit.cells.map_state(lambda t, b=b: t[:, b : b + 1], state)
        assert max_diff(row, alone_state) <= 1e-12
