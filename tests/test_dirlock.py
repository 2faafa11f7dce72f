"""One writer per output directory (issue 17.3): a second process gets a clear error naming the
holder's pid and host; a lock left by a killed process is taken over with a warning."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.dirlock import LOCK_FILE, DirectoryLock, DirectoryLocked
from rnnkit.tasks.framework.rundir import RunDirectory
from rnnkit.training import Trainer
from tests.training_helpers import LinearModel, linear_data

MODULE = Path(__file__).resolve().parents[1] / "src" / "rnnkit" / "dirlock.py"
# The lock module imports nothing from rnnkit: load it alone, so the holder starts in milliseconds.
HOLDER = f"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("dirlock", {str(MODULE)!r})
dirlock = importlib.util.module_from_spec(spec); spec.loader.exec_module(dirlock)
dirlock.DirectoryLock(sys.argv[1]).__enter__()
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "run")], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().strip() == "locked"
    yield process
    process.kill()
    process.wait(timeout=30)
    process.stdout.close()


def test_a_second_writer_of_a_run_directory_fails_naming_the_holder(tmp_path, holder):
    with pytest.raises(DirectoryLocked, match=rf"being written by process {holder.pid} on host {socket.gethostname()}"):
        with RunDirectory(tmp_path / "run"):
            pass


def test_a_second_trainer_on_the_same_output_dir_fails_before_writing(tmp_path, holder):
    trainer = Trainer(max_epochs=1, batch_size=8, output_dir=str(tmp_path / "run"), progress_bar=False, plot=False)
    with pytest.raises(DirectoryLocked, match=f"process {holder.pid}"):
        trainer.fit(LinearModel(), linear_data(16))
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [LOCK_FILE]  # no metrics.csv, no checkpoints


def test_a_lock_left_by_a_killed_process_is_taken_over_with_a_warning(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert json.loads((tmp_path / "run" / LOCK_FILE).read_text())["pid"] == holder.pid  # left behind
    with pytest.warns(UserWarning, match=f"stale lock from process {holder.pid}"):
        with RunDirectory(tmp_path / "run"):
            assert json.loads((tmp_path / "run" / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (tmp_path / "run" / LOCK_FILE).exists()


def test_the_same_process_may_nest_and_the_lock_is_released_after(tmp_path):
    with RunDirectory(tmp_path / "run") as run:
        trainer = Trainer(max_epochs=1, batch_size=8, output_dir=str(run.path), progress_bar=False, plot=False)
        trainer.fit(LinearModel(), linear_data(16))  # a Trainer inside the app's run directory
        assert (run.path / LOCK_FILE).exists() and LOCK_FILE not in run.listing()
    assert not (tmp_path / "run" / LOCK_FILE).exists()
    with DirectoryLock(tmp_path / "run"):
        pass
