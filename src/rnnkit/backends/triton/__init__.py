"""GPU kernels in Triton (``backend="triton"``): fused gate steps with CUDA-graph capture of the time
loop, persistent recurrent kernels for LSTM/GRU and their layer-norm variants, and a chunked
parallel scan for linear cells. Optional: ``pip install 'rnnkit[triton]'``.

They run on CUDA devices, and on the CPU under Triton's interpreter (``TRITON_INTERPRET=1``, set
before Triton is imported), which is how the tests check them against the reference loop on
machines without a GPU. ``benchmarks/gpu_check.py`` checks and times them on a GPU; its numbers
(an H200) are behind the CUDA preferences of :mod:`rnnkit.backends.tuning`.
"""

from __future__ import annotations

import importlib.util
import os


def interpreting() -> bool:
    """Whether Triton runs kernels in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return os.environ.get("TRITON_INTERPRET", "") not in ("", "0")


def triton_missing() -> str | None:
    """Why Triton cannot be used at all (not installed); ``None`` if it is installed."""
    if importlib.util.find_spec("triton") is None:
        return "Triton is not installed (pip install 'rnnkit[triton]')"
    return None


def triton_unavailable(device: str) -> str | None:
    """Why the Triton kernels cannot run on ``device`` (``"cpu"``/``"cuda"``); ``None`` if they can."""
    if (missing := triton_missing()) is not None:
        return missing
    if device == "cuda" or (device == "cpu" and interpreting()):
        return None
    return f"the Triton kernels run on CUDA devices (or on the CPU under TRITON_INTERPRET=1), not on {device}"


__all__ = ["interpreting", "triton_missing", "triton_unavailable"]
