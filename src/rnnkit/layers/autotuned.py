"""Auto-tuning glue for :class:`~rnnkit.layers.recurrent.Recurrent`: the key of a workload, and the
timing of every backend that can run it (the mechanism and the cache are :mod:`rnnkit.backends.autotune`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from rnnkit.backends import Workload, autotune, candidate_backends
from rnnkit.backends.fused import kernels_ready
from rnnkit.cells import State

if TYPE_CHECKING:
    from rnnkit.layers.recurrent import Recurrent


def tuning_key(layer: Recurrent, workload: Workload) -> tuple[str, list[str]] | None:
    """The auto-tuning key of ``layer`` running ``workload`` and the backends it would time.

    Args:
        layer: the layer.
        workload: device, batch, steps and grad mode of the input.

    Returns:
        ``(key, candidates)``, or ``None`` where the workload is not fully known or only one backend can run it.
    """
    if workload.batch is None or workload.steps is None or workload.grad is None:
        return None
    hooks = [h for r in layer.regularizers if (h := r.per_step_reason(layer.training))]
    active = [r for r in layer.regularizers if r.per_step_reason(layer.training)]
    candidates = candidate_backends(
        list(layer.cells.values()), device=workload.device, per_step_hooks=hooks,
        kernel_hooks=all(r.kernel_supported for r in active),
    )
    if len(candidates) < 2:
        return None
    parameter = next(layer.parameters(), None)
    key = autotune.tuning_key(
        device=parameter.device if parameter is not None else torch.device(workload.device),
        cell=type(layer.first_cell).__name__, dtype=parameter.dtype if parameter is not None else torch.float32,
        grad=workload.grad, batch=workload.batch, steps=workload.steps, hidden=layer.hidden_size,
        cells=len(layer.cells), candidates=candidates,
    )
    return key, candidates

def tune_layer(layer: Recurrent, x: Tensor, state: State, lengths: Tensor | None) -> None:
    """Time every backend that can run this input, unless its bucket was tuned before, and store the decision.

    Args:
        layer: the layer about to run (its ``_workload`` describes ``x``).
        x: the input as the layer received it.
        state: its initial state.
        lengths: its lengths, or ``None``.
    """
    workload = layer._workload
    tuning = tuning_key(layer, workload)
    if tuning is None or autotune.lookup(tuning[0]) is not None:
        return
    key, candidates = tuning
    autotune.announce()
    time_dim = 1 if layer.batch_first else 0
    steps = autotune.timed_steps(workload.batch, workload.steps)
    timed_x = x.narrow(time_dim, 0, steps)
    timed_lengths = None if lengths is None else lengths.clamp(max=steps)
    params = [p for p in layer.parameters() if p.requires_grad]

    def run(name: str) -> None:
        if name == "fused" and not kernels_ready():
            raise RuntimeError("the fused kernels could not be built")
        if workload.grad:
            out, _ = layer._run_on(name, timed_x, state, timed_lengths)
            inputs = params + ([timed_x] if timed_x.requires_grad else [])
            torch.autograd.grad(out.sum(), inputs, allow_unused=True)
        else:
            with torch.no_grad():
                layer._run_on(name, timed_x, state, timed_lengths)

    shape = f"B={workload.batch} T={workload.steps} H={layer.hidden_size}"
    if steps < workload.steps:
        shape += f" (timed on the first {steps} steps)"
    autotune.store(key, autotune.measure(candidates, run, shape=shape))
