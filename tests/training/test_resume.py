"""Checkpoints: a run killed with SIGKILL mid-epoch resumes to bit-identical weights; bad checkpoints are refused."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit import Trainer
from rnnkit.models import RecurrentRegressor
from rnnkit.training import CheckpointError
from tests.training_helpers import LinearModel, linear_data, recall_setup

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "resume_script.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=ENV, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("loader", [False, True], ids=["dataset", "dataloader"])
def test_sigkill_mid_epoch_then_resume_gives_bit_identical_weights(tmp_path, loader):
    extra = ["--loader"] if loader else []
    straight = _run(str(tmp_path / "straight"), *extra)
    assert straight.returncode == 0, straight.stderr
    killed = _run(str(tmp_path / "killed"), "--kill-at", "13", *extra)  # 8 steps per epoch: epoch 1, batch 5
    assert killed.returncode == -signal.SIGKILL
    latest = (tmp_path / "killed" / "checkpoints" / "latest.json").read_text()
    assert "step-00000012" in latest  # the last checkpoint before the kill (every 3 steps)
    resumed = _run(str(tmp_path / "killed"), "--resume", *extra)
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    b = load_file(tmp_path / "killed" / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # The resumed run's log equals the straight run's: the rows the killed run wrote after step 12 were dropped.
    def rows(run):
        with (tmp_path / run / "metrics.csv").open() as handle:
            return [(r["step"], r["train_loss"], r["grad_norm"], r["val_loss"]) for r in csv.DictReader(handle)]

    assert rows("killed") == rows("straight") and len(rows("straight")) >= 5


def _train_a_little(tmp_path, model=None, **options):
    model = model or LinearModel()
    trainer = Trainer(max_epochs=1, batch_size=8, output_dir=str(tmp_path), progress_bar=False, plot=False, **options)
    trainer.fit(model, linear_data(16))
    return model


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint to resume from"):
        Trainer(max_epochs=1, output_dir=str(tmp_path), progress_bar=False).fit(
            LinearModel(), linear_data(8), resume=True)
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        Trainer(max_epochs=1, progress_bar=False).fit(LinearModel(), linear_data(8), resume=str(tmp_path / "nope"))


def test_corrupted_checkpoint_is_refused_and_left_alone(tmp_path):
    _train_a_little(tmp_path)
    weights = tmp_path / "checkpoints" / "step-00000002" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF
    weights.write_bytes(bytes(data))
    listing = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(CheckpointError, match="does not match the checksum"):
        Trainer(max_epochs=2, batch_size=8, output_dir=str(tmp_path), progress_bar=False).fit(
            LinearModel(), linear_data(16), resume=True)
    assert weights.read_bytes() == bytes(data) and sorted(str(p) for p in tmp_path.rglob("*")) == listing
    (tmp_path / "checkpoints" / "step-00000002" / "trainer.json").write_text("{truncated")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        Trainer(max_epochs=2, output_dir=str(tmp_path), progress_bar=False).fit(
            LinearModel(), linear_data(16), resume=True)


def test_resume_with_a_different_model_config_is_refused(tmp_path):
    model, train, _ = recall_setup(n=16, hidden=8)
    Trainer(max_epochs=1, batch_size=8, output_dir=str(tmp_path), progress_bar=False, plot=False).fit(model, train)
    before = (tmp_path / "checkpoints" / "step-00000002" / "model.safetensors").read_bytes()
    other = RecurrentRegressor("lstm", 1, 16, 1)
    with pytest.raises(CheckpointError, match=r"config differs \(hidden_size: checkpoint 8, model 16\)"):
        Trainer(max_epochs=2, batch_size=8, output_dir=str(tmp_path), progress_bar=False).fit(other, train, resume=True)
    assert (tmp_path / "checkpoints" / "step-00000002" / "model.safetensors").read_bytes() == before


def test_checkpoints_hold_no_pickle(tmp_path):
    _train_a_little(tmp_path, optimizer="sgd", optimizer_options={"momentum": 0.9})
    files = sorted(p.name for p in (tmp_path / "checkpoints" / "step-00000002").iterdir())
    assert files == ["model.safetensors", "optimizer.safetensors", "trainer.json"]
    optimizer = load_file(tmp_path / "checkpoints" / "step-00000002" / "optimizer.safetensors")
    assert set(optimizer) == {"0.momentum_buffer", "1.momentum_buffer"}


def test_resume_extends_a_finished_run(tmp_path):
    model = _train_a_little(tmp_path)
    result = Trainer(max_epochs=3, batch_size=8, output_dir=str(tmp_path), progress_bar=False, plot=False).fit(
        model, linear_data(16), resume=True)
    assert result.epochs == 3 and result.steps == 6 and len(result.history) == 3
