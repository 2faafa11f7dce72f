"""sLSTM: the scalar-memory LSTM of xLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory", Sec. 2.2)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells._init import uniform_like_torch
from rnnkit.cells.base import RecurrentCell

_FORGET_GATES = ("sigmoid", "exp")


class SLSTMState(NamedTuple):
    """State of an sLSTM: output ``h``, cell ``c``, normaliser ``n`` and stabiliser ``m`` (all ``(B, H)``)."""

    h: Tensor
    c: Tensor
    n: Tensor
    m: Tensor


class SLSTMCell(RecurrentCell):
    r"""sLSTM: exponential input gate, a normaliser state, and a stabiliser that keeps exponentials finite.

    Beck et al. (2024), Sec. 2.2:

    .. math::
        \begin{aligned}
        \tilde\imath, \tilde f, \tilde z, \tilde o &= W x_t + R h_{t-1} + b
            \quad (R \text{ block-diagonal: one block per head}) \\
        m_t &= \max(\log f_t + m_{t-1}, \tilde\imath), \quad
            \log f_t = \log\sigma(\tilde f) \text{ or } \tilde f \\
        i'_t &= \exp(\tilde\imath - m_t), \quad f'_t = \exp(\log f_t + m_{t-1} - m_t) \\
        c_t &= f'_t \odot c_{t-1} + i'_t \odot \tanh(\tilde z), \quad n_t = f'_t \odot n_{t-1} + i'_t \\
        h_t &= \sigma(\tilde o) \odot c_t / n_t
        \end{aligned}

    The stabiliser ``m`` rescales ``c`` and ``n`` by the same factor ``exp(-m_t)``, so ``h`` is exactly
    the unstabilised ``o * c / n`` (the paper's stabilisation) while ``exp`` never overflows.

    Args:
        input_size: input features ``I``.
        hidden_size: features ``H`` (divisible by ``num_heads``).
        num_heads: blocks of the recurrent matrix ``R`` (heads mix only within themselves).
        forget_gate: ``"sigmoid"`` (the reference implementation's) or ``"exp"`` (both in the paper).
        forget_bias: initial forget-gate bias (``None``: uniform like the other weights).

    Shape:
        state: :class:`SLSTMState` of four ``(B, H)`` tensors; output ``(B, H)``.

    Example:
        >>> y, state = SLSTMCell(3, 8, num_heads=2)(torch.randn(2, 3))
        >>> state.n.shape
        torch.Size([2, 8])
    """

    state_type = SLSTMState
    zoneout_tensors = 1  # c and n are stored rescaled by exp(-m): mixing them with old values is meaningless

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        num_heads: int = 1,
        forget_gate: str = "sigmoid",
        forget_bias: float | None = 1.0,
    ) -> None:
        super().__init__(input_size, hidden_size)
        if not isinstance(num_heads, int) or num_heads < 1 or hidden_size % num_heads:
            raise ValueError(f"num_heads: expected a positive divisor of hidden_size={hidden_size}, got {num_heads!r}")
        if forget_gate not in _FORGET_GATES:
            raise ValueError(f"forget_gate: expected one of {_FORGET_GATES}, got {forget_gate!r}")
        self.num_heads = num_heads
        self.forget_gate = forget_gate
        head = hidden_size // num_heads
        # Gate order (i, f, z, o), like torch's (i, f, g, o).
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(num_heads, 4 * head, head))
        self.bias = nn.Parameter(torch.empty(4 * hidden_size))
        uniform_like_torch(self, hidden_size)
        if forget_bias is not None:
            with torch.no_grad():
                self.bias[hidden_size : 2 * hidden_size].fill_(forget_bias)

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.hidden_size,),) * 4

    def project_input(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias)

    def _recurrent(self, h: Tensor) -> Tensor:
        batch, heads = h.shape[0], self.num_heads
        per_head = torch.einsum("bnd,ned->bne", h.view(batch, heads, -1), self.weight_hh)  # (B, NH, 4 * dh)
        # (B, NH, 4, dh) -> (B, 4, NH, dh): gate-major like the input projection.
        return per_head.view(batch, heads, 4, -1).transpose(1, 2).reshape(batch, 4 * self.hidden_size)

    def step(self, projected_x: Tensor, state: SLSTMState) -> tuple[Tensor, SLSTMState]:
        h, c, n, m = state
        i, f, z, o = (projected_x + self._recurrent(h)).chunk(4, dim=-1)
        log_f = F.logsigmoid(f) if self.forget_gate == "sigmoid" else f
        m_new = torch.maximum(log_f + m, i)  # stabiliser
        i_stable = torch.exp(i - m_new)
        f_stable = torch.exp(log_f + m - m_new)
        c = f_stable * c + i_stable * torch.tanh(z)
        n = f_stable * n + i_stable
        h = torch.sigmoid(o) * (c / n)
        return h, SLSTMState(h, c, n, m_new)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, num_heads={self.num_heads}, forget_gate={self.forget_gate!r}"
