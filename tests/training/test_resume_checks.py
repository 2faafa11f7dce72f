"""Resume refuses settings it cannot continue under, naming the difference, and a mid-epoch
resume reports the whole epoch's train_loss (issue 17.8)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.training import CheckpointError, Trainer
from tests.training_helpers import LinearModel, linear_data


class Crash(Exception):
    pass


class CrashAt:
    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, step, row):
        if step == self.step:
            raise Crash


def trainer(out, callbacks=(), **options):
    settings = {"max_epochs": 2, "batch_size": 4, "lr": 1e-2, "optimizer": "adamw", "seed": 3,
                "checkpoint_every_n_steps": 3, "output_dir": str(out), "progress_bar": False, "plot": False,
                **options}
    return Trainer(callbacks=list(callbacks), **settings)


def fresh_model():
    torch.manual_seed(0)
    return LinearModel()


def test_a_mid_epoch_resume_reports_the_whole_epochs_train_loss(tmp_path):
    data, val = linear_data(16), linear_data(8, seed=1)  # 4 steps per epoch
    straight = trainer(tmp_path / "a").fit(fresh_model(), data, val)
    with pytest.raises(Crash):  # after step 7; the last checkpoint is step 6 (epoch 1, batch 2)
        trainer(tmp_path / "b", [CrashAt(7)]).fit(fresh_model(), data, val)
    resumed = trainer(tmp_path / "b").fit(fresh_model(), data, val, resume=True)
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]


def test_resuming_with_another_optimizer_is_refused_naming_it(tmp_path):
    data = linear_data(16)
    trainer(tmp_path, max_epochs=1).fit(fresh_model(), data)
    with pytest.raises(CheckpointError, match="optimizer: checkpoint 'adamw', this run 'sgd'"):
        trainer(tmp_path, optimizer="sgd", optimizer_options={"momentum": 0.9}).fit(fresh_model(), data, resume=True)


def test_a_mid_epoch_checkpoint_refuses_another_batch_size_but_an_epoch_end_one_allows_it(tmp_path):
    data = linear_data(16)
    with pytest.raises(Crash):
        trainer(tmp_path, [CrashAt(4)]).fit(fresh_model(), data)  # last checkpoint: step 3, mid-epoch 0
    with pytest.raises(CheckpointError, match="batch_size: checkpoint 4, this run 8"):
        trainer(tmp_path, batch_size=8).fit(fresh_model(), data, resume=True)
    trainer(tmp_path, max_epochs=1).fit(fresh_model(), data, resume=True)  # ends epoch 0 with a checkpoint
    result = trainer(tmp_path, batch_size=8).fit(fresh_model(), data, resume=True)
    assert result.epochs == 2


def test_a_changed_model_shape_is_refused_naming_the_tensor(tmp_path):
    data = linear_data(16)
    trainer(tmp_path, max_epochs=1).fit(fresh_model(), data)
    wider = LinearModel()
    wider.linear = torch.nn.Linear(3, 2)
    with pytest.raises(CheckpointError, match=r"linear\.weight: checkpoint \[1, 3\], model \[2, 3\]"):
        trainer(tmp_path).fit(wider, data, resume=True)
