"""The scan backend: all steps of a linear recurrence ``h_t = a_t * h_{t-1} + b_t`` at once.

Cells that subclass :class:`~rnnkit.cells.linear.LinearRecurrentCell` (minGRU, minLSTM, LRU)
give their coefficients for every step from one input projection; this module turns them into
every state without a Python loop over all ``T`` steps.

:func:`chunked_scan`, the backend's algorithm, cuts time into ``K`` chunks of ``C ~ sqrt(T)``
steps. It runs the recurrence inside all chunks at once (``C`` vectorised steps, each over every
chunk), then joins the chunks with :func:`linear_scan` over their ``K`` end states (``log2 K``
doubling rounds, Hillis & Steele 1986; the associative operator
``(a1, b1) . (a2, b2) = (a1 a2, a2 b1 + b2)`` of Orvieto et al. 2023, App. A), and finally adds
each chunk's entering state carried through its running product of ``a``. Work is ``O(T)``,
sequential depth ``O(sqrt T)``; it only multiplies and adds, so it is as precise as stepping
(no division, nothing overflows that the sequential loop would not) and handles any sign,
complex coefficients and an initial state.

Log-space coefficients (:class:`~rnnkit.cells.linear.LogCoefficients`, how Feng et al. 2024
compute minGRU/minLSTM) are exponentiated once: the log form is what makes ``a = 1 - z`` exact
when ``z`` is near 1 (``exp(-softplus(k))`` rather than ``1 - sigmoid(k)``).
:func:`log_space_scan` is the paper's own scan (Heinsen 2023: a cumulative sum and a
``logcumsumexp``), kept as a reference and tested to agree; on CPU it is slower (2.6x for
training at T = 4,096, ``benchmarks/scan_speed.py``) and, in float32,
its ``A_t + logcumsumexp(...)`` loses precision as ``|A_t|`` grows with the chunk (relative
error ~1e-5 at 64-step chunks against ~1e-7 for stepping), so the backend does not use it.

Lengths need no special case: state ``t`` depends only on steps ``<= t``, so each sequence's final
state is read at its last real step and outputs past it are zeroed, as the loop backend does.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rnnkit.backends.fused import LinearScan, MinRecurrence, kernels_ready, kernels_unavailable
from rnnkit.backends.fused import ops as fused_ops
from rnnkit.backends.loop import reverse_padded
from rnnkit.cells.kernel import LINEAR_FAMILIES, declared_kernel
from rnnkit.cells.linear import LinearCoefficients, LinearRecurrentCell, LogCoefficients


def default_chunk_size(steps: int) -> int:
    """Chunk length for :func:`chunked_scan`: the power of two nearest ``sqrt(steps)`` (at least 4)."""
    return max(4, 2 ** round(math.log2(max(steps, 1)) / 2))


def linear_scan(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """All states of ``h_t = a_t * h_{t-1} + b_t`` along dim 0, by parallel doubling.

    Args:
        a: multipliers ``(T, ...)`` (broadcastable to ``b``), real or complex.
        b: additive terms ``(T, ...)``.
        h0: state before step 0, ``b``'s shape without time (``None``: zeros).

    Returns:
        ``h`` of ``b``'s shape: ``h[t]`` is the state after step ``t``.

    Example:
        >>> linear_scan(torch.full((3,), 0.5), torch.ones(3)).tolist()
        [1.0, 1.5, 1.75]
    """
    a = a.expand_as(b)
    if h0 is not None:
        b = torch.cat([(a[0] * h0 + b[0]).unsqueeze(0), b[1:]])
    steps, offset = b.shape[0], 1
    while offset < steps:
        # After this round, (a[t], b[t]) compose steps t-2*offset+1 .. t (or 0 .. t).
        b = torch.cat([b[:offset], torch.addcmul(b[offset:], a[offset:], b[:-offset])])
        if 2 * offset < steps:
            a = torch.cat([a[:offset], a[offset:] * a[:-offset]])
        offset *= 2
    return b


def log_space_scan(
    log_a: Tensor, log_b: Tensor, h0: Tensor | None = None, *, chunk_size: int = 64
) -> Tensor:
    """All states of ``h_t = exp(log_a_t) * h_{t-1} + exp(log_b_t)`` along dim 0, by Heinsen's log-space scan.

    The paper's algorithm (Feng et al. 2024, App. B): ``log h_t = A_t + logcumsumexp_s(log b_s - A_s)``
    with ``A_t = sum_{s<=t} log a_s``, here within chunks of ``chunk_size`` steps (the error of
    adding ``A_t`` back grows with ``|A_t|``) joined by :func:`linear_scan`. A reference: the
    backend uses :func:`chunked_scan` (see the module docstring).

    Args:
        log_a: log multipliers ``(T, ...)``, real.
        log_b: log additive terms, ``log_a``'s shape.
        h0: state before step 0 (any sign; ``None``: zeros).
        chunk_size: steps per chunk of the closed form.

    Returns:
        ``h`` of ``log_b``'s shape.
    """
    steps = log_b.shape[0]
    chunks = -(-steps // chunk_size)
    pad = chunks * chunk_size - steps
    if pad:  # neutral steps (a = 1, b = 1) at the end; their states are cut off below
        log_a = torch.cat([log_a, log_a.new_zeros(pad, *log_a.shape[1:])])
        log_b = torch.cat([log_b, log_b.new_zeros(pad, *log_b.shape[1:])])
    log_a = log_a.reshape(chunks, chunk_size, *log_a.shape[1:])
    log_b = log_b.reshape(chunks, chunk_size, *log_b.shape[1:])
    decay = log_a.cumsum(1)  # A_t within each chunk
    local = torch.exp(decay + torch.logcumsumexp(log_b - decay, dim=1))  # states of each chunk from h = 0
    if h0 is None:
        h0 = torch.zeros_like(local[0, 0])
    # Join the chunks: the state entering chunk k+1 is chunk k's end state, carried through its decay.
    ends = linear_scan(torch.exp(decay[:, -1]), local[:, -1], h0)
    entering = torch.cat([h0.unsqueeze(0), ends[:-1]])
    states = local + torch.exp(decay) * entering.unsqueeze(1)
    return states.reshape(chunks * chunk_size, *states.shape[2:])[:steps]


def chunked_scan(a: Tensor, b: Tensor, h0: Tensor | None = None, *, chunk_size: int | None = None) -> Tensor:
    """All states of ``h_t = a_t * h_{t-1} + b_t`` along dim 0: sequential within chunks, parallel across them.

    Args:
        a: multipliers ``(T, ...)`` (broadcastable to ``b``), real or complex.
        b: additive terms ``(T, ...)``.
        h0: state before step 0, ``b``'s shape without time (``None``: zeros).
        chunk_size: steps per chunk (default :func:`default_chunk_size`).

    Returns:
        ``h`` of ``b``'s shape: ``h[t]`` is the state after step ``t``.

    Example:
        >>> chunked_scan(torch.full((5,), 0.5), torch.ones(5), chunk_size=2).tolist()
        [1.0, 1.5, 1.75, 1.875, 1.9375]
    """
    a = a.expand_as(b)
    steps = b.shape[0]
    chunk = chunk_size or default_chunk_size(steps)
    chunks = -(-steps // chunk)
    pad = chunks * chunk - steps
    if pad:  # neutral steps (a = 1, b = 0) at the end; their states are cut off below
        a = torch.cat([a, a.new_ones(pad, *a.shape[1:])])
        b = torch.cat([b, b.new_zeros(pad, *b.shape[1:])])
    a = a.reshape(chunks, chunk, *a.shape[1:])
    b = b.reshape(chunks, chunk, *b.shape[1:])
    # Inside every chunk at once, from a zero state: local states and running products of a.
    a_steps, b_steps = a.unbind(1), b.unbind(1)  # unbind, not indexing: its backward is one stack
    h, product = b_steps[0], a_steps[0]
    local, products = [h], [product]
    for a_t, b_t in zip(a_steps[1:], b_steps[1:], strict=True):
        h = torch.addcmul(b_t, a_t, h)
        product = product * a_t
        local.append(h)
        products.append(product)
    local_states, running = torch.stack(local, 1), torch.stack(products, 1)
    if h0 is None:
        h0 = torch.zeros_like(b[0, 0])
    # State entering each chunk: h0, then the previous chunks' end states composed in parallel.
    ends = linear_scan(running[:, -1], local_states[:, -1], h0)
    entering = torch.cat([h0.unsqueeze(0), ends[:-1]])
    states = torch.addcmul(local_states, running, entering.unsqueeze(1))
    return states.reshape(chunks * chunk, *states.shape[2:])[:steps]


_COMPILED_DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128)


def compiled_scan_unavailable(device: torch.device | str, dtype: torch.dtype) -> str | None:
    """Why the compiled CPU scan cannot run for this device and dtype (``None``: it can)."""
    if torch.device(device).type != "cpu":
        return f"the compiled scan runs on the CPU, not {torch.device(device).type}"
    if dtype not in _COMPILED_DTYPES:
        return f"the compiled scan takes float32/64 or complex64/128, not {dtype}"
    return kernels_unavailable()


def coefficient_tensors(coefficients: LinearCoefficients | LogCoefficients) -> tuple[Tensor, Tensor]:
    """``(a, b)`` of ``h_t = a_t h_{t-1} + b_t`` from a cell's coefficients (log-space ones exponentiated)."""
    if isinstance(coefficients, LogCoefficients):
        return torch.exp(coefficients.log_a), torch.exp(coefficients.log_b)
    if isinstance(coefficients, LinearCoefficients):
        return coefficients.a, coefficients.b
    raise TypeError(
        f"coefficients: expected LinearCoefficients or LogCoefficients, got {type(coefficients).__name__}"
    )


def scan(
    coefficients: LinearCoefficients | LogCoefficients, h0: Tensor | None = None, *, chunk_size: int | None = None
) -> Tensor:
    """All states of a linear recurrence given by a cell's coefficients (time on dim 0).

    On the CPU, where rnnkit's kernels are available, one compiled pass over time
    (:class:`~rnnkit.backends.fused.LinearScan`: on one core a scan cannot beat ``O(T)`` sequential
    work, and this pass has no extra ones); elsewhere (CUDA, no compiler) :func:`chunked_scan`.
    ``chunk_size`` forces :func:`chunked_scan`.
    """
    a, b = coefficient_tensors(coefficients)
    if chunk_size is None and _compiled_ready(b):
        apply = fused_ops.linear_scan if torch.compiler.is_compiling() else LinearScan.apply
        return apply(a.expand_as(b), b, torch.zeros_like(b[0]) if h0 is None else h0)
    return chunked_scan(a, b, h0, chunk_size=chunk_size)


def _compiled_ready(like: Tensor) -> bool:
    """Whether the compiled scan can run on ``like``'s device and dtype (building the kernels on first use)."""
    # A failed build (reported on stderr) leaves the chunked scan, which computes the same.
    return compiled_scan_unavailable(like.device, like.dtype) is None and kernels_ready()


def run_scan(
    cell: LinearRecurrentCell,
    x: Tensor,
    state: Tensor,
    *,
    lengths: Tensor | None = None,
    reverse: bool = False,
    chunk_size: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Run one linear cell over a time-major sequence with a parallel scan (same contract as ``run_loop``).

    Args:
        cell: a :class:`~rnnkit.cells.linear.LinearRecurrentCell`.
        x: input ``(T, B, I)``.
        state: the cell's initial state for the batch.
        lengths: ``(B,)`` valid lengths on ``x``'s device, or ``None``.
        reverse: read each sequence's valid part from its end to its start.
        chunk_size: steps per chunk (default :func:`default_chunk_size`).

    Returns:
        ``(outputs, final_state)`` as :func:`rnnkit.backends.loop.run_loop` returns them.
    """
    projected = cell.project_input(x)
    if reverse:
        projected = reverse_padded(projected, lengths)
    spec = declared_kernel(cell)
    if chunk_size is None and spec is not None and spec.family in LINEAR_FAMILIES and _compiled_ready(projected):
        # minGRU / minLSTM: the gate arithmetic inside the compiled scan, one pass each way.
        apply = fused_ops.min_recurrence if torch.compiler.is_compiling() else MinRecurrence.apply
        states = apply(projected.contiguous(), state.contiguous(), spec.family == "minlstm")
    else:
        states = scan(cell.coefficients(projected), cell.to_scan_value(state), chunk_size=chunk_size)
    return scan_outputs(cell, states, projected, lengths=lengths, reverse=reverse)


def scan_outputs(
    cell: LinearRecurrentCell, states: Tensor, projected: Tensor, *, lengths: Tensor | None, reverse: bool
) -> tuple[Tensor, Tensor]:
    """``run_loop``'s ``(outputs, final_state)`` from all scanned states: the cell's readout, each
    sequence's state at its last real step, zeros past its end, time order restored if ``reverse``."""
    out = cell.readout(states, projected)
    if lengths is None:
        final = states[-1]
    else:
        lengths = lengths.to(states.device)
        last = (lengths - 1).view(1, -1, *([1] * (states.dim() - 2))).expand(1, *states.shape[1:])
        final = states.gather(0, last).squeeze(0)
        valid = torch.arange(states.shape[0], device=states.device).unsqueeze(1) < lengths.unsqueeze(0)
        out = out.masked_fill(~valid.view(*valid.shape, *([1] * (out.dim() - 2))), 0.0)
    if reverse:
        out = reverse_padded(out, lengths)
    return out, cell.from_scan_value(final)
