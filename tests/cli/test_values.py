"""`rnnkit train --config`: values of the wrong type or that a task cannot build from are clear
errors (exit 2, no traceback), never coerced (issue 17.5, 17.9)."""

from __future__ import annotations

import pytest

from rnnkit.cli import main


@pytest.mark.parametrize("task, trainer, message", [
    ("steps: true", "", "task.steps: expected an integer, got True"),
    ("steps: 3.5", "", "task.steps: expected an integer"),
    ("steps: -5", "", "task 'recall': cannot be built from its settings"),
    ("", "shuffle: 'no'", "shuffle: expected true or false, got 'no'"),
    ("", "steps: true", "unknown key 'steps'"),
    ("", "max_steps: true", "max_steps: expected an integer"),
    ("", "lr: .inf", "lr: expected a non-negative number (finite)"),
    ("", "device: tpu", "device: expected 'auto', 'cpu', 'cuda'"),
])
def test_bad_values_in_a_config_file_are_clear_errors(tmp_path, capsys, task, trainer, message):
    config = tmp_path / "run.yaml"
    config.write_text(f"task:\n  name: recall\n  train_size: 8\n  val_size: 8\n  {task}\n"
                      f"trainer:\n  max_steps: 1\n  plot: false\n  {trainer}\n")
    assert main(["train", "--config", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_output_dir_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    config = tmp_path / "run.yaml"
    config.write_text("task:\n  name: recall\n  train_size: 8\n  val_size: 8\ntrainer:\n  max_steps: 1\n")
    assert main(["train", "--config", str(config), "--quiet", "--output-dir", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert "exists and is a file, not a directory" in err and "Traceback" not in err


def test_a_zero_step_task_is_a_clear_error(tmp_path, capsys):
    config = tmp_path / "run.yaml"  # found by the fuzz suite: IndexError inside the recall task's data
    config.write_text("task:\n  name: recall\n  train_size: 8\n  val_size: 8\n  steps: 0\ntrainer:\n  max_steps: 1\n")
    assert main(["train", "--config", str(config), "--quiet"]) == 2
    assert "cannot be built from its settings" in capsys.readouterr().err
