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


def test_the_two_rename_fallback_is_seen_through_by_load_and_repaired_by_the_next_save(tmp_path, monkeypatch):
    from rnnkit import atomic_dir

    torch.set_num_threads(1)
    monkeypatch.setattr(atomic_dir, "_exchange", lambda a, b: False)  # a system without renameat2
    path = tmp_path / "model"
    version(0).save(path)
    version(1).save(path)  # replaced by two renames
    expected = version(1).state_dict()
    assert all(torch.equal(rnnkit.load(path).state_dict()[k], v) for k, v in expected.items())
    # A kill between the two renames: the previous model is aside, nothing at `path`.
    dead_pid = 2**22 + 17  # above the default pid_max: no such process
    path.rename(tmp_path / f".model.old-{dead_pid}-abcd")
    with pytest.warns(UserWarning, match="a save was interrupted"):
        loaded = rnnkit.load(path).state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in expected.items())
    version(0).save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert all(torch.equal(rnnkit.load(path).state_dict()[k], v) for k, v in version(0).state_dict().items())
