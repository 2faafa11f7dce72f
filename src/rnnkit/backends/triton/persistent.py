"""Persistent recurrent kernels in Triton: one launch runs every time step, forward or backward.

Each program owns ``BLOCK_B`` batch rows and all ``H`` hidden units; it loads the recurrent weight
(one ``H x H`` tile per gate) once, before the time loop, and keeps it on chip (registers or
shared memory, as Triton places it) while it steps through time, so per step only the projected
input is read and the outputs and saved activations are written. This fits hidden sizes whose
gate tiles fit on an SM (:func:`fits`: ``H <= 128`` in bfloat16, 64 in float32); larger ones run the step
kernels with cuBLAS products (:mod:`rnnkit.backends.triton.runner`). The gate arithmetic is the
same code as the step kernels' (:mod:`rnnkit.backends.triton.step`).
"""

from __future__ import annotations

import triton
import triton.language as tl

from rnnkit.backends.triton.step import (
    _ld,
    _tile,
    gru_tile_backward,
    gru_tile_forward,
    lstm_tile_backward,
    lstm_tile_forward,
)


@triton.jit
def _weight_tile(w_ptr, gate, cols, H, TRANSPOSED: tl.constexpr):
    """Gate ``gate``'s block of ``W`` (``(G H, H)`` row-major) as an ``(H, H)`` tile: ``W_g^T`` (input unit,
    output unit) for the forward product ``h W_g^T``, or ``W_g`` for the backward ``dR_g W_g``."""
    a, b = cols[:, None], cols[None, :]
    mask = (a < H) & (b < H)
    if TRANSPOSED:
        return tl.load(w_ptr + (gate * H + b) * H + a, mask=mask, other=0.0)
    return tl.load(w_ptr + (gate * H + a) * H + b, mask=mask, other=0.0)


@triton.jit
def _mm(x, w, PRECISION: tl.constexpr):
    return tl.dot(x.to(w.dtype), w, input_precision=PRECISION, out_dtype=tl.float32)


@triton.jit
def lstm_persistent_forward(p_ptr, w_ptr, h0_ptr, c0_ptr, valid_ptr, nw_ptr, ncw_ptr, ncb_ptr,
                            out_ptr, hs_ptr, cs_ptr, gates_ptr, xhat_ptr, rstd_ptr, chat_ptr, rstdc_ptr, th_ptr,
                            T, B, H, eps, LN: tl.constexpr, LNC: tl.constexpr, PRECISION: tl.constexpr,
                            BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr):
    rows, cols, m = _tile(B, H, BLOCK_B, BLOCK_H)
    r1, c_ = rows * H, cols[None, :]
    wi, wf = _weight_tile(w_ptr, 0, cols, H, True), _weight_tile(w_ptr, 1, cols, H, True)
    wg, wo = _weight_tile(w_ptr, 2, cols, H, True), _weight_tile(w_ptr, 3, cols, H, True)
    h = _ld(h0_ptr, r1 + c_, m)
    c = _ld(c0_ptr, r1 + c_, m)
    tl.store(hs_ptr + r1 + c_, h, mask=m)
    tl.store(cs_ptr + r1 + c_, c, mask=m)
    for t in range(T):
        s4, s1 = t * B * 4 * H, t * B * H
        valid = tl.load(valid_ptr + t * B + rows, mask=rows < B, other=0) != 0
        h, c, y = lstm_tile_forward(
            p_ptr + s4, _mm(h, wi, PRECISION), _mm(h, wf, PRECISION), _mm(h, wg, PRECISION), _mm(h, wo, PRECISION),
            h, c, valid, nw_ptr, ncw_ptr, ncb_ptr, gates_ptr + s4, xhat_ptr + s4, rstd_ptr + t * B,
            chat_ptr + s1, rstdc_ptr + t * B, th_ptr + s1, rows, cols, m, H, eps, LN, LNC)
        tl.store(out_ptr + s1 + r1 + c_, y, mask=m)
        tl.store(hs_ptr + s1 + B * H + r1 + c_, h, mask=m)
        tl.store(cs_ptr + s1 + B * H + r1 + c_, c, mask=m)


@triton.jit
def lstm_persistent_backward(grad_out_ptr, grad_h_ptr, grad_c_ptr, w_ptr, valid_ptr, gates_ptr, cs_ptr, th_ptr,
                             xhat_ptr, rstd_ptr, chat_ptr, rstdc_ptr, nw_ptr, ncw_ptr, dp_ptr, dr_ptr, dy_ptr,
                             dh0_ptr, dc0_ptr, T, B, H, LN: tl.constexpr, LNC: tl.constexpr,
                             PRECISION: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr):
    rows, cols, m = _tile(B, H, BLOCK_B, BLOCK_H)
    r1, c_ = rows * H, cols[None, :]
    wi, wf = _weight_tile(w_ptr, 0, cols, H, False), _weight_tile(w_ptr, 1, cols, H, False)
    wg, wo = _weight_tile(w_ptr, 2, cols, H, False), _weight_tile(w_ptr, 3, cols, H, False)
    dh = _ld(grad_h_ptr, r1 + c_, m)
    dc = _ld(grad_c_ptr, r1 + c_, m)
    for s in range(T):
        t = T - 1 - s
        s4, s1 = t * B * 4 * H, t * B * H
        valid = tl.load(valid_ptr + t * B + rows, mask=rows < B, other=0) != 0
        dh = dh + tl.where(valid, _ld(grad_out_ptr + s1, r1 + c_, m), 0.0)
        d_i, d_f, d_g, d_o, dc = lstm_tile_backward(
            dh, dc, valid, gates_ptr + s4, cs_ptr + s1, th_ptr + s1, xhat_ptr + s4, rstd_ptr + t * B, chat_ptr + s1,
            rstdc_ptr + t * B, nw_ptr, ncw_ptr, dp_ptr + s4, dr_ptr + s4, dy_ptr + s1, rows, cols, m, H, LN, LNC)
        back = _mm(d_i, wi, PRECISION) + _mm(d_f, wf, PRECISION) + _mm(d_g, wg, PRECISION) + _mm(d_o, wo, PRECISION)
        dh = tl.where(valid, back, dh)
    tl.store(dh0_ptr + r1 + c_, dh, mask=m)
    tl.store(dc0_ptr + r1 + c_, dc, mask=m)


@triton.jit
def gru_persistent_forward(p_ptr, w_ptr, h0_ptr, valid_ptr, nw_ptr, bias_ptr, out_ptr, hs_ptr, gates_ptr, hidn_ptr,
                           xhat_ptr, rstd_ptr, T, B, H, eps, LN: tl.constexpr, BIAS: tl.constexpr,
                           PRECISION: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr):
    rows, cols, m = _tile(B, H, BLOCK_B, BLOCK_H)
    r1, c_ = rows * H, cols[None, :]
    wr, wz = _weight_tile(w_ptr, 0, cols, H, True), _weight_tile(w_ptr, 1, cols, H, True)
    wn = _weight_tile(w_ptr, 2, cols, H, True)
    h = _ld(h0_ptr, r1 + c_, m)
    tl.store(hs_ptr + r1 + c_, h, mask=m)
    for t in range(T):
        s3, s1 = t * B * 3 * H, t * B * H
        valid = tl.load(valid_ptr + t * B + rows, mask=rows < B, other=0) != 0
        h, y = gru_tile_forward(
            p_ptr + s3, _mm(h, wr, PRECISION), _mm(h, wz, PRECISION), _mm(h, wn, PRECISION), h, valid, nw_ptr,
            bias_ptr, gates_ptr + s3, hidn_ptr + s1, xhat_ptr + s3, rstd_ptr + t * B, rows, cols, m, H, eps, LN, BIAS)
        tl.store(out_ptr + s1 + r1 + c_, y, mask=m)
        tl.store(hs_ptr + s1 + B * H + r1 + c_, h, mask=m)


@triton.jit
def gru_persistent_backward(grad_out_ptr, grad_h_ptr, w_ptr, valid_ptr, hs_ptr, gates_ptr, hidn_ptr, xhat_ptr,
                            rstd_ptr, nw_ptr, dp_ptr, dhid_ptr, dr_ptr, dh0_ptr, T, B, H, LN: tl.constexpr,
                            PRECISION: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr):
    rows, cols, m = _tile(B, H, BLOCK_B, BLOCK_H)
    r1, c_ = rows * H, cols[None, :]
    wr, wz = _weight_tile(w_ptr, 0, cols, H, False), _weight_tile(w_ptr, 1, cols, H, False)
    wn = _weight_tile(w_ptr, 2, cols, H, False)
    dh = _ld(grad_h_ptr, r1 + c_, m)
    for s in range(T):
        t = T - 1 - s
        s3, s1 = t * B * 3 * H, t * B * H
        valid = tl.load(valid_ptr + t * B + rows, mask=rows < B, other=0) != 0
        dh = dh + tl.where(valid, _ld(grad_out_ptr + s1, r1 + c_, m), 0.0)
        d_r, d_z, d_n, direct = gru_tile_backward(
            dh, _ld(hs_ptr + s1, r1 + c_, m), valid, gates_ptr + s3, hidn_ptr + s1, xhat_ptr + s3, rstd_ptr + t * B,
            nw_ptr, dp_ptr + s3, dhid_ptr + s3, dr_ptr + s3, rows, cols, m, H, LN)
        dh = direct + _mm(d_r, wr, PRECISION) + _mm(d_z, wz, PRECISION) + _mm(d_n, wn, PRECISION)
    tl.store(dh0_ptr + r1 + c_, dh, mask=m)


#: Bytes of recurrent weight a persistent program may keep on chip, without and with layer norm (whose
#: reductions need shared-memory scratch too). Measured on an H200 (227 KB of shared memory per
#: block): bfloat16 LSTM at H=128 (128 KB) compiled and ran; float32 LSTM at H=128 (256 KB) and
#: bfloat16 layer-norm LSTM at H=128 (128 KB + scratch) ran out of shared memory.
WEIGHT_BYTES_ON_CHIP = {False: 128 * 1024, True: 64 * 1024}


def fits(hidden: int, *, gates: int = 4, element_size: int = 2, layer_norm: bool = False) -> bool:
    """Whether the persistent kernels take this hidden size: ``gates`` weight tiles of ``BLOCK_H x BLOCK_H``
    (``H`` padded to a power of two, :func:`blocks`) of ``element_size`` bytes must stay on chip
    (:data:`WEIGHT_BYTES_ON_CHIP`)."""
    block = blocks(1, hidden)[1]
    return gates * block * block * element_size <= WEIGHT_BYTES_ON_CHIP[layer_norm]


def blocks(batch: int, hidden: int) -> tuple[int, int]:
    """``(BLOCK_B, BLOCK_H)``: at least 16 each (``tl.dot``'s minimum), powers of two."""
    return max(16, min(64, triton.next_power_of_2(batch))), max(16, triton.next_power_of_2(hidden))
