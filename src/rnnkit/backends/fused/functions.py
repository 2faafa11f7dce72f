"""``torch.autograd.Function``s over whole sequences, backed by the compiled CPU kernels.

Each forward runs every time step in compiled code and keeps what its backward needs (the
recurrent inputs, gate activations, normalised values); each backward is the hand-written BPTT
of the same family, also compiled, which returns the gradient of every step's projected input
(so the input weights' gradient is one matrix product, through autograd on ``project_input``)
and computes the recurrent weight's gradient of all steps with one matrix product.
Nothing is saved when no input needs a gradient (inference). Backward of backward is not
supported (``once_differentiable``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnkit.backends.fused.build import load_kernels


class StepRegularization(NamedTuple):
    """Per-step regularisation the kernels apply inside the time loop.

    Attributes:
        var_mask: ``(B, H)`` multiplier of the recurrent input ``h`` at every step (variational
            dropout), or ``None``.
        zoneout: per state tensor (``h``, then ``c``): ``(T, B, H)`` masks that are 1 where a unit
            keeps its previous value (training), or a rate ``p`` for ``p * old + (1 - p) * new``
            (evaluation); missing entries mean no zoneout.
    """

    var_mask: Tensor | None = None
    zoneout: tuple[Tensor | float, ...] = ()

    def zone(self, index: int) -> tuple[Tensor | None, float]:
        """``(mask or None, rate)`` of state tensor ``index`` in the kernels' argument form."""
        if index >= len(self.zoneout):
            return None, 0.0
        value = self.zoneout[index]
        return (value.contiguous(), 0.0) if isinstance(value, Tensor) else (None, float(value))


def _grads(ctx, *values: Tensor | None) -> tuple[Tensor | None, ...]:
    return tuple(v if needed else None for v, needed in zip(values, ctx.needs_input_grad, strict=False))


class LSTMSequence(torch.autograd.Function):
    """LSTM / layer-norm LSTM over a sequence. Inputs: projected ``(T, B, 4H)``, ``h0``, ``c0``
    ``(B, H)``, ``weight_hh``, ``norm_hh``, ``norm_c_weight``, ``norm_c_bias`` (or ``None``), then
    ``eps``, ``lengths``, ``regularization``. Returns ``out (T, B, H), h (B, H), c (B, H)``."""

    @staticmethod
    def forward(ctx, projected, h0, c0, weight_hh, norm_hh, norm_c_weight, norm_c_bias, eps, lengths, reg):
        zone_h, rate_h = reg.zone(0)
        zone_c, rate_c = reg.zone(1)
        save = any(ctx.needs_input_grad)
        out, h, c, *saved = load_kernels().lstm_forward(
            projected, h0, c0, weight_hh, norm_hh, norm_c_weight, norm_c_bias, eps, lengths, reg.var_mask,
            zone_h, rate_h, zone_c, rate_c, save,
        )
        if save:
            ctx.save_for_backward(weight_hh, norm_hh, norm_c_weight, lengths, reg.var_mask, zone_h, zone_c, *saved)
            ctx.rates = (rate_h, rate_c)
        return out, h, c

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, grad_h, grad_c):
        weight_hh, norm_hh, norm_c_weight, lengths, var_mask, zone_h, zone_c, *saved = ctx.saved_tensors
        d_projected, dh0, dc0, dw, dnorm, dnorm_cw, dnorm_cb = load_kernels().lstm_backward(
            grad_out.contiguous(), grad_h.contiguous(), grad_c.contiguous(), weight_hh, norm_hh, norm_c_weight,
            lengths, var_mask, zone_h, ctx.rates[0], zone_c, ctx.rates[1], saved,
        )
        return (*_grads(ctx, d_projected, dh0, dc0, dw, dnorm, dnorm_cw, dnorm_cb), None, None, None)


class GRUSequence(torch.autograd.Function):
    """GRU / layer-norm GRU over a sequence. Inputs: projected ``(T, B, 3H)``, ``h0``, ``weight_hh``,
    ``bias_hh``, ``norm_hh`` (or ``None``), ``eps``, ``lengths``, ``regularization``."""

    @staticmethod
    def forward(ctx, projected, h0, weight_hh, bias_hh, norm_hh, eps, lengths, reg):
        zone_h, rate_h = reg.zone(0)
        save = any(ctx.needs_input_grad)
        out, h, *saved = load_kernels().gru_forward(
            projected, h0, weight_hh, bias_hh, norm_hh, eps, lengths, reg.var_mask, zone_h, rate_h, save
        )
        if save:
            ctx.save_for_backward(weight_hh, norm_hh, lengths, reg.var_mask, zone_h, *saved)
            ctx.rate, ctx.has_bias = rate_h, bias_hh is not None
        return out, h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, grad_h):
        weight_hh, norm_hh, lengths, var_mask, zone_h, *saved = ctx.saved_tensors
        d_projected, dh0, dw, dbias, dnorm = load_kernels().gru_backward(
            grad_out.contiguous(), grad_h.contiguous(), weight_hh, norm_hh, ctx.has_bias, lengths, var_mask, zone_h,
            ctx.rate, saved,
        )
        return (*_grads(ctx, d_projected, dh0, dw, dbias, dnorm), None, None, None)


class SimpleSequence(torch.autograd.Function):
    """Elman (``weight_hh`` a matrix) or IndRNN (a vector) over a sequence. Inputs: projected
    ``(T, B, H)``, ``h0``, ``weight_hh``, ``relu``, ``lengths``, ``regularization``."""

    @staticmethod
    def forward(ctx, projected, h0, weight_hh, relu, lengths, reg):
        zone_h, rate_h = reg.zone(0)
        save = any(ctx.needs_input_grad)
        out, h, *saved = load_kernels().simple_forward(
            projected, h0, weight_hh, relu, lengths, reg.var_mask, zone_h, rate_h, save
        )
        if save:
            ctx.save_for_backward(weight_hh, lengths, reg.var_mask, zone_h, *saved)
            ctx.rate, ctx.relu = rate_h, relu
        return out, h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, grad_h):
        weight_hh, lengths, var_mask, zone_h, *saved = ctx.saved_tensors
        d_projected, dh0, dw = load_kernels().simple_backward(
            grad_out.contiguous(), grad_h.contiguous(), weight_hh, ctx.relu, lengths, var_mask, zone_h, ctx.rate,
            saved,
        )
        return (*_grads(ctx, d_projected, dh0, dw), None, None, None)


class LinearScan(torch.autograd.Function):
    """All states of ``h_t = a_t * h_{t-1} + b_t`` (time on dim 0), real or complex, in one compiled pass."""

    @staticmethod
    def forward(ctx, a, b, h0):
        complex_ = b.is_complex()
        a_, b_, h0_ = (torch.view_as_real(t) if complex_ else t for t in (a.contiguous(), b.contiguous(),
                                                                            h0.contiguous()))
        h = load_kernels().scan_forward(a_, b_, h0_, complex_)
        h = torch.view_as_complex(h) if complex_ else h
        ctx.save_for_backward(a, h, h0)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        a, h, h0 = ctx.saved_tensors
        complex_ = h.is_complex()
        real = (torch.view_as_real(t.contiguous()) if complex_ else t.contiguous() for t in (grad, a, h, h0))
        da, db, dh0 = load_kernels().scan_backward(*real, complex_)
        if complex_:
            da, db, dh0 = (torch.view_as_complex(t) for t in (da, db, dh0))
        return _grads(ctx, da, db, dh0)


class MinRecurrence(torch.autograd.Function):
    """minGRU (``lstm=False``, projected ``(T, B, 2H)``) or minLSTM (``True``, ``(T, B, 3H)``) over a
    sequence from ``h0 (B, H)``: every state ``(T, B, H)``, gates computed inside the compiled scan."""

    @staticmethod
    def forward(ctx, projected, h0, lstm):
        h = load_kernels().min_forward(projected, h0, lstm)
        ctx.save_for_backward(projected, h, h0)
        ctx.lstm = lstm
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        projected, h, h0 = ctx.saved_tensors
        d_projected, dh0 = load_kernels().min_backward(grad.contiguous(), projected, h, h0, ctx.lstm)
        return (*_grads(ctx, d_projected, dh0), None)
