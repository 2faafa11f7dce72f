"""EarlyStopping and KeepBest as Trainer callbacks, and the loop's stop/on_fit_end hooks."""

from __future__ import annotations

import pytest
import torch

from rnnkit.training import EarlyStopping, KeepBest, Trainer
from tests.training_helpers import LinearModel, linear_data


class ScriptedValidation(LinearModel):
    """A model whose validation loss follows a script, one value per epoch."""

    def __init__(self, losses):
        super().__init__()
        self.losses, self.epoch = list(losses), -1

    def validation_step(self, batch):
        return {"loss": torch.tensor(self.losses[self.epoch])}


class EpochCounter:
    def on_epoch_end(self, trainer, epoch, record):
        trainer.model.epoch = epoch + 1


def fit(losses, callbacks, **options):
    torch.manual_seed(0)
    model = ScriptedValidation(losses)
    model.epoch = 0
    trainer = Trainer(max_epochs=len(losses), batch_size=8, lr=1e-2, optimizer="sgd", progress_bar=False,
                      plot=False, callbacks=[*callbacks, EpochCounter()], **options)
    return model, trainer.fit(model, linear_data(16), linear_data(8, seed=1))


def test_early_stopping_stops_after_patience_validations_without_improvement():
    stopper = EarlyStopping("val_loss", patience=2)
    _, result = fit([3.0, 2.0, 2.5, 2.1, 1.0, 0.5], [stopper])
    assert result.stop_reason == "early_stopping"
    assert result.epochs == 4  # epochs 2 and 3 did not beat 2.0
    assert stopper.best == 2.0 and stopper.bad_validations == 2


def test_early_stopping_in_max_mode_and_min_delta():
    stopper = EarlyStopping("val_loss", patience=1, mode="max", min_delta=0.5)
    _, result = fit([1.0, 1.4, 3.0], [stopper])  # 1.4 is not better than 1.0 by more than 0.5
    assert result.stop_reason == "early_stopping" and result.epochs == 2


def test_keep_best_puts_back_the_weights_of_the_best_epoch():
    keeper = KeepBest("val_loss")

    class Snapshot:
        def __init__(self):
            self.weights = {}

        def on_epoch_end(self, trainer, epoch, record):
            self.weights[epoch] = trainer.model.linear.weight.detach().clone()

    snapshot = Snapshot()
    model, _ = fit([3.0, 1.0, 2.0, 4.0], [keeper, snapshot])
    assert keeper.best == 1.0 and keeper.best_epoch == 1
    assert not torch.equal(snapshot.weights[1], snapshot.weights[3])  # training moved on after epoch 1
    assert torch.equal(model.linear.weight, snapshot.weights[1])


def test_keep_best_without_validation_leaves_the_last_weights():
    keeper = KeepBest("val_loss")
    torch.manual_seed(0)
    model = LinearModel()
    Trainer(max_epochs=2, batch_size=8, progress_bar=False, plot=False, callbacks=[keeper]).fit(model, linear_data(16))
    assert keeper.weights is None


def test_early_stopping_state_is_checkpointed_and_resumed(tmp_path):
    losses = [3.0, 2.0, 2.5, 2.6, 2.7, 2.8]
    _, whole = fit(losses, [EarlyStopping("val_loss", patience=3)], output_dir=str(tmp_path / "a"))
    assert whole.stop_reason == "early_stopping" and whole.epochs == 5
    # Stop after 3 epochs, then resume with a fresh callback: it must remember 1 bad validation.
    _, first = fit(losses[:3], [EarlyStopping("val_loss", patience=3)], output_dir=str(tmp_path / "b"))
    assert first.stop_reason == "max_epochs"
    model = ScriptedValidation(losses)
    model.epoch = 3
    resumed = Trainer(max_epochs=6, batch_size=8, lr=1e-2, optimizer="sgd", progress_bar=False, plot=False,
                      output_dir=str(tmp_path / "b"), callbacks=[EarlyStopping("val_loss", patience=3),
                                                                 EpochCounter()])
    result = resumed.fit(model, linear_data(16), linear_data(8, seed=1), resume=True)
    assert result.stop_reason == "early_stopping" and result.epochs == 5


def test_config_patience_is_the_early_stopping_callback():
    _, result = fit([3.0, 2.0, 2.5, 2.1, 1.0], [], early_stopping_patience=2)
    assert result.stop_reason == "early_stopping" and result.epochs == 4


@pytest.mark.parametrize("options, message", [
    ({"patience": -1}, "patience"), ({"patience": True}, "patience"), ({"mode": "up"}, "mode"),
    ({"min_delta": float("nan")}, "min_delta"),
])
def test_bad_callback_options_name_the_argument(options, message):
    with pytest.raises(ValueError, match=message):
        EarlyStopping("val_loss", **options)
