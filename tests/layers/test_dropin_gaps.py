"""The drop-in gaps found by running PyTorch's own tests and examples against rnnkit's RNN/LSTM/GRU
(issue 17.10): whole-module torch.load(weights_only=True), the zero-length error, and the two
documented refusals (backend="fused" on a drop-in; fused LSTM with proj_size)."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

import rnnkit


class WordModel(nn.Module):
    """The shape of pytorch/examples' word_language_model RNNModel, with the import swapped."""

    def __init__(self, backend: str) -> None:
        super().__init__()
        self.encoder = nn.Embedding(10, 4)
        self.rnn = rnnkit.LSTM(4, 6, 2, dropout=0.2, backend=backend)
        self.decoder = nn.Linear(6, 10)

    def forward(self, tokens):
        out, _ = self.rnn(self.encoder(tokens))
        return self.decoder(out)


@pytest.mark.parametrize("backend", ["native", "loop"])
def test_a_whole_saved_model_with_drop_ins_loads_with_weights_only(backend):
    torch.manual_seed(0)
    model = WordModel(backend).eval()
    tokens = torch.randint(0, 10, (5, 2))
    expected = model(tokens)  # with backend="loop" this builds the cell template cache
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    # What the example allows for its own and torch's classes; rnnkit's drop-ins are allowed at import.
    with torch.serialization.safe_globals([WordModel, nn.Embedding, nn.Linear, nn.Dropout]):
        loaded = torch.load(buffer, weights_only=True)
    assert type(loaded.rnn) is rnnkit.LSTM and loaded.rnn.backend == backend
    assert torch.equal(loaded(tokens), expected)


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.GRU, rnnkit.LSTM])
@pytest.mark.parametrize("batch_first", [False, True])
def test_a_zero_length_sequence_gives_torchs_error_on_the_loop_backend(cls, batch_first):
    x = torch.randn(2, 0, 3) if batch_first else torch.randn(0, 2, 3)
    messages = []
    for backend in ("native", "loop"):
        with pytest.raises(RuntimeError) as error:
            cls(3, 4, batch_first=batch_first, backend=backend)(x)
        messages.append(str(error.value))
    assert messages[0] == messages[1] == "Expected sequence length to be larger than 0 in RNN"


def test_backend_fused_on_a_drop_in_is_refused_pointing_to_recurrent():
    with pytest.raises(ValueError, match=r"use rnnkit\.Recurrent\.from_torch\(layer, backend=\.\.\.\)"):
        rnnkit.LSTM(3, 4, backend="fused")
    layer = rnnkit.Recurrent.from_torch(rnnkit.LSTM(3, 4), backend="loop")
    assert isinstance(layer, rnnkit.Recurrent)


def test_fused_lstm_with_proj_size_is_refused_naming_proj_size():
    with pytest.raises(ValueError, match="proj_size"):
        rnnkit.Recurrent("lstm", 3, 6, proj_size=4, backend="fused")(torch.randn(2, 5, 3))
