"""SIGTERM / SIGINT during fit: the step is finished, a checkpoint written, the exit status is
143 / 130 with a resume hint, and the resumed run is bit-identical (issue 17.4). Real signals,
sent by this test to a training subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "training" / "signal_script.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


def _default_stop_signals() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def run(out: Path, *extra: str, signal_at: int | None = None, signum: int = signal.SIGTERM):
    wait = ["--wait-at", str(signal_at)] if signal_at is not None else []
    # preexec_fn: a test run started in the background by a shell inherits SIGINT ignored, and rnnkit
    # (like Python) leaves an ignored signal alone; the child here stands for a program run from a terminal.
    process = subprocess.Popen([sys.executable, str(SCRIPT), str(out), *extra, *wait], env=ENV,
                               preexec_fn=_default_stop_signals, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line.strip())
        if signal_at is not None and line.strip() == f"step {signal_at}":
            process.send_signal(signum)
    stderr = process.stderr.read()
    process.wait(timeout=120)
    process.stdout.close()
    process.stderr.close()
    return process.returncode, lines, stderr


def weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(f"{out}.weights.pt", weights_only=True)


def interrupted(out: Path, signum: int, status: int) -> int:
    code, lines, stderr = run(out, signal_at=11, signum=signum)  # mid-epoch 1 (8 steps per epoch)
    assert code == status, stderr
    assert "Traceback" not in stderr
    stopped = int(lines[-1].split()[1])
    assert stopped >= 11 and f"after step {stopped}" in stderr and "resume=True" in stderr
    assert f"step-{stopped:08d}" in (out / "checkpoints" / "latest.json").read_text()
    return stopped


def test_sigterm_checkpoints_exits_143_and_resumes_bit_identically(tmp_path, capsys):
    from tests.training.signal_script import train

    straight = train(None, announce=False)  # the uninterrupted run, in this process
    out = tmp_path / "run"
    stopped = interrupted(out, signal.SIGTERM, 143)
    code, lines, stderr = run(out, "--resume")
    assert code == 0, stderr
    assert lines[0] == f"step {stopped + 1}"  # no step was lost or repeated
    resumed = weights(out)
    for name, value in straight.items():
        assert torch.equal(resumed[name], value), name


@pytest.mark.slow
def test_sigint_checkpoints_and_exits_130_without_a_traceback(tmp_path):
    interrupted(tmp_path / "run", signal.SIGINT, 130)


@pytest.mark.slow
def test_without_an_output_dir_the_message_says_nothing_was_saved(tmp_path):
    code, _, stderr = run(tmp_path / "run", "--no-output", signal_at=3)
    assert code == 143 and "nothing was saved" in stderr and "Traceback" not in stderr
