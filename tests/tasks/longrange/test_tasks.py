"""The registered long-range tasks through rnnkit train (the IndRNN constraint callback included)."""

from __future__ import annotations

import csv
import math

import rnnkit
from rnnkit.cli import main
from rnnkit.tasks import get_task


def test_train_cli_runs_the_registered_adding_task_with_the_indrnn_constraint(tmp_path):
    assert {"adding", "copy", "smnist", "psmnist"} <= set(rnnkit.tasks.available_tasks())
    assert get_task("adding").config_class().model == "indrnn"
    # A huge learning rate pushes the recurrent weights far past the bound unless the task's callback
    # (passed to the Trainer by `rnnkit train`) projects them back after every step.
    code = main(["train", "--task", "adding", "--task.model", "indrnn", "--task.steps", "12", "--task.hidden-size",
                 "4", "--task.batches-per-epoch", "3", "--task.test-size", "16", "--max-epochs", "2",
                 "--batch-size", "8", "--lr", "0.5", "--plot", "false", "--quiet",
                 "--output-dir", str(tmp_path / "run")])
    assert code == 0
    with (tmp_path / "run" / "metrics.csv").open() as handle:
        logged = [r for r in csv.DictReader(handle) if r.get("val_loss")]
    assert [int(r["step"]) for r in logged] == [3, 6] and all(math.isfinite(float(r["val_loss"])) for r in logged)
    model = rnnkit.load(tmp_path / "run" / "model")
    bound = 2 ** (1 / 12)
    for cell in model.rnn.cells.values():
        assert cell.weight_hh.abs().max() <= bound + 1e-6
