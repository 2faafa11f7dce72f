"""Whole sequences on the Triton kernels: autograd Functions and ``run_loop``'s contract.

:class:`TritonLSTMSequence` / :class:`TritonGRUSequence` run LSTM / GRU and their layer-norm
variants either with the persistent kernels (one launch per direction of the pass, weights on chip;
``persistent.fits``) or with one fused step kernel per time step after a cuBLAS product
(``mode="steps"``), whose time loops (forward and backward) can be captured once in CUDA graphs
and replayed (``capture_graph=True``, CUDA only). The backward is the hand-written BPTT of the same kernels;
the recurrent weight's gradient of all steps is one matrix product. Linear cells run on
:class:`~rnnkit.backends.triton.scan.TritonLinearScan`.
"""

from __future__ import annotations

import torch
import triton
from torch import Tensor

from rnnkit.backends.loop import reverse_padded
from rnnkit.backends.scan import coefficient_tensors, scan_outputs
from rnnkit.backends.triton import persistent, step, triton_unavailable
from rnnkit.backends.triton.scan import TritonLinearScan
from rnnkit.cells.base import LSTMState, RecurrentCell, State
from rnnkit.cells.kernel import declared_kernel
from rnnkit.cells.linear import LinearRecurrentCell


def _precision(dtype: torch.dtype) -> str:
    return "ieee" if dtype in (torch.float32, torch.float64) else "tf32"


def _valid(steps: int, batch: int, lengths: Tensor | None, device: torch.device) -> Tensor:
    if lengths is None:
        return torch.ones(steps, batch, dtype=torch.int8, device=device)
    t = torch.arange(steps, device=device).unsqueeze(1)
    return (t < lengths.to(device).unsqueeze(0)).to(torch.int8).contiguous()


class _Graphs:
    """CUDA graphs of step loops, one per function, constants, shapes, dtypes and devices of their inputs."""

    def __init__(self) -> None:
        self.cache: dict[tuple, tuple[torch.cuda.CUDAGraph, list[Tensor], list[Tensor]]] = {}

    def run(self, fn, inputs: list[Tensor], options: tuple) -> list[Tensor]:
        """``fn(*inputs)`` through a captured graph: the first call per shapes, dtypes and ``options`` (the
        constants ``fn`` closes over) captures; later calls copy the inputs (weights included) into the
        graph's buffers and replay. Outputs are cloned (the next replay overwrites the graph's)."""
        key = (fn.__name__, options, *((t.shape, t.dtype, t.device) for t in inputs))
        if key not in self.cache:
            static = [t.clone() for t in inputs]
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                fn(*static)  # warm-up: compiles the kernels outside the capture
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                outputs = fn(*static)
            self.cache[key] = (graph, static, list(outputs))
        graph, static, outputs = self.cache[key]
        for buffer, value in zip(static, inputs, strict=True):
            buffer.copy_(value)
        graph.replay()
        return [t.clone() for t in outputs]


GRAPHS = _Graphs()


def _dummy(like: Tensor) -> Tensor:
    return like.new_zeros(1)


def _lstm_buffers(projected: Tensor) -> tuple[Tensor, ...]:
    """What an LSTM forward writes: ``out, hs, cs, gates, xhat, rstd, chat, rstdc, th`` (the order
    both the step loop and the persistent kernel return)."""
    steps, batch, width = projected.shape
    new, hidden = projected.new_empty, width // 4
    return (new(steps, batch, hidden), new(steps + 1, batch, hidden), new(steps + 1, batch, hidden),
            new(steps, batch, width), new(steps, batch, width), new(steps, batch), new(steps, batch, hidden),
            new(steps, batch), new(steps, batch, hidden))


def _gru_buffers(projected: Tensor) -> tuple[Tensor, ...]:
    """What a GRU forward writes: ``out, hs, gates, hidn, xhat, rstd``."""
    steps, batch, width = projected.shape
    new, hidden = projected.new_empty, width // 3
    return (new(steps, batch, hidden), new(steps + 1, batch, hidden), new(steps, batch, width),
            new(steps, batch, hidden), new(steps, batch, width), new(steps, batch))


def _lstm_steps_forward(projected, h0, c0, weight, nw, ncw, ncb, valid, eps, ln, lnc):
    steps, batch, gates_width = projected.shape
    hidden = gates_width // 4
    out, hs, cs, gates, xhat, rstd, chat, rstdc, th = buffers = _lstm_buffers(projected)
    hs[0], cs[0] = h0, c0
    product = projected.new_empty(batch, gates_width)
    block_b, block_h = 1, step.block_for(hidden)
    for t in range(steps):
        torch.mm(hs[t], weight.t(), out=product)
        step.lstm_step_forward[(batch,)](
            projected[t], product, hs[t], cs[t], valid[t], nw, ncw, ncb, hs[t + 1], cs[t + 1], out[t], gates[t],
            xhat[t], rstd[t], chat[t], rstdc[t], th[t], batch, hidden, eps, LN=ln, LNC=lnc, BLOCK_B=block_b,
            BLOCK_H=block_h)
    return buffers


def _lstm_steps_backward(grad_out, grad_h, grad_c, weight, nw, ncw, valid, hs, cs, gates, xhat, rstd, chat, rstdc,
                         th, ln, lnc):
    steps, batch, gates_width = gates.shape
    hidden = gates_width // 4
    dp, dr = torch.empty_like(gates), torch.empty_like(gates)
    dy = torch.empty_like(th)
    dh, dc = grad_h.clone(), grad_c.clone()
    dc_next, dh_pass = torch.empty_like(dc), torch.empty_like(dh)
    for t in reversed(range(steps)):
        dh_t = dh + grad_out[t] * valid[t].unsqueeze(-1)  # padded steps' outputs are constant zeros
        step.lstm_step_backward[(batch,)](
            dh_t, dc, valid[t], gates[t], cs[t], th[t], xhat[t], rstd[t], chat[t], rstdc[t], nw, ncw,
            dp[t], dr[t], dy[t], dc_next, dh_pass, batch, hidden, LN=ln, LNC=lnc, BLOCK_B=1,
            BLOCK_H=step.block_for(hidden))
        dh = torch.addmm(dh_pass, dr[t], weight)
        dc, dc_next = dc_next, dc
    return dp, dr, dy, dh, dc


class TritonLSTMSequence(torch.autograd.Function):
    """LSTM / layer-norm LSTM over a sequence on the Triton kernels (see the module docstring)."""

    @staticmethod
    def forward(ctx, projected, h0, c0, weight, norm_hh, norm_c_weight, norm_c_bias, eps, valid, mode, capture):
        ln, lnc = norm_hh is not None, norm_c_weight is not None
        nw = norm_hh if ln else _dummy(projected)
        ncw, ncb = (norm_c_weight, norm_c_bias) if lnc else (_dummy(projected), _dummy(projected))
        steps, batch, width = projected.shape
        hidden = width // 4
        if mode == "persistent":
            out, hs, cs, gates, xhat, rstd, chat, rstdc, th = _lstm_buffers(projected)
            block_b, block_h = persistent.blocks(batch, hidden)
            persistent.lstm_persistent_forward[(triton.cdiv(batch, block_b),)](
                projected, weight, h0, c0, valid, nw, ncw, ncb, out, hs, cs, gates, xhat, rstd, chat, rstdc, th,
                steps, batch, hidden, eps, LN=ln, LNC=lnc, PRECISION=_precision(projected.dtype),
                BLOCK_B=block_b, BLOCK_H=block_h)
        else:
            def lstm_loop(projected, h0, c0, weight, nw, ncw, ncb, valid):
                return _lstm_steps_forward(projected, h0, c0, weight, nw, ncw, ncb, valid, eps, ln, lnc)

            inputs = [projected, h0, c0, weight, nw, ncw, ncb, valid]
            outs = GRAPHS.run(lstm_loop, inputs, (eps, ln, lnc)) if capture else lstm_loop(*inputs)
            out, hs, cs, gates, xhat, rstd, chat, rstdc, th = outs
        ctx.save_for_backward(weight, nw, ncw, valid, hs, cs, gates, xhat, rstd, chat, rstdc, th)
        ctx.options = (ln, lnc, mode, capture)
        return out, hs[-1].clone(), cs[-1].clone()

    @staticmethod
    def backward(ctx, grad_out, grad_h, grad_c):
        weight, nw, ncw, valid, hs, cs, gates, xhat, rstd, chat, rstdc, th = ctx.saved_tensors
        ln, lnc, mode, capture = ctx.options
        grad_out, grad_h, grad_c = grad_out.contiguous(), grad_h.contiguous(), grad_c.contiguous()
        steps, batch, width = gates.shape
        hidden = width // 4
        if mode == "persistent":
            dp, dr = torch.empty_like(gates), torch.empty_like(gates)
            dy = torch.empty_like(th)
            dh0, dc0 = torch.empty_like(grad_h), torch.empty_like(grad_c)
            block_b, block_h = persistent.blocks(batch, hidden)
            persistent.lstm_persistent_backward[(triton.cdiv(batch, block_b),)](
                grad_out, grad_h, grad_c, weight, valid, gates, cs, th, xhat, rstd, chat, rstdc, nw, ncw, dp, dr, dy,
                dh0, dc0, steps, batch, hidden, LN=ln, LNC=lnc, PRECISION=_precision(gates.dtype), BLOCK_B=block_b,
                BLOCK_H=block_h)
        else:
            def lstm_loop_backward(*tensors):
                return _lstm_steps_backward(*tensors, ln, lnc)

            inputs = [grad_out, grad_h, grad_c, weight, nw, ncw, valid, hs, cs, gates, xhat, rstd, chat, rstdc, th]
            run = GRAPHS.run(lstm_loop_backward, inputs, (ln, lnc)) if capture else lstm_loop_backward(*inputs)
            dp, dr, dy, dh0, dc0 = run
        d_weight = dr.reshape(-1, width).t().mm(hs[:-1].reshape(-1, hidden))
        d_nw = (dp * xhat).sum((0, 1)) if ln else None
        d_ncw, d_ncb = ((dy * chat).sum((0, 1)), dy.sum((0, 1))) if lnc else (None, None)
        return dp, dh0, dc0, d_weight, d_nw, d_ncw, d_ncb, None, None, None, None


def _gru_steps_forward(projected, h0, weight, nw, bias, valid, eps, ln, has_bias):
    steps, batch, width = projected.shape
    hidden = width // 3
    out, hs, gates, hidn, xhat, rstd = buffers = _gru_buffers(projected)
    hs[0] = h0
    product = projected.new_empty(batch, width)
    for t in range(steps):
        torch.mm(hs[t], weight.t(), out=product)
        step.gru_step_forward[(batch,)](
            projected[t], product, hs[t], valid[t], nw, bias, hs[t + 1], out[t], gates[t], hidn[t], xhat[t], rstd[t],
            batch, hidden, eps, LN=ln, BIAS=has_bias, BLOCK_B=1, BLOCK_H=step.block_for(hidden))
    return buffers


def _gru_steps_backward(grad_out, grad_h, weight, nw, valid, hs, gates, hidn, xhat, rstd, ln):
    steps, batch, width = gates.shape
    hidden = width // 3
    dp, dhid, dr = torch.empty_like(gates), torch.empty_like(gates), torch.empty_like(gates)
    dh, direct = grad_h.clone(), torch.empty_like(grad_h)
    for t in reversed(range(steps)):
        dh_t = dh + grad_out[t] * valid[t].unsqueeze(-1)  # padded steps' outputs are constant zeros
        step.gru_step_backward[(batch,)](
            dh_t, hs[t], valid[t], gates[t], hidn[t], xhat[t], rstd[t], nw, dp[t], dhid[t], dr[t],
            direct, batch, hidden, LN=ln, BLOCK_B=1, BLOCK_H=step.block_for(hidden))
        dh = torch.addmm(direct, dr[t], weight)
    return dp, dhid, dr, dh


class TritonGRUSequence(torch.autograd.Function):
    """GRU / layer-norm GRU over a sequence on the Triton kernels (see the module docstring)."""

    @staticmethod
    def forward(ctx, projected, h0, weight, bias_hh, norm_hh, eps, valid, mode, capture):
        ln, has_bias = norm_hh is not None, bias_hh is not None
        nw = norm_hh if ln else _dummy(projected)
        bias = bias_hh if has_bias else _dummy(projected)
        steps, batch, width = projected.shape
        hidden = width // 3
        if mode == "persistent":
            out, hs, gates, hidn, xhat, rstd = _gru_buffers(projected)
            block_b, block_h = persistent.blocks(batch, hidden)
            persistent.gru_persistent_forward[(triton.cdiv(batch, block_b),)](
                projected, weight, h0, valid, nw, bias, out, hs, gates, hidn, xhat, rstd, steps, batch, hidden, eps,
                LN=ln, BIAS=has_bias, PRECISION=_precision(projected.dtype), BLOCK_B=block_b, BLOCK_H=block_h)
        else:
            def gru_loop(projected, h0, weight, nw, bias, valid):
                return _gru_steps_forward(projected, h0, weight, nw, bias, valid, eps, ln, has_bias)

            inputs = [projected, h0, weight, nw, bias, valid]
            graphed = GRAPHS.run(gru_loop, inputs, (eps, ln, has_bias)) if capture else gru_loop(*inputs)
            out, hs, gates, hidn, xhat, rstd = graphed
        ctx.save_for_backward(weight, nw, valid, hs, gates, hidn, xhat, rstd)
        ctx.options = (ln, has_bias, mode, capture)
        return out, hs[-1].clone()

    @staticmethod
    def backward(ctx, grad_out, grad_h):
        weight, nw, valid, hs, gates, hidn, xhat, rstd = ctx.saved_tensors
        ln, has_bias, mode, capture = ctx.options
        grad_out, grad_h = grad_out.contiguous(), grad_h.contiguous()
        steps, batch, width = gates.shape
        hidden = width // 3
        if mode == "persistent":
            dp, dhid, dr = torch.empty_like(gates), torch.empty_like(gates), torch.empty_like(gates)
            dh = torch.empty_like(grad_h)
            block_b, block_h = persistent.blocks(batch, hidden)
            persistent.gru_persistent_backward[(triton.cdiv(batch, block_b),)](
                grad_out, grad_h, weight, valid, hs, gates, hidn, xhat, rstd, nw, dp, dhid, dr, dh, steps, batch,
                hidden, LN=ln, PRECISION=_precision(gates.dtype), BLOCK_B=block_b, BLOCK_H=block_h)
        else:
            def gru_loop_backward(*tensors):
                return _gru_steps_backward(*tensors, ln)

            inputs = [grad_out, grad_h, weight, nw, valid, hs, gates, hidn, xhat, rstd]
            run = GRAPHS.run(gru_loop_backward, inputs, (ln,)) if capture else gru_loop_backward(*inputs)
            dp, dhid, dr, dh = run
        d_weight = dr.reshape(-1, width).t().mm(hs[:-1].reshape(-1, hidden))
        d_bias = dhid.sum((0, 1)) if has_bias else None
        d_nw = (dhid * xhat).sum((0, 1)) if ln else None
        return dp, dh, d_weight, d_bias, d_nw, None, None, None, None


def run_triton(
    cell: RecurrentCell,
    x: Tensor,
    state: State,
    *,
    lengths: Tensor | None = None,
    reverse: bool = False,
    mode: str | None = None,
    capture_graph: bool = False,
) -> tuple[Tensor, State]:
    """Run one cell over a time-major sequence on the Triton kernels (``run_loop``'s contract).

    Args:
        cell: a cell whose :func:`~rnnkit.cells.kernel.declared_kernel` family is ``"lstm"`` or ``"gru"``
            (layer-norm variants included), or a real-valued linear cell (minGRU, minLSTM).
        x, state, lengths, reverse: as :func:`rnnkit.backends.loop.run_loop`.
        mode: ``"persistent"`` (default where the weights fit on chip: ``persistent.fits``) or ``"steps"``.
        capture_graph: with ``mode="steps"`` on CUDA, capture the time loop in a CUDA graph and replay it.
    """
    if (why := triton_unavailable(x.device.type)) is not None:
        raise ValueError(f"backend='triton' cannot run this input: {why}")
    projected = cell.project_input(x)
    if reverse:
        projected = reverse_padded(projected, lengths)
    projected = projected.contiguous()
    steps, batch = projected.shape[:2]
    if isinstance(cell, LinearRecurrentCell):
        a, b = coefficient_tensors(cell.coefficients(projected))
        states = TritonLinearScan.apply(a, b, cell.to_scan_value(state))
        return scan_outputs(cell, states, projected, lengths=lengths, reverse=reverse)
    spec = declared_kernel(cell)
    hidden = cell.hidden_size
    layer_norm = spec.norm_hh is not None or spec.norm_cell is not None
    gates = 4 if spec.family == "lstm" else 3
    fits = persistent.fits(hidden, gates=gates, element_size=projected.element_size(), layer_norm=layer_norm)
    mode = mode or ("persistent" if fits else "steps")
    capture = capture_graph and mode == "steps" and projected.is_cuda
    valid = _valid(steps, batch, lengths, projected.device)
    if spec.family == "lstm":
        h0, c0 = state
        ncw, ncb = spec.norm_cell if spec.norm_cell is not None else (None, None)
        out, h, c = TritonLSTMSequence.apply(projected, h0.contiguous(), c0.contiguous(), spec.weight_hh,
                                             spec.norm_hh, ncw, ncb, spec.eps, valid, mode, capture)
        final: State = (cell.state_type or LSTMState)(h, c)
    else:
        out, final = TritonGRUSequence.apply(projected, state.contiguous(), spec.weight_hh, spec.bias_hh,
                                             spec.norm_hh, spec.eps, valid, mode, capture)
    out = reverse_padded(out, lengths) if reverse else out
    return out, final
