"""How a cell is run over time (DESIGN.md layer 2), and which way is chosen, with the reason.

* ``native`` — PyTorch's fused kernels for standard Elman/LSTM/GRU stacks.
* ``loop`` — the reference: any cell, step by step.
"""

from __future__ import annotations

from collections.abc import Sequence

from rnnkit.backends.loop import reverse_padded, run_layers, run_loop
from rnnkit.backends.native import flat_weights, native_mode, run_native
from rnnkit.cells.base import RecurrentCell

BACKENDS = ("auto", "native", "loop")


class BackendChoice(str):
    """The backend a layer runs on (compares equal to its name) with the reason in :attr:`reason`.

    Example:
        >>> layer = rnnkit.Recurrent("lstm", 3, 4)
        >>> layer.backend == "native", layer.backend.reason  # doctest: +ELLIPSIS
        (True, 'LSTMCell has a fused PyTorch kernel ...')
    """

    reason: str

    def __new__(cls, name: str, reason: str) -> BackendChoice:
        choice = super().__new__(cls, name)
        choice.reason = reason
        return choice

    def __repr__(self) -> str:
        return f"BackendChoice({str(self)!r}, reason={self.reason!r})"


def check_backend_name(backend: str) -> str:
    """Validate a requested backend name."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    return backend


def choose_backend(requested: str, cells: Sequence[RecurrentCell]) -> BackendChoice:
    """Pick the backend for a stack of cells.

    Args:
        requested: ``"auto"``, ``"native"`` or ``"loop"``.
        cells: every cell of the stack.

    Returns:
        The choice and why. Forcing ``"native"`` where no fused kernel applies raises ``ValueError``.
    """
    check_backend_name(requested)
    modes = {native_mode(cell) for cell in cells}
    name = type(cells[0]).__name__
    if None in modes:
        why_not = f"{name} has no fused PyTorch kernel (only exact ElmanCell, LSTMCell and GRUCell do)"
    else:
        why_not = None
    if requested == "loop":
        return BackendChoice("loop", "forced with backend='loop'")
    if why_not is not None:
        if requested == "native":
            raise ValueError(f"backend='native' is not available: {why_not}")
        return BackendChoice("loop", why_not)
    reason = f"{name} has a fused PyTorch kernel (cuDNN on CUDA, ATen/oneDNN on CPU)"
    if requested == "native":
        reason += "; forced with backend='native'"
    return BackendChoice("native", reason)


__all__ = [
    "BACKENDS",
    "BackendChoice",
    "check_backend_name",
    "choose_backend",
    "flat_weights",
    "native_mode",
    "reverse_padded",
    "run_layers",
    "run_loop",
    "run_native",
]
