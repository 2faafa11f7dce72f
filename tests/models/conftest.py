"""Tiny models: PyTorch's own kernels (no test waits on the shared CPU-kernel build lock). The
suite-wide conftest already runs everything on one torch thread."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _pytorch_kernels_only(monkeypatch):
    monkeypatch.setenv("RNNKIT_NO_KERNELS", "1")
