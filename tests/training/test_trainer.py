"""Trainer: the arithmetic of one step (accumulation, clipping, averaging), schedules, stopping, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from rnnkit import Trainer, TrainerConfig
from rnnkit.training import BatchError, TrainingDiverged
from tests.training_helpers import LinearModel, linear_data, recall_setup


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_training_reduces_the_loss_on_a_learnable_task():
    torch.manual_seed(0)
    model, data = LinearModel(), linear_data(64)
    trainer = Trainer(max_epochs=30, batch_size=16, lr=0.05, optimizer="adam", progress_bar=False)
    before = trainer.evaluate(model, data)["loss"]
    result = trainer.fit(model, data, data)
    after = trainer.evaluate(model, data)["loss"]
    assert after < 0.05 < before and result.epochs == 30 and result.steps == 30 * 4
    assert result.stop_reason == "max_epochs"
    assert result.history[-1]["val_loss"] == pytest.approx(after)
    assert torch.allclose(model.linear.weight, torch.tensor([[1.0, -2.0, 0.5]]), atol=0.1)


def test_one_sgd_step_matches_a_hand_written_step():
    torch.manual_seed(0)
    model, data = LinearModel(), linear_data(8)
    expected = LinearModel()
    expected.load_state_dict(model.state_dict())
    x, y = data.tensors
    loss = F.mse_loss(expected.linear(x).squeeze(-1), y)
    loss.backward()
    with torch.no_grad():
        for p in expected.parameters():
            p -= 0.1 * p.grad
    Trainer(max_steps=1, batch_size=8, optimizer="sgd", lr=0.1, shuffle=False, progress_bar=False).fit(model, data)
    for name, tensor in expected.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], tensor, rtol=0, atol=1e-7)


def test_gradient_accumulation_equals_one_large_batch():
    torch.manual_seed(0)
    a, data = LinearModel(), linear_data(16)
    b = LinearModel()
    b.load_state_dict(a.state_dict())
    common = {"max_steps": 2, "optimizer": "sgd", "lr": 0.1, "shuffle": False, "progress_bar": False}
    Trainer(batch_size=8, **common).fit(a, data)
    Trainer(batch_size=4, accumulate_grad_batches=2, **common).fit(b, data)
    for name, tensor in a.state_dict().items():
        torch.testing.assert_close(b.state_dict()[name], tensor, rtol=1e-6, atol=1e-7)


def test_clip_grad_norm_limits_the_update_and_the_norm_is_recorded():
    torch.manual_seed(0)
    model, data = LinearModel(), linear_data(8)
    start = _weights(model)
    rows = []

    class Keep:
        def on_step_end(self, trainer, step, row):
            rows.append(row)

    trainer = Trainer(max_steps=1, batch_size=8, optimizer="sgd", lr=1.0, clip_grad_norm=0.01, shuffle=False,
                      progress_bar=False, callbacks=[Keep()])
    trainer.fit(model, data)
    moved = torch.cat([(model.state_dict()[k] - v).flatten() for k, v in start.items()])
    assert rows[0]["grad_norm"] > 0.01  # the raw norm is recorded before clipping
    assert moved.norm().item() == pytest.approx(0.01, rel=1e-4)  # sgd with lr 1: update = clipped gradient
    assert rows[0]["abs_error"] > 0  # extras returned by training_step are logged


def test_evaluate_weights_batches_by_their_size():
    model, data = LinearModel(), linear_data(10)
    trainer = Trainer(batch_size=4, progress_bar=False)  # batches of 4, 4, 2
    metrics = trainer.evaluate(model, data)
    x, y = data.tensors
    with torch.no_grad():
        exact = F.mse_loss(model.linear(x).squeeze(-1), y).item()
    assert metrics["loss"] == pytest.approx(exact, rel=1e-6)
    assert metrics["count_marker"] == pytest.approx((4 * 4 + 4 * 4 + 2 * 2) / 10)


def test_predict_concatenates_in_order():
    model, data = recall_setup(n=10)[0], recall_setup(n=10)[1]
    out = Trainer(batch_size=4, progress_bar=False).predict(model, data)
    with torch.no_grad():
        expected, _ = model(data.tensors[0])
    assert out.shape == (10, 1)
    torch.testing.assert_close(out, expected)


def test_nonfinite_steps_are_skipped_counted_and_logged(tmp_path):
    torch.manual_seed(0)
    model, data = LinearModel(), linear_data(16)
    model.nan_calls = {2, 3}
    trainer = Trainer(max_steps=6, batch_size=4, lr=0.01, output_dir=str(tmp_path), log_every_n_steps=100,
                      progress_bar=False, plot=False)
    result = trainer.fit(model, data)
    assert result.nonfinite_steps == 2 and result.steps == 6
    assert all(torch.isfinite(p).all() for p in model.parameters())
    log = (tmp_path / "metrics.csv").read_text().splitlines()
    skipped = [line for line in log[1:] if line.split(",")[log[0].split(",").index("skipped")] == "1"]
    assert len(skipped) == 2


def test_too_many_nonfinite_steps_stop_with_a_clear_message_and_keep_files(tmp_path):
    torch.manual_seed(0)
    model, data = LinearModel(), linear_data(16)
    model.nan_calls = set(range(6, 100))
    trainer = Trainer(max_epochs=10, batch_size=4, lr=0.01, output_dir=str(tmp_path), max_nonfinite_steps=3,
                      progress_bar=False, plot=False)
    message = r"stopped at step 8 .*3 consecutive.*last finite loss was [0-9.]+ at step 5"
    with pytest.raises(TrainingDiverged, match=message):
        trainer.fit(model, data)
    assert (tmp_path / "checkpoints" / "step-00000004" / "model.safetensors").exists()  # end of epoch 0
    assert (tmp_path / "metrics.csv").read_text().count("\n") >= 3


def test_best_checkpoint_weights_can_be_restored(tmp_path):
    from rnnkit.training import load_checkpoint_weights

    torch.manual_seed(0)
    model, data = LinearModel(), linear_data(16)
    result = Trainer(max_epochs=3, batch_size=8, lr=0.05, output_dir=str(tmp_path), progress_bar=False,
                     plot=False, keep_last_checkpoints=3).fit(model, data, data)
    first = Trainer(max_epochs=1, progress_bar=False)
    load_checkpoint_weights(model, tmp_path / "checkpoints" / "step-00000002")
    assert first.evaluate(model, data)["loss"] == pytest.approx(result.history[0]["val_loss"])
    load_checkpoint_weights(model, result.best_checkpoint)
    assert first.evaluate(model, data)["loss"] == pytest.approx(result.best_metric)


def test_early_stopping_and_best_checkpoint(tmp_path):
    torch.manual_seed(0)
    model, data = LinearModel(), linear_data(16)
    # lr 0 never improves after the first validation: stop after `patience` more.
    trainer = Trainer(max_epochs=20, batch_size=8, lr=0.0, optimizer="sgd", early_stopping_patience=2,
                      output_dir=str(tmp_path), progress_bar=False, plot=False, keep_last_checkpoints=1)
    result = trainer.fit(model, data, data)
    assert result.stop_reason == "early_stopping" and result.epochs == 3
    assert result.best_checkpoint.name == "step-00000002"
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*"))
    assert kept == ["step-00000002", "step-00000006"]  # the best and the last one


@pytest.mark.parametrize("name", ["cosine", "one-cycle"])
def test_per_step_schedules_span_the_whole_run(name):
    model, data = LinearModel(), linear_data(16)
    lrs = []

    class Keep:
        def on_step_end(self, trainer, step, row):
            lrs.append(trainer.optimizer.param_groups[0]["lr"])

    Trainer(max_epochs=3, batch_size=4, lr=0.1, scheduler=name, progress_bar=False, callbacks=[Keep()]).fit(model, data)
    assert len(lrs) == 12
    assert lrs[-1] < 0.02 * max(lrs) and max(lrs) == pytest.approx(0.1, rel=0.05)


def test_reduce_on_plateau_follows_the_monitored_metric():
    model, data = LinearModel(), linear_data(16)
    # With lr 1e-6 the loss moves by far less than the plateau threshold (1e-4 relative).
    trainer = Trainer(max_epochs=3, batch_size=8, lr=1e-6, optimizer="sgd", scheduler="reduce-on-plateau",
                      scheduler_options={"patience": 0, "factor": 0.5}, progress_bar=False)
    trainer.fit(model, data, data)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(1e-6 * 0.25)  # two plateaus after the first


def test_bf16_mixed_precision_trains_on_cpu():
    model, train, val = recall_setup(n=32)
    result = Trainer(max_epochs=2, batch_size=16, lr=1e-2, precision="bf16-mixed", progress_bar=False).fit(
        model, train, val)
    assert math.isfinite(result.history[-1]["val_loss"])
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_progress_bar_is_quiet_off_a_terminal_and_shows_loss_when_asked(capsys):
    model, data = LinearModel(), linear_data(16)
    Trainer(max_epochs=1, batch_size=8, progress_bar=None).fit(model, data)  # stderr is captured: not a TTY
    assert capsys.readouterr().err == ""
    Trainer(max_epochs=1, batch_size=8, progress_bar=True).fit(model, data)
    err = capsys.readouterr().err
    assert "2/2" in err and "loss=" in err and "grad_norm=" in err and "ex/s=" in err


def test_a_ready_dataloader_and_max_steps():
    model, data = LinearModel(), linear_data(32)
    loader = DataLoader(data, batch_size=4, shuffle=True)
    result = Trainer(max_epochs=None, max_steps=5, progress_bar=False).fit(model, loader)
    assert result.steps == 5 and result.stop_reason == "max_steps"


def test_wrong_shapes_from_the_data_are_reported_with_the_batch():
    model = LinearModel()
    bad = [(torch.randn(4, 5), torch.randn(4))]
    with pytest.raises(BatchError, match=r"epoch 0, batch 0 \(batch\[0\]: \(4, 5\) float32, batch\[1\]: \(4,\)"):
        Trainer(max_epochs=1, progress_bar=False).fit(model, bad)
    ragged = [(torch.randn(4, 3), torch.randn(3))]
    with pytest.raises(BatchError, match="disagree on the batch size"):
        Trainer(max_epochs=1, progress_bar=False).fit(model, ragged)


@pytest.mark.parametrize(("options", "message"), [
    ({"max_epochs": None}, "max_epochs and max_steps"),
    ({"lr": -1}, "lr: expected a non-negative number"),
    ({"precision": "16"}, "precision: expected one of"),
    ({"scheduler": "cosin"}, "scheduler: expected None or one of"),
    ({"tbptt_steps": 4, "tbptt_backprop_steps": 6}, "multiple of tbptt_steps=4"),
    ({"batch_sise": 4}, "did you mean 'batch_size'"),
])
def test_bad_options_name_the_field(options, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Trainer(**options)


def test_config_round_trips_through_a_dict():
    config = TrainerConfig(max_epochs=3, scheduler="cosine", optimizer_options={"betas": [0.8, 0.9]})
    assert TrainerConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("scheduler", [None, "one-cycle", "cosine"])
def test_training_data_that_gives_no_batch_is_an_error_naming_it(scheduler):
    # Found by the fuzz suite: an empty dataset with scheduler="one-cycle" failed inside torch
    # ("Expected positive integer total_steps"), and without a schedule it "trained" zero steps.
    from torch.utils.data import TensorDataset

    empty = TensorDataset(torch.randn(0, 3), torch.randn(0))
    with pytest.raises(ValueError, match=r"train_data: .*0 samples"):
        Trainer(max_steps=3, scheduler=scheduler, progress_bar=False, plot=False).fit(LinearModel(3), empty)
    short = TensorDataset(torch.randn(3, 3), torch.randn(3))
    with pytest.raises(ValueError, match=r"train_data: .*3 samples, batch_size=4 with drop_last=True"):
        Trainer(max_steps=3, batch_size=4, drop_last=True, scheduler=scheduler, progress_bar=False,
                plot=False).fit(LinearModel(3), short)
