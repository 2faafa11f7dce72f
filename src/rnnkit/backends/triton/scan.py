"""A chunked parallel scan in Triton for linear recurrences ``h_t = a_t * h_{t-1} + b_t`` (real).

Three launches: (1) every (lane block, time chunk) program scans its chunk with
``tl.associative_scan`` and the operator ``(a1, b1) . (a2, b2) = (a1 a2, a2 b1 + b2)`` (Orvieto et
al. 2023, App. A), from a zero state, keeping the running products; (2) one program per lane
block carries the state across the chunk ends, sequentially over the ``T / chunk`` chunks;
(3) every chunk adds its entering state through its running products. ``O(T)`` work, depth
``O(chunk + T / chunk)``, only products and sums (as precise as stepping). The backward is the
same scan run on the reversed gradients (``g_t = dL/dh_t + a_{t+1} g_{t+1}``).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor


@triton.jit
def _combine(a1, b1, a2, b2):
    return a1 * a2, a2 * b1 + b2


@triton.jit
def _wide(x, WIDEN: tl.constexpr):
    """16-bit values in float32 (``WIDEN``): long products lose too much in bfloat16."""
    if WIDEN:
        x = x.to(tl.float32)
    return x


@triton.jit
def _chunk_scan(a_ptr, b_ptr, local_ptr, prod_ptr, end_a_ptr, end_b_ptr, steps, lanes,
                CHUNK: tl.constexpr, BLOCK: tl.constexpr, WIDEN: tl.constexpr):
    lane_block, chunk = tl.program_id(0), tl.program_id(1)
    t = chunk * CHUNK + tl.arange(0, CHUNK)[:, None]
    n = lane_block * BLOCK + tl.arange(0, BLOCK)[None, :]
    inside = (t < steps) & (n < lanes)
    a = _wide(tl.load(a_ptr + t * lanes + n, mask=inside, other=1.0), WIDEN)
    b = _wide(tl.load(b_ptr + t * lanes + n, mask=inside, other=0.0), WIDEN)
    prod, state = tl.associative_scan((a, b), 0, _combine)
    tl.store(local_ptr + t * lanes + n, state, mask=inside)
    tl.store(prod_ptr + t * lanes + n, prod, mask=inside)
    last = tl.arange(0, CHUNK)[:, None] == CHUNK - 1  # padded steps are neutral, so the chunk's last row
    lane = lane_block * BLOCK + tl.arange(0, BLOCK)
    tl.store(end_a_ptr + chunk * lanes + lane, tl.sum(tl.where(last, prod, 0.0), axis=0), mask=lane < lanes)
    tl.store(end_b_ptr + chunk * lanes + lane, tl.sum(tl.where(last, state, 0.0), axis=0), mask=lane < lanes)


@triton.jit
def _carry(end_a_ptr, end_b_ptr, h0_ptr, enter_ptr, chunks, lanes, BLOCK: tl.constexpr, WIDEN: tl.constexpr):
    lane = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    keep = lane < lanes
    h = _wide(tl.load(h0_ptr + lane, mask=keep, other=0.0), WIDEN)
    for k in range(chunks):
        tl.store(enter_ptr + k * lanes + lane, h, mask=keep)
        h = tl.load(end_a_ptr + k * lanes + lane, mask=keep, other=1.0) * h + tl.load(
            end_b_ptr + k * lanes + lane, mask=keep, other=0.0)


@triton.jit
def _fix_up(local_ptr, prod_ptr, enter_ptr, out_ptr, steps, lanes, CHUNK: tl.constexpr, BLOCK: tl.constexpr):
    lane_block, chunk = tl.program_id(0), tl.program_id(1)
    t = chunk * CHUNK + tl.arange(0, CHUNK)[:, None]
    n = lane_block * BLOCK + tl.arange(0, BLOCK)[None, :]
    inside = (t < steps) & (n < lanes)
    entering = tl.load(enter_ptr + chunk * lanes + n, mask=n < lanes, other=0.0)
    local = tl.load(local_ptr + t * lanes + n, mask=inside, other=0.0)
    prod = tl.load(prod_ptr + t * lanes + n, mask=inside, other=0.0)
    tl.store(out_ptr + t * lanes + n, local + prod * entering, mask=inside)


def triton_linear_scan_forward(a: Tensor, b: Tensor, h0: Tensor, *, chunk: int = 64, block: int = 128) -> Tensor:
    """All states of ``h_t = a_t h_{t-1} + b_t`` for contiguous real ``a, b`` of shape ``(T, ...)``."""
    steps = b.shape[0]
    lanes = b[0].numel()
    chunk = min(chunk, triton.next_power_of_2(max(steps, 1)))
    block = min(block, triton.next_power_of_2(max(lanes, 1)))
    chunks = triton.cdiv(steps, chunk)
    a, b, h0 = a.contiguous(), b.contiguous(), h0.contiguous()
    # Intermediates at least in float32: long products lose too much in bfloat16.
    widen = b.dtype in (torch.float16, torch.bfloat16)
    wide = torch.float32 if widen else b.dtype
    local = torch.empty(b.shape, dtype=wide, device=b.device)
    prod = torch.empty_like(local)
    end_a, end_b, enter = (torch.empty(chunks, lanes, dtype=wide, device=b.device) for _ in range(3))
    grid = (triton.cdiv(lanes, block), chunks)
    _chunk_scan[grid](a, b, local, prod, end_a, end_b, steps, lanes, CHUNK=chunk, BLOCK=block, WIDEN=widen)
    _carry[(grid[0],)](end_a, end_b, h0, enter, chunks, lanes, BLOCK=block, WIDEN=widen)
    out = torch.empty_like(b)
    _fix_up[grid](local, prod, enter, out, steps, lanes, CHUNK=chunk, BLOCK=block)
    return out


class TritonLinearScan(torch.autograd.Function):
    """Autograd wrapper: forward by the chunked scan, backward by the same scan over reversed time."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
        a = a.expand_as(b).contiguous()
        h = triton_linear_scan_forward(a, b, h0)
        ctx.save_for_backward(a, h, h0)
        return h

    @staticmethod
    def backward(ctx, grad: Tensor):
        a, h, h0 = ctx.saved_tensors
        # g_t = grad_t + a_{t+1} g_{t+1}: a forward scan of the reversed gradients with shifted multipliers.
        shifted = torch.cat([torch.zeros_like(a[:1]), a.flip(0)[:-1]])
        g = triton_linear_scan_forward(shifted, grad.flip(0).contiguous(), torch.zeros_like(h0)).flip(0)
        previous = torch.cat([h0.unsqueeze(0), h[:-1]])
        return g * previous, g, a[0] * g[0]
