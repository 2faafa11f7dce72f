"""One torch thread for the classify tests: on the shared 2-core machine two threads fight the other
jobs (measured: the numeric-predict CLI test took 197 s with torch's default threads, 1.9 s with one)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
