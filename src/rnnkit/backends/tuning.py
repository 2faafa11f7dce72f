"""What ``backend="auto"`` learnt from measurement: where a backend beats the default order's pick.

:data:`AUTO_ORDER <rnnkit.backends.AUTO_ORDER>` ranks backends by what they can run (PyTorch's
kernel, then the scan, then rnnkit's compiled kernels, then the loop). Measurement
(``rnnkit bench speed``, tables in the README) shows cases where that rank is wrong for a device,
cell and size; each is a :class:`Preference` here, consulted first, and its evidence is appended
to ``layer.backend.reason``. Nothing here is guessed: each entry cites the measurement behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    """What a layer is about to run, as far as it is known (``None``: unknown).

    Attributes:
        device: device type of the parameters, ``"cpu"`` or ``"cuda"``.
        batch: sequences in the batch.
        steps: time steps.
        grad: whether gradients will be taken (training) or not (inference).
    """

    device: str = "cpu"
    batch: int | None = None
    steps: int | None = None
    grad: bool | None = None


@dataclass(frozen=True)
class Preference:
    """Prefer ``backend`` for exact instances of ``cell`` on ``device`` when ``when(cell, workload)`` holds.

    Attributes:
        device: device type this was measured on.
        cell: the cell class's name (exact class: a subclass may change the step).
        backend: the backend to prefer (still subject to its own conditions, e.g. kernels built).
        when: condition on the cell (its sizes) and the :class:`Workload`; unknown fields are ``None``
            and must not match a size-dependent condition.
        evidence: the sentence appended to the reason: what was measured, how, where.
    """

    device: str
    cell: str
    backend: str
    when: Callable[[object, Workload], bool]
    evidence: str

    def matches(self, cell: object, workload: Workload) -> bool:
        """Whether this preference is about ``cell``'s exact class on ``workload``'s device and applies."""
        return type(cell).__name__ == self.cell and workload.device == self.device and self.when(cell, workload)


_BENCH = (
    "measured by `rnnkit bench speed` (CPU time, 1 thread, Intel Xeon Sapphire Rapids, torch 2.13, "
    "2026-11-26; README, Speed)"
)


def _single_thread() -> bool:
    # The measurements behind these preferences ran with one intra-op thread; with more, oneDNN and
    # the GEMMs split each step differently, so they apply only where they were measured.
    import torch

    return torch.get_num_threads() == 1


def _training(cell: object, workload: Workload) -> bool:
    return workload.grad is True and _single_thread()


def _always(cell: object, workload: Workload) -> bool:
    return _single_thread()


def _small_inference(cell: object, workload: Workload) -> bool:
    # Measured at batch x hidden = 8 x 128 (fused 0.81x torch.nn) and 32 x 256 (fused 1.32x): the
    # per-step overhead the kernel saves matters only while the step's product is small.
    return (workload.grad is False and workload.batch is not None and workload.batch * cell.hidden_size <= 1024
            and _single_thread())


_GPU_BENCH = (
    "measured by `rnnkit bench speed --device cuda` and benchmarks/gpu_check.py (CUDA events, NVIDIA H200, "
    "torch 2.11, Triton 3.6, 2026-11-26; README, Speed)"
)


def _triton_dtype(cell: object, workload: Workload) -> bool:
    # Checked on the GPU against float64 references in float32 and bfloat16 (gpu_check.py); float16
    # and float64 were not, so they stay on the other paths.
    import torch

    parameter = next(cell.parameters(), None)  # type: ignore[attr-defined]
    return parameter is not None and parameter.dtype in (torch.float32, torch.bfloat16)


def _on_gpu_triton(cell: str, evidence: str) -> Preference:
    return Preference("cuda", cell, "triton", _triton_dtype, f"{evidence}, {_GPU_BENCH}")


#: Measured preferences, consulted in order by ``choose_backend``.
PREFERENCES: tuple[Preference, ...] = (
    Preference(
        "cpu", "GRUCell", "fused", _always,
        f"faster than PyTorch's GRU, which on the CPU has no oneDNN kernel: training 0.65x and 0.20x, "
        f"inference 0.86x and 0.35x torch.nn.GRU at B=32 T=256 H=256 and B=8 T=1024 H=128, {_BENCH}",
    ),
    Preference(
        "cpu", "LSTMCell", "fused", _training,
        f"in training faster than oneDNN's LSTM: 0.86x and 0.77x torch.nn.LSTM (forward + backward) at "
        f"B=32 T=256 H=256 and B=8 T=1024 H=128 (inference stays native: fused 1.72x and 1.68x), {_BENCH}",
    ),
    Preference(
        "cpu", "ElmanCell", "fused", _training,
        f"in training faster than PyTorch's RNN: 0.90x and 0.34x torch.nn.RNN at B=32 T=256 H=256 and "
        f"B=8 T=1024 H=128, {_BENCH}",
    ),
    Preference(
        "cpu", "ElmanCell", "fused", _small_inference,
        f"in inference with batch x hidden <= 1024: 0.81x torch.nn.RNN at B=8 H=128 (but 1.32x at B=32 "
        f"H=256, where native stays), {_BENCH}",
    ),
    _on_gpu_triton(
        "MinGRUCell",
        "the Triton scan is faster than the scan backend's PyTorch ops: training 0.31x / 0.93x / 0.32x "
        "torch.nn.GRU against 0.71x / 3.00x / 1.39x at B=32 T=256 H=256, B=8 T=1024 H=128, B=8 T=4096 "
        "H=128 (float32), and 15.1 against 20.8 ms at B=64 T=4096 H=512 (bfloat16)",
    ),
    _on_gpu_triton(
        "MinLSTMCell",
        "the Triton scan is faster than the scan backend's PyTorch ops: training 0.31x / 1.17x / 0.33x "
        "torch.nn.GRU against 0.77x / 3.20x / 1.54x at B=32 T=256 H=256, B=8 T=1024 H=128, B=8 T=4096 "
        "H=128 (float32)",
    ),
    _on_gpu_triton(
        "LayerNormLSTMCell",
        "the Triton step kernels train 2.2x and 2.7x faster than the loop (0.45x and 0.37x its time at "
        "B=32 T=256 H=256 and B=8 T=1024 H=128, float32); PyTorch has no kernel for this cell",
    ),
    _on_gpu_triton(
        "LayerNormGRUCell",
        "the Triton step kernels train 2.8x and 2.9x faster than the loop (0.36x and 0.34x its time at "
        "B=32 T=256 H=256 and B=8 T=1024 H=128, float32); PyTorch has no kernel for this cell",
    ),
)
