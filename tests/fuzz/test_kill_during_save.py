"""Fault injection: SIGKILL a process at random instants while it saves over an existing model
(issue 17.2). The directory must always load as one complete version, and what the killed save
left behind must be gone after the next save."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

import rnnkit
from tests.fuzz.save_loop_script import version

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "fuzz" / "save_loop_script.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}


def kill_while_saving(path: Path, seed: int) -> None:
    process = subprocess.Popen([sys.executable, str(SCRIPT), str(path)], env=ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
        time.sleep(random.Random(seed).uniform(0.005, 0.3))
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()


def check_kills(tmp_path: Path, seeds: range) -> None:
    torch.set_num_threads(1)
    versions = [version(0).state_dict(), version(1).state_dict()]
    path = tmp_path / "model"
    for seed in seeds:
        kill_while_saving(path, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "a save was interrupted" when the kill fell between two renames
            loaded = rnnkit.load(path).state_dict()
        matches = [all(torch.equal(loaded[k], v[k]) for k in v) for v in versions]
        assert any(matches), f"seed {seed}: the directory holds neither version"
    version(0).save(path)  # the next save cleans up what the killed ones left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]


def test_a_save_killed_at_random_instants_leaves_a_loadable_model(tmp_path):
    check_kills(tmp_path, range(4))


@pytest.mark.slow
def test_a_save_killed_at_many_random_instants_leaves_a_loadable_model(tmp_path):
    check_kills(tmp_path, range(4, 24))
