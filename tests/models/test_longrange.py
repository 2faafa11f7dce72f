"""LongRangeModel: the papers' initialisations per recipe, the IndRNN constraint, save/load."""

from __future__ import annotations

import math

import pytest
import torch

import rnnkit
from rnnkit.data.longrange import (
    copy_memory,
)
from rnnkit.models import ConstrainIndRNN, LongRangeModel, callbacks_for


def test_indrnn_recipe_bounds_and_inits_the_recurrent_weights():
    model = LongRangeModel("indrnn", 2, 16, 1, steps=100)
    bound = 2 ** (1 / 100)
    first, last = model.rnn.cells["l0"], model.rnn.cells["l1"]
    assert model.rnn.num_layers == 2 and first.nonlinearity == "relu" and first.recurrent_max_abs == bound
    assert 0 <= first.weight_hh.min() and first.weight_hh.max() <= bound
    assert last.weight_hh.min() >= 1 / bound and last.weight_hh.max() <= bound
    with torch.no_grad():
        last.weight_hh.fill_(3.0)  # what a large update could do
    callback = ConstrainIndRNN()
    callback.on_step_end(type("T", (), {"model": model})(), 1, {})
    assert torch.allclose(last.weight_hh, torch.full((16,), bound))
    assert [type(c) for c in callbacks_for(model)] == [ConstrainIndRNN]
    assert callbacks_for(LongRangeModel("lstm", 2, 4, 1)) == []


def test_irnn_and_chrono_recipes():
    irnn = LongRangeModel("irnn", 2, 8, 1).rnn.cells["l0"]
    assert irnn.nonlinearity == "relu" and torch.equal(irnn.weight_hh, torch.eye(8))
    assert irnn.weight_ih.abs().max() < 0.01 and irnn.bias_ih.abs().max() == 0
    lstm = LongRangeModel("lstm", 2, 8, 1, steps=500, chrono=True).rnn.cells["l0"]
    forget = lstm.bias_ih[8:16] + lstm.bias_hh[8:16]
    assert 0 <= forget.min() and forget.max() <= math.log(499)  # log U(1, T - 1)
    assert torch.allclose(lstm.bias_ih[:8], -lstm.bias_ih[8:16])


def test_model_save_load_round_trip(tmp_path):
    model = LongRangeModel("lru", 10, 8, 10, steps=30, objective="classification", readout="every",
                           accuracy_steps=10)
    x, y = copy_memory(3, 10)
    model.save(tmp_path / "m")
    loaded = rnnkit.load(tmp_path / "m")
    assert torch.equal(loaded(x), model(x)) and loaded(x).shape == (3, 30, 10)
    metrics = loaded.validation_step((x, y))
    assert set(metrics) == {"loss", "accuracy", "recall_accuracy"}
    with pytest.raises(ValueError, match="model: unknown model 'lsmt'"):
        LongRangeModel("lsmt", 2, 4, 1)
