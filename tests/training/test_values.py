"""Bad numbers never pass silently: TrainerConfig refuses wrong types and non-finite values, and a
step that leaves non-finite weights stops training with the step's number (issue 17.5)."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.training import Trainer, TrainerConfig, TrainingDiverged
from tests.training_helpers import LinearModel, linear_data


@pytest.mark.parametrize("options, message", [
    ({"lr": math.inf}, r"lr: expected a non-negative number \(finite\)"),
    ({"lr": math.nan}, r"lr: expected a non-negative number \(finite\)"),
    ({"weight_decay": -math.inf}, "weight_decay"),
    ({"clip_grad_norm": math.inf}, "clip_grad_norm"),
    ({"clip_grad_value": math.nan}, "clip_grad_value"),
    ({"shuffle": "no"}, "shuffle: expected true or false, got 'no'"),
    ({"drop_last": 1}, "drop_last"),
    ({"plot": "yes"}, "plot"),
    ({"progress_bar": "auto"}, "progress_bar"),
    ({"max_steps": True}, "max_steps: expected an integer"),
    ({"batch_size": 8.0}, "batch_size"),
    ({"device": "tpu"}, "device: expected 'auto', 'cpu', 'cuda'"),
    ({"device": 0}, "device: expected a string"),
    ({"monitor": None}, "monitor"),
    ({"output_dir": 3}, "output_dir"),
])
def test_wrong_types_and_non_finite_values_are_errors_naming_the_field(options, message):
    with pytest.raises((TypeError, ValueError), match=message):
        TrainerConfig(**options)


def test_a_path_output_dir_is_kept_as_a_string(tmp_path):
    assert TrainerConfig(output_dir=tmp_path).output_dir == str(tmp_path)


def test_an_update_that_overflows_the_weights_stops_at_that_step():
    torch.manual_seed(0)
    model = LinearModel()
    trainer = Trainer(max_steps=3, batch_size=8, lr=1e38, optimizer="sgd", progress_bar=False, plot=False)
    with pytest.raises(TrainingDiverged, match=r"parameters are not finite after optimizer step 1 \(linear\.weight"):
        trainer.fit(model, linear_data(32))
