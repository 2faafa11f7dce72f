"""End to end: `rnnkit train` / `rnnkit diagnose` from config files and flags, and 2-process DDP via torchrun."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import rnnkit
from rnnkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}

YAML = """\
task:
  name: recall
  steps: 6
  train_size: 64
  val_size: 32
  hidden_size: 8
trainer:
  max_epochs: 2
  batch_size: 16
  lr: 0.01
"""


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("train", "diagnose", "demo"))


def test_train_from_yaml_with_flag_overrides_writes_everything(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text(YAML)
    out = tmp_path / "out"
    code = main(["train", "--config", str(config), "--max-epochs", "3", "--task.cell", "gru",
                 "--output-dir", str(out), "--log-every-n-steps", "1", "--tensorboard", "true"])
    assert code == 0
    assert "recall: 3 epochs, 12 steps (max_epochs)" in capsys.readouterr().out
    with (out / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["step"] for r in rows if r["train_loss"]] == [str(s) for s in range(1, 13)]
    assert len([r for r in rows if r["val_loss"]]) == 3
    assert (out / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert any((out / "tensorboard").iterdir())
    model = rnnkit.load(out / "model")
    assert model.get_config()["cell"] == "gru"  # the flag overrode the file's default


def test_train_from_toml(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('[task]\nname = "recall"\nsteps = 6\nhidden_size = 4\ntrain_size = 64\nval_size = 16\n\n'
                      '[trainer]\nmax_steps = 3\nbatch_size = 16\n')
    assert main(["train", "--config", str(config), "--quiet"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("content", "args", "message"), [
    ("trainer:\n  max_epoch: 3\n", [], "trainer: unknown key 'max_epoch'; did you mean 'max_epochs'?"),
    ("task:\n  name: recall\n  stepz: 3\n", [], "task 'recall': unknown key 'stepz'; did you mean 'steps'?"),
    ("tasks: recall\n", [], "unknown section 'tasks'"),
    ("", ["--max-epoch", "3"], "unknown option --max-epoch; did you mean --max-epochs?"),
    ("", ["--task.step", "3"], "unknown option --task.step; did you mean --task.steps?"),
    ("", ["--task", "recal"], "unknown task 'recal'; did you mean 'recall'?"),
    ("", ["--lr", "fast"], "--lr: cannot read 'fast' as float"),
    ("", ["--precision", "16"], "precision: expected one of"),
])
def test_config_errors_name_the_key_and_suggest(tmp_path, capsys, content, args, message):
    config = tmp_path / "run.yaml"
    config.write_text(content or "task: recall\n")
    try:
        code = main(["train", "--config", str(config), *args])
    except SystemExit as stop:  # argparse's own exit for a bad flag
        code = stop.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_diagnose_compares_cells_and_writes_a_png(tmp_path, capsys):
    png = tmp_path / "flow.png"
    assert main(["diagnose", "--task", "recall", "--task.steps", "12", "--task.hidden-size", "8",
                 "--cells", "elman,lstm", "--output", str(png)]) == 0
    out = capsys.readouterr().out
    assert "elman:" in out and "lstm:" in out and "first/last" in out
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_ddp_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(YAML + "  plot: false\n")
    common = ["-m", "rnnkit", "train", "--config", str(config), "--quiet"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    two = subprocess.run([*launcher, *common, "--batch-size", "4", "--output-dir", str(tmp_path / "two")],
                         env=ENV, capture_output=True, text=True, timeout=180)
    assert two.returncode == 0, two.stderr[-3000:]
    one = subprocess.run([sys.executable, *common, "--batch-size", "8", "--output-dir", str(tmp_path / "one")],
                         env=ENV, capture_output=True, text=True, timeout=120)
    assert one.returncode == 0, one.stderr[-3000:]
    a = load_file(tmp_path / "one" / "model" / "model.safetensors")
    b = load_file(tmp_path / "two" / "model" / "model.safetensors")
    start = rnnkit.load(tmp_path / "one" / "model")  # sanity: training moved the weights
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-6)
    assert start is not None
    # Rank 0 alone wrote: one log with each step once, checkpoints at the same steps.
    with (tmp_path / "two" / "metrics.csv").open() as handle:
        two_rows = list(csv.DictReader(handle))
    with (tmp_path / "one" / "metrics.csv").open() as handle:
        one_rows = list(csv.DictReader(handle))
    assert [r["step"] for r in two_rows] == [r["step"] for r in one_rows]
    for r1, r2 in zip(one_rows, two_rows, strict=True):
        for key in ("train_loss", "val_loss"):
            if r1[key]:
                assert float(r2[key]) == pytest.approx(float(r1[key]), rel=1e-5)
