"""LearningRateDecay (Zaremba's fixed halving, the plateau rule) and step callbacks that stop mid-epoch."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from rnnkit import Trainer
from rnnkit.training import LearningRateDecay
from rnnkit.training.callbacks import TimeBudget
from tests.training_helpers import LinearModel, linear_data


def _fit(callbacks, epochs=5, **options):
    torch.manual_seed(0)
    trainer = Trainer(max_epochs=epochs, batch_size=8, optimizer="sgd", lr=1.0, device="cpu", progress_bar=False,
                      plot=False, shuffle=False, callbacks=callbacks, **options)
    return trainer.fit(LinearModel(), linear_data(32), linear_data(16, seed=1))


def test_fixed_schedule_halves_the_rate_after_each_epoch_from_the_nth():
    result = _fit([LearningRateDecay(0.5, after_epoch=2)])
    # the "lr" of an epoch record is the rate that epoch trained with
    assert [r["lr"] for r in result.history] == [1.0, 1.0, 0.5, 0.25, 0.125]
    assert [r["lr"] for r in _fit([]).history] == [1.0] * 5  # without the callback: constant


def _epochs(decay, losses, lr=1.0):
    """The rates after each epoch end of a fake trainer whose validations give ``losses``."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    trainer, rates = SimpleNamespace(optimizer=optimizer), []
    for epoch, loss in enumerate(losses):
        decay.on_epoch_end(trainer, epoch, {} if loss is None else {"val_loss": loss})
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


def test_plateau_rule_decays_after_each_validation_not_better_than_the_best():
    rates = _epochs(LearningRateDecay(0.25, on_plateau=True), [3.0, 2.0, 2.5, None, 2.2, 1.0, float("nan")])
    # 2.5 and 2.2 are worse than the best 2.0; an epoch without validation is no plateau; NaN is no improvement
    assert rates == [1.0, 1.0, 0.25, 0.25, 0.0625, 0.0625, 0.015625]


def test_both_rules_decay_once_per_epoch_and_never_below_min_lr():
    both = LearningRateDecay(0.5, after_epoch=2, on_plateau=True, min_lr=0.2)
    assert _epochs(both, [3.0, 4.0, 5.0, 1.0]) == [1.0, 0.5, 0.25, 0.2]
    assert both.decays == 3
    maximise = LearningRateDecay(0.5, on_plateau=True, mode="max")
    assert _epochs(maximise, [0.1, 0.3, 0.2]) == [1.0, 1.0, 0.5]


def test_state_survives_a_checkpoint_round_trip():
    decay = LearningRateDecay(0.5, on_plateau=True)
    _epochs(decay, [2.0, 3.0])
    again = LearningRateDecay(0.5, on_plateau=True)
    again.load_state_dict(decay.state_dict())
    assert (again.best, again.decays) == (2.0, 1)
    assert _epochs(again, [2.5]) == [0.5]  # still compared with the best before the resume


@pytest.mark.parametrize(("options", "message"), [
    ({"factor": 1.0, "after_epoch": 1}, "factor"), ({"factor": 0.0, "after_epoch": 1}, "factor"),
    ({"factor": 0.5}, "after_epoch/on_plateau"), ({"factor": 0.5, "after_epoch": 0}, "after_epoch"),
    ({"factor": 0.5, "on_plateau": True, "mode": "up"}, "mode"),
    ({"factor": 0.5, "on_plateau": True, "min_lr": -1.0}, "min_lr"),
])
def test_bad_options_name_the_argument(options, message):
    factor = options.pop("factor")
    with pytest.raises(ValueError, match=message):
        LearningRateDecay(factor, **options)


class _StopAtStep:
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer, step, row):
        if step == self.step:
            trainer.should_stop = True


def test_a_step_callback_stops_the_run_after_that_step_not_at_the_epochs_end():
    result = _fit([_StopAtStep(3)], epochs=3)  # 4 batches per epoch
    assert result.steps == 3
    assert result.stop_reason == "callback"
    assert "val_loss" in result.history[-1]  # the partial epoch is validated
    budget = _fit([TimeBudget(0.0, within_epoch=True)], epochs=3)
    assert budget.steps == 1
