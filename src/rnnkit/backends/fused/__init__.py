"""The fused backend: whole sequences of a cell in compiled code, with a hand-written BPTT backward.

For cells PyTorch has no kernel for (layer-norm LSTM/GRU, IndRNN), for LSTM/GRU/Elman with
per-step regularisers (variational dropout, zoneout), and for custom cells that declare a
:class:`~rnnkit.cells.kernel.KernelSpec`. The kernels are C++ (``csrc/``), built on first use and
cached (:mod:`rnnkit.backends.fused.build`); :func:`run_fused` runs one cell over a sequence and
:class:`LinearScan` is the compiled linear recurrence the ``scan`` backend uses on the CPU.
"""

from rnnkit.backends.fused.build import (
    cache_dir,
    kernels_ready,
    kernels_unavailable,
    load_kernels,
    release_workspace,
)
from rnnkit.backends.fused.functions import (
    GRUSequence,
    LinearScan,
    LSTMSequence,
    MinRecurrence,
    SimpleSequence,
    StepRegularization,
)
from rnnkit.backends.fused.runner import run_fused

__all__ = [
    "GRUSequence",
    "LSTMSequence",
    "LinearScan",
    "MinRecurrence",
    "SimpleSequence",
    "StepRegularization",
    "cache_dir",
    "kernels_ready",
    "kernels_unavailable",
    "load_kernels",
    "release_workspace",
    "run_fused",
]
