"""How a cell is run over time (DESIGN.md layer 2), and which way is chosen, with the reason.

* ``native`` — PyTorch's fused kernels for standard Elman/LSTM/GRU stacks.
* ``scan`` — the scan for cells whose recurrence is linear in the state (minGRU, minLSTM, LRU): one
  compiled pass on the CPU, the chunked parallel scan elsewhere.
* ``fused`` — rnnkit's compiled CPU kernels with a hand-written backward, for cells that declare a
  :class:`~rnnkit.cells.kernel.KernelSpec` (layer-norm LSTM/GRU, IndRNN, and LSTM/GRU/Elman with
  variational dropout or zoneout).
* ``triton`` — GPU kernels in Triton (:mod:`rnnkit.backends.triton`): persistent or per-step fused LSTM/GRU
  kernels (layer-norm variants included) and a chunked parallel scan. ``auto`` picks it on CUDA where
  it measured faster (:mod:`rnnkit.backends.tuning`); ``backend="triton"`` forces it.
* ``loop`` — the reference: any cell, step by step.

``auto`` first consults the measured preferences of :mod:`rnnkit.backends.tuning` (per device,
cell and size: where a backend was measured faster than the one the order below would pick), then
takes the first rule of :data:`AUTO_ORDER` that applies. A new fast path is one more
:class:`BackendRule` plus a runner. Every choice carries its reason (``layer.backend.reason``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from rnnkit.backends import autotune
from rnnkit.backends.fused import kernels_unavailable, run_fused
from rnnkit.backends.loop import reverse_padded, run_layers, run_loop
from rnnkit.backends.native import flat_weights, native_mode, run_native
from rnnkit.backends.scan import chunked_scan, linear_scan, log_space_scan, run_scan, scan
from rnnkit.backends.tuning import Preference, Workload, measured_preferences
from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.kernel import LINEAR_FAMILIES, declared_kernel, kernel_declared
from rnnkit.cells.linear import LinearRecurrentCell

BACKENDS = ("auto", "native", "scan", "fused", "triton", "loop")


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
        kernel_hooks_only: it runs per-step regularisers only where each has a kernel form
            (``Regularizer.kernel_supported``: variational dropout and zoneout do).
    """

    name: str
    why_not: Callable[[Sequence[RecurrentCell]], str | None]
    reason: Callable[[Sequence[RecurrentCell]], str]
    per_step_hooks_ok: bool = False
    kernel_hooks_only: bool = False


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


def _fused_why_not(cells: Sequence[RecurrentCell]) -> str | None:
    spec = declared_kernel(cells[0])
    if spec is not None and spec.family in LINEAR_FAMILIES:
        return f"{_name(cells)} is linear in its state: its compiled kernel runs inside the scan backend"
    if any(declared_kernel(cell) is None for cell in cells):
        if kernel_declared(type(cells[0])):
            return f"{_name(cells)} with these options has no compiled kernel (LSTMCell's proj_size, for one)"
        return f"{_name(cells)} declares no compiled kernel for its step (RecurrentCell.kernel_spec)"
    parameter = next((p for cell in cells for p in cell.parameters()), None)
    if parameter is not None and parameter.device.type != "cpu":
        return f"the compiled kernels run on the CPU, and the parameters are on {parameter.device}"
    if parameter is not None and parameter.dtype not in (torch.float32, torch.float64):
        return f"the compiled kernels take float32 or float64 parameters, not {parameter.dtype}"
    return kernels_unavailable()


def _triton_why_not(cells: Sequence[RecurrentCell]) -> str | None:
    from rnnkit.backends.triton import triton_missing

    spec = declared_kernel(cells[0])
    if spec is None or spec.family not in ("lstm", "gru", *LINEAR_FAMILIES):
        return f"{_name(cells)} has no Triton kernel (the LSTM and GRU families and minGRU/minLSTM do)"
    # Only whether Triton is installed: layers are built on the CPU and moved to the GPU afterwards,
    # so the device is checked when a sequence runs (run_triton).
    return triton_missing()


def _run_triton(*args, **kwargs):
    from rnnkit.backends.triton.runner import run_triton  # imports Triton only when it runs

    return run_triton(*args, **kwargs)


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
FUSED = BackendRule(
    "fused",
    _fused_why_not,
    lambda cells: (
        f"{_name(cells)} runs on rnnkit's compiled CPU kernel (the time loop in C++, a hand-written BPTT "
        "backward, the recurrent weight's gradient as one matrix product)"
    ),
    per_step_hooks_ok=True,
    kernel_hooks_only=True,
)
TRITON = BackendRule(
    "triton",
    _triton_why_not,
    lambda cells: f"{_name(cells)} runs on rnnkit's Triton kernels (persistent or fused steps, or the scan)",
)
LOOP = BackendRule("loop", lambda cells: None, lambda cells: "the reference loop runs any cell", per_step_hooks_ok=True)

#: Rules tried by ``backend="auto"`` after the measured preferences, fastest first; ``loop`` always applies.
AUTO_ORDER: tuple[BackendRule, ...] = (NATIVE, SCAN, FUSED)
RULES = {rule.name: rule for rule in (*AUTO_ORDER, TRITON, LOOP)}

#: Runners with ``run_loop``'s signature, for backends that run one cell at a time.
CELL_RUNNERS: dict[str, Callable] = {"loop": run_loop, "scan": run_scan, "fused": run_fused, "triton": _run_triton}


def check_backend_name(backend: str) -> str:
    """Validate a requested backend name."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    return backend


def _blocked(
    rule: BackendRule, cells: Sequence[RecurrentCell], per_step_hooks: Sequence[str], kernel_hooks: bool
) -> str | None:
    """Why ``rule``'s backend cannot run these cells with these per-step regularisers (``None``: it can)."""
    why = rule.why_not(cells)
    if why is None and per_step_hooks and not rule.per_step_hooks_ok:
        why = "; ".join(per_step_hooks) + f", which the {rule.name} backend cannot do between steps"
    if why is None and per_step_hooks and rule.kernel_hooks_only and not kernel_hooks:
        why = "a per-step regulariser without a kernel form is active, which the fused backend cannot run"
    return why


def candidate_backends(
    cells: Sequence[RecurrentCell], *, device: str, per_step_hooks: Sequence[str] = (), kernel_hooks: bool = True
) -> list[str]:
    """The backends that can run these cells on ``device`` (what auto-tuning times), in rule order.

    Args:
        cells: every cell of the stack.
        device: ``"cpu"`` or ``"cuda"`` (Triton runs only on CUDA; the fused kernels only on the CPU).
        per_step_hooks: as in :func:`choose_backend`.
        kernel_hooks: as in :func:`choose_backend`.

    Returns:
        Names from ``native``, ``scan``, ``fused``, ``triton``, ``loop`` (``loop`` always).

    Example:
        >>> candidate_backends(rnnkit.Recurrent("lstm", 2, 3).cells.values(), device="cpu")  # doctest: +SKIP
        ['native', 'fused', 'loop']
    """
    cells = list(cells)
    names = []
    for rule in (*AUTO_ORDER, TRITON):
        if rule is TRITON and device != "cuda":
            continue
        if _blocked(rule, cells, per_step_hooks, kernel_hooks) is None:
            names.append(rule.name)
    return [*names, "loop"]


def tuned_reason(backend: str, cells: Sequence[RecurrentCell]) -> str:
    """What ``backend`` does for these cells (the first half of a tuned choice's reason)."""
    return RULES[backend].reason(list(cells))


def choose_backend(
    requested: str,
    cells: Sequence[RecurrentCell],
    *,
    per_step_hooks: Sequence[str] = (),
    kernel_hooks: bool = True,
    workload: Workload | None = None,
    preferences: Sequence[Preference] | None = None,
) -> BackendChoice:
    """Pick the backend for a stack of cells, with the reason.

    ``auto`` first takes a measured preference that matches the device, cell and size (see
    :mod:`rnnkit.backends.tuning`), then ``native`` where PyTorch has a kernel for exactly these
    cells, else ``scan`` where every cell is linear in its state, else ``fused`` where the cells
    declare a compiled kernel, else ``loop``. Per-step regularisers (variational dropout,
    zoneout) act between steps: PyTorch's kernels and the scan's closed form cannot, the compiled
    kernels can (they take the masks), the loop can run any.

    Args:
        requested: ``"auto"``, ``"native"``, ``"scan"``, ``"fused"`` or ``"loop"``.
        cells: every cell of the stack.
        per_step_hooks: one sentence per active per-step regulariser, e.g.
            ``"zoneout (p=0.1) mixes the old and new state after every step"``.
        kernel_hooks: whether every active per-step regulariser has a form the compiled kernels run.
        workload: device, batch, steps and whether gradients are taken, when known (the measured
            preferences depend on them).
        preferences: the measured preferences to consult (default: the table
            :func:`~rnnkit.backends.tuning.measured_preferences`).

    Returns:
        The choice and why. Forcing a backend that cannot run these cells raises ``ValueError``.
    """
    check_backend_name(requested)

    def blocked(rule: BackendRule) -> str | None:
        return _blocked(rule, cells, per_step_hooks, kernel_hooks)

    if requested == "loop":
        return BackendChoice("loop", "forced with backend='loop'")
    if requested != "auto":
        rule = RULES[requested]
        why = blocked(rule)
        if why is not None:
            raise ValueError(f"backend={requested!r} is not available: {why}")
        return BackendChoice(requested, f"{rule.reason(cells)}; forced with backend={requested!r}")
    workload = workload or Workload()
    if preferences is None:
        preferences = measured_preferences()
    for preference in preferences:
        if preference.matches(cells[0], workload) and blocked(RULES[preference.backend]) is None:
            rule = RULES[preference.backend]
            return BackendChoice(rule.name, f"{rule.reason(cells)}; {preference.evidence}")
    reasons = []
    for rule in AUTO_ORDER:
        why = blocked(rule)
        if why is None:
            return BackendChoice(rule.name, rule.reason(cells))
        if why not in reasons:
            reasons.append(why)
    return BackendChoice("loop", "; ".join(reasons))


def __getattr__(name: str):
    if name == "PREFERENCES":  # the measured table, read on first access
        return measured_preferences()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "CELL_RUNNERS",
    "PREFERENCES",
    "BackendChoice",
    "BackendRule",
    "Preference",
    "Workload",
    "autotune",
    "candidate_backends",
    "check_backend_name",
    "choose_backend",
    "chunked_scan",
    "flat_weights",
    "kernels_unavailable",
    "linear_scan",
    "log_space_scan",
    "measured_preferences",
    "native_mode",
    "reverse_padded",
    "run_fused",
    "run_layers",
    "run_loop",
    "run_native",
    "run_scan",
    "scan",
    "tuned_reason",
]
