"""Tiny models: one thread (on a loaded 2-core machine two threads made these tests many times slower)
and PyTorch's own kernels (no test waits on the shared CPU-kernel build lock)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _small_and_single_threaded(monkeypatch):
    monkeypatch.setenv("RNNKIT_NO_KERNELS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
