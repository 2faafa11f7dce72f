"""How a cell is run over time (DESIGN.md layer 2), and which way is chosen, with the reason.

* ``native`` — PyTorch's fused kernels for standard Elman/LSTM/GRU stacks.
* ``scan`` — the parallel scan for cells whose recurrence is linear in the state (minGRU, minLSTM, LRU).
* ``loop`` — the reference: any cell, step by step.

``auto`` takes the first rule of :data:`AUTO_ORDER` that applies; a new fast path (issue 6's
``fused``) is one more :class:`BackendRule` in that tuple plus a runner. Every choice carries its
reason (``layer.backend.reason``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rnnkit.backends.loop import reverse_padded, run_layers, run_loop
from rnnkit.backends.native import flat_weights, native_mode, run_native
from rnnkit.backends.scan import chunked_scan, linear_scan, log_space_scan, run_scan, scan
from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.linear import LinearRecurrentCell

BACKENDS = ("auto", "native", "scan", "loop")


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


@dataclass(frozen=True)
class BackendRule:
    """When a backend can run a stack of cells, and why it is chosen.

    Attributes:
        name: the backend's name.
        why_not: ``cells -> None`` if it can run them, else a sentence saying why not.
        reason: ``cells -> sentence`` saying why it runs them (used when chosen).
        per_step_hooks_ok: whether it can run with per-step regularisers (variational dropout,
            zoneout), which change the state between steps.
    """

    name: str
    why_not: Callable[[Sequence[RecurrentCell]], str | None]
    reason: Callable[[Sequence[RecurrentCell]], str]
    per_step_hooks_ok: bool = False


def _name(cells: Sequence[RecurrentCell]) -> str:
    return type(cells[0]).__name__


def _native_why_not(cells: Sequence[RecurrentCell]) -> str | None:
    if any(native_mode(cell) is None for cell in cells):
        return f"{_name(cells)} has no fused PyTorch kernel (only exact ElmanCell, LSTMCell and GRUCell do)"
    return None


def _scan_why_not(cells: Sequence[RecurrentCell]) -> str | None:
    if not all(isinstance(cell, LinearRecurrentCell) for cell in cells):
        return f"{_name(cells)} is not linear in its state (not a LinearRecurrentCell), so it cannot be scanned"
    return None


NATIVE = BackendRule(
    "native",
    _native_why_not,
    lambda cells: f"{_name(cells)} has a fused PyTorch kernel (cuDNN on CUDA, ATen/oneDNN on CPU)",
)
SCAN = BackendRule(
    "scan",
    _scan_why_not,
    lambda cells: (
        f"{_name(cells)} is linear in its state (h_t = a_t * h_{{t-1}} + b_t): the parallel scan runs all "
        "steps at once; step() stays sequential with the same weights"
    ),
)
LOOP = BackendRule("loop", lambda cells: None, lambda cells: "the reference loop runs any cell", per_step_hooks_ok=True)

#: Rules tried by ``backend="auto"``, fastest first; ``loop`` always applies.
AUTO_ORDER: tuple[BackendRule, ...] = (NATIVE, SCAN)
RULES = {rule.name: rule for rule in (*AUTO_ORDER, LOOP)}

#: Runners with ``run_loop``'s signature, for backends that run one cell at a time.
CELL_RUNNERS: dict[str, Callable] = {"loop": run_loop, "scan": run_scan}


def check_backend_name(backend: str) -> str:
    """Validate a requested backend name."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    return backend


def choose_backend(
    requested: str, cells: Sequence[RecurrentCell], *, per_step_hooks: Sequence[str] = ()
) -> BackendChoice:
    """Pick the backend for a stack of cells, with the reason.

    ``auto`` takes ``native`` where a fused kernel computes exactly these cells, else ``scan``
    where every cell is linear in its state, else ``loop``. Per-step regularisers (variational
    dropout, zoneout) act between steps, which neither a fused kernel nor the scan's closed form
    can do, so with any of them active only ``loop`` applies.

    Args:
        requested: ``"auto"``, ``"native"``, ``"scan"`` or ``"loop"``.
        cells: every cell of the stack.
        per_step_hooks: one sentence per active per-step regulariser, e.g.
            ``"zoneout (p=0.1) mixes the old and new state after every step"``.

    Returns:
        The choice and why. Forcing a backend that cannot run these cells raises ``ValueError``.
    """
    check_backend_name(requested)

    def blocked(rule: BackendRule) -> str | None:
        why = rule.why_not(cells)
        if why is None and per_step_hooks and not rule.per_step_hooks_ok:
            why = "; ".join(per_step_hooks) + f", which the {rule.name} backend cannot do between steps"
        return why

    if requested == "loop":
        return BackendChoice("loop", "forced with backend='loop'")
    if requested != "auto":
        rule = RULES[requested]
        why = blocked(rule)
        if why is not None:
            raise ValueError(f"backend={requested!r} is not available: {why}")
        return BackendChoice(requested, f"{rule.reason(cells)}; forced with backend={requested!r}")
    reasons = []
    for rule in AUTO_ORDER:
        why = blocked(rule)
        if why is None:
            return BackendChoice(rule.name, rule.reason(cells))
        if why not in reasons:
            reasons.append(why)
    return BackendChoice("loop", "; ".join(reasons))


__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "CELL_RUNNERS",
    "BackendChoice",
    "BackendRule",
    "check_backend_name",
    "choose_backend",
    "chunked_scan",
    "flat_weights",
    "linear_scan",
    "log_space_scan",
    "native_mode",
    "reverse_padded",
    "run_layers",
    "run_loop",
    "run_native",
    "run_scan",
    "scan",
]
