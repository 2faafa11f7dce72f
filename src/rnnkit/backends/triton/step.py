"""Gate arithmetic of LSTM, GRU and their layer-norm variants as Triton tiles, forward and BPTT backward.

Each helper works on a tile of ``BLOCK_B`` batch rows by ``BLOCK_H`` hidden units (the whole row:
the layer norms reduce over all gates of a row) and reads and writes the per-step buffers at
``row_offsets`` (``(BLOCK_B, 1)`` element offsets of the rows in a ``(B, ...)`` step). Two kinds of
kernel call them:

* the step kernels (``*_step_forward`` / ``*_step_backward``): one launch per time step does all of
  a step's gate arithmetic while the recurrent product stays a cuBLAS matrix multiply
  (:mod:`rnnkit.backends.triton.runner` loops over time, optionally inside a CUDA graph);
* the persistent kernels (:mod:`rnnkit.backends.triton.persistent`): one launch runs every step,
  with the recurrent weight loaded on chip once.

Everything is computed in float32 whatever the storage dtype (bfloat16 on GPUs). Gates are named
values, not lists: Triton's compiler takes no Python containers.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _sigmoid(x):
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def _tanh(x):
    return 2.0 * _sigmoid(2.0 * x) - 1.0


@triton.jit
def _ld(ptr, offsets, mask):
    return tl.load(ptr + offsets, mask=mask, other=0.0).to(tl.float32)


@triton.jit
def _row_mask(m):
    """``(BLOCK_B, 1)``: rows of the tile that exist (from the tile's 2-d mask)."""
    return (tl.sum(m.to(tl.int32), 1) > 0)[:, None]


@triton.jit
def _center(x, mean, m):
    return tl.where(m, x - mean, 0.0)


@triton.jit
def _ln4(a, b, c, d, m, n, eps):
    """Layer norm without affine over four gate segments of each row (axis 1); returns them and 1/std."""
    mean = ((tl.sum(a, 1) + tl.sum(b, 1) + tl.sum(c, 1) + tl.sum(d, 1)) / n)[:, None]
    a, b, c, d = _center(a, mean, m), _center(b, mean, m), _center(c, mean, m), _center(d, mean, m)
    var = (tl.sum(a * a, 1) + tl.sum(b * b, 1) + tl.sum(c * c, 1) + tl.sum(d * d, 1)) / n
    rstd = (1.0 / tl.sqrt(var + eps))[:, None]
    return a * rstd, b * rstd, c * rstd, d * rstd, rstd


@triton.jit
def _ln4_backward(da, db, dc, dd, xa, xb, xc, xd, rstd, n):
    s1 = ((tl.sum(da, 1) + tl.sum(db, 1) + tl.sum(dc, 1) + tl.sum(dd, 1)) / n)[:, None]
    s2 = ((tl.sum(da * xa, 1) + tl.sum(db * xb, 1) + tl.sum(dc * xc, 1) + tl.sum(dd * xd, 1)) / n)[:, None]
    return (rstd * (da - s1 - xa * s2), rstd * (db - s1 - xb * s2), rstd * (dc - s1 - xc * s2),
            rstd * (dd - s1 - xd * s2))


@triton.jit
def _ln3(a, b, c, m, n, eps):
    mean = ((tl.sum(a, 1) + tl.sum(b, 1) + tl.sum(c, 1)) / n)[:, None]
    a, b, c = _center(a, mean, m), _center(b, mean, m), _center(c, mean, m)
    rstd = (1.0 / tl.sqrt((tl.sum(a * a, 1) + tl.sum(b * b, 1) + tl.sum(c * c, 1)) / n + eps))[:, None]
    return a * rstd, b * rstd, c * rstd, rstd


@triton.jit
def _ln3_backward(da, db, dc, xa, xb, xc, rstd, n):
    s1 = ((tl.sum(da, 1) + tl.sum(db, 1) + tl.sum(dc, 1)) / n)[:, None]
    s2 = ((tl.sum(da * xa, 1) + tl.sum(db * xb, 1) + tl.sum(dc * xc, 1)) / n)[:, None]
    return rstd * (da - s1 - xa * s2), rstd * (db - s1 - xb * s2), rstd * (dc - s1 - xc * s2)


# ----------------------------------------------------------------------------------------------- LSTM


@triton.jit
def lstm_tile_forward(p_ptr, ri, rf, rg, ro, h_prev, c_prev, valid, nw_ptr, ncw_ptr, ncb_ptr,
                      gates_ptr, xhat_ptr, rstd_ptr, chat_ptr, rstdc_ptr, th_ptr, rows, cols, m, H, eps,
                      LN: tl.constexpr, LNC: tl.constexpr):
    """gates = P + (norm_hh * LN(R) or R); c' = f c + i g; h' = o tanh(LN(c') or c'). Saves what the
    backward needs at this step's buffers; returns (h, c) kept (padded rows keep theirs) and the output."""
    r4, r1 = rows * 4 * H, rows * H
    c_ = cols[None, :]
    if LN:
        ri, rf, rg, ro, rstd = _ln4(ri, rf, rg, ro, m, 4 * H, eps)
        tl.store(xhat_ptr + r4 + c_, ri, mask=m)
        tl.store(xhat_ptr + r4 + H + c_, rf, mask=m)
        tl.store(xhat_ptr + r4 + 2 * H + c_, rg, mask=m)
        tl.store(xhat_ptr + r4 + 3 * H + c_, ro, mask=m)
        tl.store(rstd_ptr + rows, rstd, mask=_row_mask(m))
        ri, rf = ri * _ld(nw_ptr, c_, m), rf * _ld(nw_ptr, H + c_, m)
        rg, ro = rg * _ld(nw_ptr, 2 * H + c_, m), ro * _ld(nw_ptr, 3 * H + c_, m)
    i = _sigmoid(_ld(p_ptr, r4 + c_, m) + ri)
    f = _sigmoid(_ld(p_ptr, r4 + H + c_, m) + rf)
    g = _tanh(_ld(p_ptr, r4 + 2 * H + c_, m) + rg)
    o = _sigmoid(_ld(p_ptr, r4 + 3 * H + c_, m) + ro)
    c = f * c_prev + i * g
    y = c
    if LNC:
        cd = _center(c, (tl.sum(tl.where(m, c, 0.0), 1) / H)[:, None], m)
        rstdc = (1.0 / tl.sqrt(tl.sum(cd * cd, 1) / H + eps))[:, None]
        tl.store(chat_ptr + r1 + c_, cd * rstdc, mask=m)
        tl.store(rstdc_ptr + rows, rstdc, mask=_row_mask(m))
        y = cd * rstdc * _ld(ncw_ptr, c_, m) + _ld(ncb_ptr, c_, m)
    th = _tanh(y)
    h = o * th
    tl.store(gates_ptr + r4 + c_, i, mask=m)
    tl.store(gates_ptr + r4 + H + c_, f, mask=m)
    tl.store(gates_ptr + r4 + 2 * H + c_, g, mask=m)
    tl.store(gates_ptr + r4 + 3 * H + c_, o, mask=m)
    tl.store(th_ptr + r1 + c_, th, mask=m)
    return tl.where(valid, h, h_prev), tl.where(valid, c, c_prev), tl.where(valid, h, 0.0)


@triton.jit
def lstm_tile_backward(dh, dc, valid, gates_ptr, cprev_ptr, th_ptr, xhat_ptr, rstd_ptr, chat_ptr, rstdc_ptr,
                       nw_ptr, ncw_ptr, dp_ptr, dr_ptr, dy_ptr, rows, cols, m, H,
                       LN: tl.constexpr, LNC: tl.constexpr):
    """The step's BPTT from dL/dh_t (the output's gradient included) and dL/dc_t: stores the gradients
    of the projected input (dP), of the recurrent product (dR: dh_{t-1} = dR W, dW = sum dR^T h) and
    dL/dy for the cell norm's weights; returns (dR_i, dR_f, dR_g, dR_o) and dL/dc_{t-1}."""
    r4, r1 = rows * 4 * H, rows * H
    c_ = cols[None, :]
    i, f = _ld(gates_ptr, r4 + c_, m), _ld(gates_ptr, r4 + H + c_, m)
    g, o = _ld(gates_ptr, r4 + 2 * H + c_, m), _ld(gates_ptr, r4 + 3 * H + c_, m)
    th = _ld(th_ptr, r1 + c_, m)
    d_o = dh * th * o * (1.0 - o)
    dy = dh * o * (1.0 - th * th)
    tl.store(dy_ptr + r1 + c_, tl.where(valid, dy, 0.0), mask=m)
    if LNC:
        chat = _ld(chat_ptr, r1 + c_, m)
        dn = dy * _ld(ncw_ptr, c_, m)
        rstdc = tl.load(rstdc_ptr + rows, mask=_row_mask(m), other=0.0).to(tl.float32)
        dy = rstdc * (dn - (tl.sum(dn, 1) / H)[:, None] - chat * (tl.sum(dn * chat, 1) / H)[:, None])
    dcn = dc + dy
    c_prev = _ld(cprev_ptr, r1 + c_, m)
    d_i = dcn * g * i * (1.0 - i)
    d_f = dcn * c_prev * f * (1.0 - f)
    d_g = dcn * i * (1.0 - g * g)
    tl.store(dp_ptr + r4 + c_, tl.where(valid, d_i, 0.0), mask=m)
    tl.store(dp_ptr + r4 + H + c_, tl.where(valid, d_f, 0.0), mask=m)
    tl.store(dp_ptr + r4 + 2 * H + c_, tl.where(valid, d_g, 0.0), mask=m)
    tl.store(dp_ptr + r4 + 3 * H + c_, tl.where(valid, d_o, 0.0), mask=m)
    if LN:
        xi, xf = _ld(xhat_ptr, r4 + c_, m), _ld(xhat_ptr, r4 + H + c_, m)
        xg, xo = _ld(xhat_ptr, r4 + 2 * H + c_, m), _ld(xhat_ptr, r4 + 3 * H + c_, m)
        rstd = tl.load(rstd_ptr + rows, mask=_row_mask(m), other=0.0).to(tl.float32)
        d_i, d_f, d_g, d_o = _ln4_backward(
            d_i * _ld(nw_ptr, c_, m), d_f * _ld(nw_ptr, H + c_, m), d_g * _ld(nw_ptr, 2 * H + c_, m),
            d_o * _ld(nw_ptr, 3 * H + c_, m), xi, xf, xg, xo, rstd, 4 * H)
    d_i, d_f = tl.where(valid, d_i, 0.0), tl.where(valid, d_f, 0.0)
    d_g, d_o = tl.where(valid, d_g, 0.0), tl.where(valid, d_o, 0.0)
    tl.store(dr_ptr + r4 + c_, d_i, mask=m)
    tl.store(dr_ptr + r4 + H + c_, d_f, mask=m)
    tl.store(dr_ptr + r4 + 2 * H + c_, d_g, mask=m)
    tl.store(dr_ptr + r4 + 3 * H + c_, d_o, mask=m)
    return d_i, d_f, d_g, d_o, tl.where(valid, dcn * f, dc)


@triton.jit
def _tile(B, H, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr):
    rows = (tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B))[:, None]
    cols = tl.arange(0, BLOCK_H)
    return rows, cols, (rows < B) & (cols[None, :] < H)


@triton.jit
def lstm_step_forward(p_ptr, r_ptr, h_ptr, c_ptr, valid_ptr, nw_ptr, ncw_ptr, ncb_ptr,
                      h_out, c_out, y_out, gates_ptr, xhat_ptr, rstd_ptr, chat_ptr, rstdc_ptr, th_ptr,
                      B, H, eps, LN: tl.constexpr, LNC: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr):
    """One step; ``r_ptr`` holds the recurrent product ``h W^T`` of this step (B, 4H)."""
    rows, cols, m = _tile(B, H, BLOCK_B, BLOCK_H)
    r4, r1, c_ = rows * 4 * H, rows * H, cols[None, :]
    valid = tl.load(valid_ptr + rows, mask=rows < B, other=0) != 0
    h, c, y = lstm_tile_forward(
        p_ptr, _ld(r_ptr, r4 + c_, m), _ld(r_ptr, r4 + H + c_, m), _ld(r_ptr, r4 + 2 * H + c_, m),
        _ld(r_ptr, r4 + 3 * H + c_, m), _ld(h_ptr, r1 + c_, m), _ld(c_ptr, r1 + c_, m), valid, nw_ptr, ncw_ptr,
        ncb_ptr, gates_ptr, xhat_ptr, rstd_ptr, chat_ptr, rstdc_ptr, th_ptr, rows, cols, m, H, eps, LN, LNC)
    tl.store(h_out + r1 + c_, h, mask=m)
    tl.store(c_out + r1 + c_, c, mask=m)
    tl.store(y_out + r1 + c_, y, mask=m)


@triton.jit
def lstm_step_backward(dh_ptr, dc_ptr, valid_ptr, gates_ptr, cprev_ptr, th_ptr, xhat_ptr, rstd_ptr, chat_ptr,
                       rstdc_ptr, nw_ptr, ncw_ptr, dp_ptr, dr_ptr, dy_ptr, dc_out, dh_pass_out,
                       B, H, LN: tl.constexpr, LNC: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr):
    """One step backward; the caller adds ``dR W`` to ``dh_pass`` (which carries padded rows' dh)."""
    rows, cols, m = _tile(B, H, BLOCK_B, BLOCK_H)
    r1, c_ = rows * H, cols[None, :]
    valid = tl.load(valid_ptr + rows, mask=rows < B, other=0) != 0
    dh = _ld(dh_ptr, r1 + c_, m)
    _, _, _, _, dc = lstm_tile_backward(
        dh, _ld(dc_ptr, r1 + c_, m), valid, gates_ptr, cprev_ptr, th_ptr, xhat_ptr, rstd_ptr, chat_ptr, rstdc_ptr,
        nw_ptr, ncw_ptr, dp_ptr, dr_ptr, dy_ptr, rows, cols, m, H, LN, LNC)
    tl.store(dc_out + r1 + c_, dc, mask=m)
    tl.store(dh_pass_out + r1 + c_, tl.where(valid, 0.0, dh), mask=m)


# ------------------------------------------------------------------------------------------------ GRU


@triton.jit
def gru_tile_forward(p_ptr, hr, hz, hn, h_prev, valid, nw_ptr, bias_ptr, gates_ptr, hidn_ptr, xhat_ptr, rstd_ptr,
                     rows, cols, m, H, eps, LN: tl.constexpr, BIAS: tl.constexpr):
    """hid = (norm_hh * LN(R) or R) + b_hh; r, z = s(P + hid); n = tanh(P_n + r hid_n); h' = n + z (h - n).
    Returns (h kept, output)."""
    r3 = rows * 3 * H
    c_ = cols[None, :]
    if LN:
        hr, hz, hn, rstd = _ln3(hr, hz, hn, m, 3 * H, eps)
        tl.store(xhat_ptr + r3 + c_, hr, mask=m)
        tl.store(xhat_ptr + r3 + H + c_, hz, mask=m)
        tl.store(xhat_ptr + r3 + 2 * H + c_, hn, mask=m)
        tl.store(rstd_ptr + rows, rstd, mask=_row_mask(m))
        hr, hz = hr * _ld(nw_ptr, c_, m), hz * _ld(nw_ptr, H + c_, m)
        hn = hn * _ld(nw_ptr, 2 * H + c_, m)
    if BIAS:
        hr, hz = hr + _ld(bias_ptr, c_, m), hz + _ld(bias_ptr, H + c_, m)
        hn = hn + _ld(bias_ptr, 2 * H + c_, m)
    r = _sigmoid(_ld(p_ptr, r3 + c_, m) + hr)
    z = _sigmoid(_ld(p_ptr, r3 + H + c_, m) + hz)
    n = _tanh(_ld(p_ptr, r3 + 2 * H + c_, m) + r * hn)
    h = n + z * (h_prev - n)
    tl.store(gates_ptr + r3 + c_, r, mask=m)
    tl.store(gates_ptr + r3 + H + c_, z, mask=m)
    tl.store(gates_ptr + r3 + 2 * H + c_, n, mask=m)
    tl.store(hidn_ptr + rows * H + c_, hn, mask=m)
    return tl.where(valid, h, h_prev), tl.where(valid, h, 0.0)


@triton.jit
def gru_tile_backward(dh, h_prev, valid, gates_ptr, hidn_ptr, xhat_ptr, rstd_ptr, nw_ptr, dp_ptr, dhid_ptr, dr_ptr,
                      rows, cols, m, H, LN: tl.constexpr):
    """The step's BPTT: stores dP, dhid (before the norm: the bias's gradient) and dR; returns
    (dR_r, dR_z, dR_n) and the direct part of dL/dh_{t-1} (z dh; dh itself on padded rows)."""
    r3 = rows * 3 * H
    c_ = cols[None, :]
    r, z, n = _ld(gates_ptr, r3 + c_, m), _ld(gates_ptr, r3 + H + c_, m), _ld(gates_ptr, r3 + 2 * H + c_, m)
    dpn = dh * (1.0 - z) * (1.0 - n * n)
    dpr = dpn * _ld(hidn_ptr, rows * H + c_, m) * r * (1.0 - r)
    dpz = dh * (h_prev - n) * z * (1.0 - z)
    dhn = dpn * r
    tl.store(dp_ptr + r3 + c_, tl.where(valid, dpr, 0.0), mask=m)
    tl.store(dp_ptr + r3 + H + c_, tl.where(valid, dpz, 0.0), mask=m)
    tl.store(dp_ptr + r3 + 2 * H + c_, tl.where(valid, dpn, 0.0), mask=m)
    tl.store(dhid_ptr + r3 + c_, tl.where(valid, dpr, 0.0), mask=m)
    tl.store(dhid_ptr + r3 + H + c_, tl.where(valid, dpz, 0.0), mask=m)
    tl.store(dhid_ptr + r3 + 2 * H + c_, tl.where(valid, dhn, 0.0), mask=m)
    if LN:
        xr, xz, xn = _ld(xhat_ptr, r3 + c_, m), _ld(xhat_ptr, r3 + H + c_, m), _ld(xhat_ptr, r3 + 2 * H + c_, m)
        rstd = tl.load(rstd_ptr + rows, mask=_row_mask(m), other=0.0).to(tl.float32)
        dpr, dpz, dhn = _ln3_backward(dpr * _ld(nw_ptr, c_, m), dpz * _ld(nw_ptr, H + c_, m),
                                      dhn * _ld(nw_ptr, 2 * H + c_, m), xr, xz, xn, rstd, 3 * H)
    dpr, dpz, dhn = tl.where(valid, dpr, 0.0), tl.where(valid, dpz, 0.0), tl.where(valid, dhn, 0.0)
    tl.store(dr_ptr + r3 + c_, dpr, mask=m)
    tl.store(dr_ptr + r3 + H + c_, dpz, mask=m)
    tl.store(dr_ptr + r3 + 2 * H + c_, dhn, mask=m)
    return dpr, dpz, dhn, tl.where(valid, dh * z, dh)


@triton.jit
def gru_step_forward(p_ptr, r_ptr, h_ptr, valid_ptr, nw_ptr, bias_ptr, h_out, y_out, gates_ptr, hidn_ptr,
                     xhat_ptr, rstd_ptr, B, H, eps, LN: tl.constexpr, BIAS: tl.constexpr,
                     BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr):
    rows, cols, m = _tile(B, H, BLOCK_B, BLOCK_H)
    r3, r1, c_ = rows * 3 * H, rows * H, cols[None, :]
    valid = tl.load(valid_ptr + rows, mask=rows < B, other=0) != 0
    h, y = gru_tile_forward(
        p_ptr, _ld(r_ptr, r3 + c_, m), _ld(r_ptr, r3 + H + c_, m), _ld(r_ptr, r3 + 2 * H + c_, m),
        _ld(h_ptr, r1 + c_, m), valid, nw_ptr, bias_ptr, gates_ptr, hidn_ptr, xhat_ptr, rstd_ptr, rows, cols, m,
        H, eps, LN, BIAS)
    tl.store(h_out + r1 + c_, h, mask=m)
    tl.store(y_out + r1 + c_, y, mask=m)


@triton.jit
def gru_step_backward(dh_ptr, hprev_ptr, valid_ptr, gates_ptr, hidn_ptr, xhat_ptr, rstd_ptr, nw_ptr,
                      dp_ptr, dhid_ptr, dr_ptr, dh_direct_out, B, H, LN: tl.constexpr,
                      BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr):
    """One step backward; the caller adds ``dR W`` to ``dh_direct``."""
    rows, cols, m = _tile(B, H, BLOCK_B, BLOCK_H)
    r1, c_ = rows * H, cols[None, :]
    valid = tl.load(valid_ptr + rows, mask=rows < B, other=0) != 0
    _, _, _, direct = gru_tile_backward(
        _ld(dh_ptr, r1 + c_, m), _ld(hprev_ptr, r1 + c_, m), valid, gates_ptr, hidn_ptr, xhat_ptr, rstd_ptr, nw_ptr,
        dp_ptr, dhid_ptr, dr_ptr, rows, cols, m, H, LN)
    tl.store(dh_direct_out + r1 + c_, direct, mask=m)


def block_for(hidden: int) -> int:
    """The power-of-two block that holds a row of ``hidden`` units."""
    return triton.next_power_of_2(hidden)
