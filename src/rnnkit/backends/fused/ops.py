"""rnnkit's compiled CPU kernels as PyTorch custom operators, for ``torch.compile`` and ``torch.export``.

The eager path runs the kernels through the ``torch.autograd.Function``\\ s of
:mod:`rnnkit.backends.fused.functions`, which ``torch.compile`` cannot trace (the C++ operators have
no shape function) and ``torch.export`` cannot export. The same kernels are registered here with
:func:`torch.library.custom_op` as ``rnnkit::<family>_forward`` / ``rnnkit::<family>_backward``
(``lstm``, ``gru``, ``simple``, ``scan``, ``min``), each with a fake (meta) implementation giving its
output shapes, and each forward with its autograd formula (:func:`torch.library.register_autograd`:
the hand-written BPTT backward, itself a custom operator, so ``aot_autograd`` traces it too). The
forward returns what its backward needs as extra outputs (the C++ kernels' saved tensors), so no
step is recomputed. :func:`lstm_sequence` and the others take the ``Function``\\ s' arguments and
return their results; the fused and scan runners call them while ``torch.compiler.is_compiling()``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.backends.fused.build import load_kernels
from rnnkit.backends.fused.functions import StepRegularization


def _nothing(like: Tensor) -> Tensor:
    return like.new_empty(0)


def _materialize(grads, outputs) -> list[Tensor]:
    return [g.contiguous() if g is not None else torch.zeros_like(o) for g, o in zip(grads, outputs, strict=False)]


# ---------------------------------------------------------------------------------------- LSTM


@torch.library.custom_op("rnnkit::lstm_forward", mutates_args=())
def lstm_forward(projected: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, norm_hh: Tensor | None,
                 norm_c_weight: Tensor | None, norm_c_bias: Tensor | None, eps: float,
                 lengths: Tensor | None, var_mask: Tensor | None, zone_h: Tensor | None, rate_h: float,
                 zone_c: Tensor | None, rate_c: float, save: bool) -> list[Tensor]:
    """``out, h, c`` and (``save``) the 8 tensors the backward reads, from the compiled LSTM kernel."""
    return list(load_kernels().lstm_forward(projected, h0, c0, weight_hh, norm_hh, norm_c_weight, norm_c_bias, eps,
                                            lengths, var_mask, zone_h, rate_h, zone_c, rate_c, save))


@lstm_forward.register_fake
def _(projected, h0, c0, weight_hh, norm_hh, norm_c_weight, norm_c_bias, eps, lengths, var_mask, zone_h, rate_h,
      zone_c, rate_c, save):
    steps, batch, gates = projected.shape
    hidden = h0.shape[1]
    keep = steps if save else 1
    new = projected.new_empty
    ln, lnc = norm_hh is not None, norm_c_weight is not None
    return [
        new(steps, batch, hidden), torch.empty_like(h0), torch.empty_like(c0),
        new(keep, batch, hidden),  # hread
        new(steps + 1, batch, hidden) if save else _nothing(projected),  # cs
        new(keep, batch, gates),  # gates
        new(keep, batch, gates) if ln else _nothing(projected), new(keep, batch) if ln else _nothing(projected),
        new(keep, batch, hidden) if lnc else _nothing(projected), new(keep, batch) if lnc else _nothing(projected),
        new(keep, batch, hidden),  # th
    ]


@torch.library.custom_op("rnnkit::lstm_backward", mutates_args=())
def lstm_backward(grad_out: Tensor, grad_h: Tensor, grad_c: Tensor, weight_hh: Tensor, norm_hh: Tensor | None,
                  norm_c_weight: Tensor | None, lengths: Tensor | None, var_mask: Tensor | None,
                  zone_h: Tensor | None, rate_h: float, zone_c: Tensor | None, rate_c: float,
                  saved: list[Tensor]) -> list[Tensor]:
    """``d_projected, dh0, dc0, dweight_hh, dnorm_hh, dnorm_c_weight, dnorm_c_bias`` (hand-written BPTT)."""
    return list(load_kernels().lstm_backward(grad_out, grad_h, grad_c, weight_hh, norm_hh, norm_c_weight, lengths,
                                             var_mask, zone_h, rate_h, zone_c, rate_c, saved))


@lstm_backward.register_fake
def _(grad_out, grad_h, grad_c, weight_hh, norm_hh, norm_c_weight, lengths, var_mask, zone_h, rate_h, zone_c, rate_c,
      saved):
    gates = saved[2]  # (T, B, G)
    steps, batch = grad_out.shape[:2]
    hidden = grad_h.shape[1]
    return [gates.new_empty(steps, batch, 4 * hidden), torch.empty_like(grad_h), torch.empty_like(grad_c),
            torch.empty_like(weight_hh),
            gates.new_empty(4 * hidden) if norm_hh is not None else _nothing(gates),
            gates.new_empty(hidden) if norm_c_weight is not None else _nothing(gates),
            gates.new_empty(hidden) if norm_c_weight is not None else _nothing(gates)]


def _lstm_setup(ctx, inputs, output):
    (_, _, _, weight_hh, norm_hh, norm_c_weight, _, _, lengths, var_mask, zone_h, rate_h, zone_c, rate_c,
     save) = inputs
    ctx.save = save
    ctx.has = (norm_hh is not None, norm_c_weight is not None)
    ctx.save_for_backward(weight_hh, norm_hh, norm_c_weight, lengths, var_mask, zone_h, zone_c, *output)
    ctx.rates = (rate_h, rate_c)


def _lstm_backward(ctx, grads):
    if not ctx.save:
        raise RuntimeError("rnnkit::lstm_forward: called with save=False, so it has no backward")
    weight_hh, norm_hh, norm_c_weight, lengths, var_mask, zone_h, zone_c, *output = ctx.saved_tensors
    g_out, g_h, g_c = _materialize(grads[:3], output[:3])
    d = torch.ops.rnnkit.lstm_backward(g_out, g_h, g_c, weight_hh, norm_hh, norm_c_weight, lengths, var_mask,
                                       zone_h, ctx.rates[0], zone_c, ctx.rates[1], output[3:])
    d_norm = d[4] if ctx.has[0] else None
    d_cw, d_cb = (d[5], d[6]) if ctx.has[1] else (None, None)
    return (d[0], d[1], d[2], d[3], d_norm, d_cw, d_cb, None, None, None, None, None, None, None, None)


torch.library.register_autograd("rnnkit::lstm_forward", _lstm_backward, setup_context=_lstm_setup)


# ----------------------------------------------------------------------------------------- GRU


@torch.library.custom_op("rnnkit::gru_forward", mutates_args=())
def gru_forward(projected: Tensor, h0: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, norm_hh: Tensor | None,
                eps: float, lengths: Tensor | None, var_mask: Tensor | None, zone_h: Tensor | None,
                rate_h: float, save: bool) -> list[Tensor]:
    """``out, h`` and (``save``) the 5 tensors the backward reads, from the compiled GRU kernel."""
    return list(load_kernels().gru_forward(projected, h0, weight_hh, bias_hh, norm_hh, eps, lengths, var_mask,
                                           zone_h, rate_h, save))


@gru_forward.register_fake
def _(projected, h0, weight_hh, bias_hh, norm_hh, eps, lengths, var_mask, zone_h, rate_h, save):
    steps, batch, gates = projected.shape
    hidden = h0.shape[1]
    keep = steps if save else 1
    new = projected.new_empty
    ln = norm_hh is not None
    return [new(steps, batch, hidden), torch.empty_like(h0), new(keep, batch, hidden), new(keep, batch, gates),
            new(keep, batch, hidden), new(keep, batch, gates) if ln else _nothing(projected),
            new(keep, batch) if ln else _nothing(projected)]


@torch.library.custom_op("rnnkit::gru_backward", mutates_args=())
def gru_backward(grad_out: Tensor, grad_h: Tensor, weight_hh: Tensor, norm_hh: Tensor | None, has_bias: bool,
                 lengths: Tensor | None, var_mask: Tensor | None, zone_h: Tensor | None, rate_h: float,
                 saved: list[Tensor]) -> list[Tensor]:
    """``d_projected, dh0, dweight_hh, dbias_hh, dnorm_hh`` (hand-written BPTT)."""
    return list(load_kernels().gru_backward(grad_out, grad_h, weight_hh, norm_hh, has_bias, lengths, var_mask,
                                            zone_h, rate_h, saved))


@gru_backward.register_fake
def _(grad_out, grad_h, weight_hh, norm_hh, has_bias, lengths, var_mask, zone_h, rate_h, saved):
    steps, batch = grad_out.shape[:2]
    hidden = grad_h.shape[1]
    new = grad_out.new_empty
    return [new(steps, batch, 3 * hidden), torch.empty_like(grad_h), torch.empty_like(weight_hh),
            new(3 * hidden) if has_bias else _nothing(grad_out),
            new(3 * hidden) if norm_hh is not None else _nothing(grad_out)]


def _gru_setup(ctx, inputs, output):
    _, _, weight_hh, bias_hh, norm_hh, _, lengths, var_mask, zone_h, rate_h, save = inputs
    ctx.save, ctx.rate = save, rate_h
    ctx.has = (bias_hh is not None, norm_hh is not None)
    ctx.save_for_backward(weight_hh, norm_hh, lengths, var_mask, zone_h, *output)


def _gru_backward(ctx, grads):
    if not ctx.save:
        raise RuntimeError("rnnkit::gru_forward: called with save=False, so it has no backward")
    weight_hh, norm_hh, lengths, var_mask, zone_h, *output = ctx.saved_tensors
    g_out, g_h = _materialize(grads[:2], output[:2])
    d = torch.ops.rnnkit.gru_backward(g_out, g_h, weight_hh, norm_hh, ctx.has[0], lengths, var_mask, zone_h,
                                      ctx.rate, output[2:])
    return (d[0], d[1], d[2], d[3] if ctx.has[0] else None, d[4] if ctx.has[1] else None,
            None, None, None, None, None, None)


torch.library.register_autograd("rnnkit::gru_forward", _gru_backward, setup_context=_gru_setup)


# -------------------------------------------------------------------------------- Elman / IndRNN


@torch.library.custom_op("rnnkit::simple_forward", mutates_args=())
def simple_forward(projected: Tensor, h0: Tensor, weight_hh: Tensor, relu: bool, lengths: Tensor | None,
                   var_mask: Tensor | None, zone_h: Tensor | None, rate_h: float, save: bool) -> list[Tensor]:
    """``out, h`` and (``save``) the 2 tensors the backward reads (Elman: matrix ``weight_hh``; IndRNN: vector)."""
    return list(load_kernels().simple_forward(projected, h0, weight_hh, relu, lengths, var_mask, zone_h, rate_h,
                                              save))


@simple_forward.register_fake
def _(projected, h0, weight_hh, relu, lengths, var_mask, zone_h, rate_h, save):
    steps, batch, hidden = projected.shape
    keep = steps if save else 1
    new = projected.new_empty
    return [new(steps, batch, hidden), torch.empty_like(h0), new(keep, batch, hidden), new(keep, batch, hidden)]


@torch.library.custom_op("rnnkit::simple_backward", mutates_args=())
def simple_backward(grad_out: Tensor, grad_h: Tensor, weight_hh: Tensor, relu: bool, lengths: Tensor | None,
                    var_mask: Tensor | None, zone_h: Tensor | None, rate_h: float,
                    saved: list[Tensor]) -> list[Tensor]:
    """``d_projected, dh0, dweight_hh`` (hand-written BPTT)."""
    return list(load_kernels().simple_backward(grad_out, grad_h, weight_hh, relu, lengths, var_mask, zone_h, rate_h,
                                               saved))


@simple_backward.register_fake
def _(grad_out, grad_h, weight_hh, relu, lengths, var_mask, zone_h, rate_h, saved):
    return [torch.empty_like(grad_out), torch.empty_like(grad_h), torch.empty_like(weight_hh)]


def _simple_setup(ctx, inputs, output):
    _, _, weight_hh, relu, lengths, var_mask, zone_h, rate_h, save = inputs
    ctx.save, ctx.relu, ctx.rate = save, relu, rate_h
    ctx.save_for_backward(weight_hh, lengths, var_mask, zone_h, *output)


def _simple_backward(ctx, grads):
    if not ctx.save:
        raise RuntimeError("rnnkit::simple_forward: called with save=False, so it has no backward")
    weight_hh, lengths, var_mask, zone_h, *output = ctx.saved_tensors
    g_out, g_h = _materialize(grads[:2], output[:2])
    d = torch.ops.rnnkit.simple_backward(g_out, g_h, weight_hh, ctx.relu, lengths, var_mask, zone_h, ctx.rate,
                                         output[2:])
    return (d[0], d[1], d[2], None, None, None, None, None, None)


torch.library.register_autograd("rnnkit::simple_forward", _simple_backward, setup_context=_simple_setup)


# ------------------------------------------------------------------- linear scan, minGRU / minLSTM


@torch.library.custom_op("rnnkit::scan_forward", mutates_args=())
def scan_forward(a: Tensor, b: Tensor, h0: Tensor, complex: bool) -> Tensor:
    """Every state of ``h_t = a_t h_{t-1} + b_t`` (complex values as real pairs when ``complex``)."""
    return load_kernels().scan_forward(a.contiguous(), b.contiguous(), h0.contiguous(), complex)


@scan_forward.register_fake
def _(a, b, h0, complex):
    return torch.empty_like(b)


@torch.library.custom_op("rnnkit::scan_backward", mutates_args=())
def scan_backward(grad: Tensor, a: Tensor, h: Tensor, h0: Tensor, complex: bool) -> list[Tensor]:
    """``da, db, dh0`` of :func:`scan_forward`."""
    return list(load_kernels().scan_backward(grad, a, h, h0, complex))


@scan_backward.register_fake
def _(grad, a, h, h0, complex):
    return [torch.empty_like(h), torch.empty_like(h), torch.empty_like(h0)]


def _scan_setup(ctx, inputs, output):
    a, _, h0, complex_ = inputs
    ctx.complex = complex_
    ctx.save_for_backward(a, output, h0)


def _scan_backward(ctx, grad):
    a, h, h0 = ctx.saved_tensors
    da, db, dh0 = torch.ops.rnnkit.scan_backward(grad.contiguous(), a.contiguous(), h, h0.contiguous(), ctx.complex)
    return da, db, dh0, None


torch.library.register_autograd("rnnkit::scan_forward", _scan_backward, setup_context=_scan_setup)


@torch.library.custom_op("rnnkit::min_forward", mutates_args=())
def min_forward(projected: Tensor, h0: Tensor, lstm: bool) -> Tensor:
    """minGRU (``lstm=False``) or minLSTM states ``(T, B, H)``, gates computed inside the compiled scan."""
    return load_kernels().min_forward(projected, h0, lstm)


@min_forward.register_fake
def _(projected, h0, lstm):
    return projected.new_empty(projected.shape[0], projected.shape[1], h0.shape[1])


@torch.library.custom_op("rnnkit::min_backward", mutates_args=())
def min_backward(grad: Tensor, projected: Tensor, h: Tensor, h0: Tensor, lstm: bool) -> list[Tensor]:
    """``d_projected, dh0`` of :func:`min_forward`."""
    return list(load_kernels().min_backward(grad, projected, h, h0, lstm))


@min_backward.register_fake
def _(grad, projected, h, h0, lstm):
    return [torch.empty_like(projected), torch.empty_like(h0)]


def _min_setup(ctx, inputs, output):
    projected, h0, lstm = inputs
    ctx.lstm = lstm
    ctx.save_for_backward(projected, output, h0)


def _min_backward(ctx, grad):
    projected, h, h0 = ctx.saved_tensors
    d_projected, dh0 = torch.ops.rnnkit.min_backward(grad.contiguous(), projected, h, h0, ctx.lstm)
    return d_projected, dh0, None


torch.library.register_autograd("rnnkit::min_forward", _min_backward, setup_context=_min_setup)


# ------------------------------------------------------- the Functions' signatures, on the operators


def _save(*tensors: Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def lstm_sequence(projected, h0, c0, weight_hh, norm_hh, norm_c_weight, norm_c_bias, eps, lengths,
                  reg: StepRegularization) -> tuple[Tensor, Tensor, Tensor]:
    """:class:`~rnnkit.backends.fused.LSTMSequence` ``.apply``'s arguments and results, on ``rnnkit::lstm_forward``."""
    zone_h, rate_h = reg.zone(0)
    zone_c, rate_c = reg.zone(1)
    save = _save(projected, h0, c0, weight_hh, norm_hh, norm_c_weight, norm_c_bias)
    out, h, c, *_ = torch.ops.rnnkit.lstm_forward(projected, h0, c0, weight_hh, norm_hh, norm_c_weight, norm_c_bias,
                                                  float(eps), lengths, reg.var_mask, zone_h, rate_h, zone_c, rate_c,
                                                  save)
    return out, h, c


def gru_sequence(projected, h0, weight_hh, bias_hh, norm_hh, eps, lengths, reg: StepRegularization
                 ) -> tuple[Tensor, Tensor]:
    """:class:`~rnnkit.backends.fused.GRUSequence` ``.apply``, on ``rnnkit::gru_forward``."""
    zone_h, rate_h = reg.zone(0)
    save = _save(projected, h0, weight_hh, bias_hh, norm_hh)
    out, h, *_ = torch.ops.rnnkit.gru_forward(projected, h0, weight_hh, bias_hh, norm_hh, float(eps), lengths,
                                              reg.var_mask, zone_h, rate_h, save)
    return out, h


def simple_sequence(projected, h0, weight_hh, relu, lengths, reg: StepRegularization) -> tuple[Tensor, Tensor]:
    """:class:`~rnnkit.backends.fused.SimpleSequence` ``.apply``, on ``rnnkit::simple_forward``."""
    zone_h, rate_h = reg.zone(0)
    save = _save(projected, h0, weight_hh)
    out, h, *_ = torch.ops.rnnkit.simple_forward(projected, h0, weight_hh, bool(relu), lengths, reg.var_mask, zone_h,
                                                 rate_h, save)
    return out, h


def linear_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """:class:`~rnnkit.backends.fused.LinearScan` ``.apply``, on ``rnnkit::scan_forward``."""
    if b.is_complex():
        real = [torch.view_as_real(t.contiguous()) for t in (a, b, h0)]
        return torch.view_as_complex(torch.ops.rnnkit.scan_forward(*real, True))
    return torch.ops.rnnkit.scan_forward(a, b, h0, False)


def min_recurrence(projected: Tensor, h0: Tensor, lstm: bool) -> Tensor:
    """:class:`~rnnkit.backends.fused.MinRecurrence` ``.apply``, on ``rnnkit::min_forward``."""
    return torch.ops.rnnkit.min_forward(projected, h0, bool(lstm))
