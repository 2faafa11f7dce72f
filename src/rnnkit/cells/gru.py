"""Gated recurrent unit (Cho et al. 2014), in the cuDNN / ``torch.nn.GRU`` variant."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells._init import uniform_like_torch
from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.kernel import KernelSpec


def gru_update(projected_x: Tensor, hidden: Tensor, state: Tensor) -> Tensor:
    r"""The GRU's gates and new state from both pre-activations (cuDNN's form), shared by every GRU cell.

    Args:
        projected_x: input pre-activations ``(B, 3H)``, gates ``(r, z, n)``, input bias included.
        hidden: recurrent pre-activations ``(B, 3H)`` (``W_hh h + b_hh``, normalised or not).
        state: the previous state ``h_{t-1}`` ``(B, H)``.

    Returns:
        ``h_t = (1 - z) * n + z * h_{t-1}`` with ``n = tanh(x_n + r * h_n)``, shape ``(B, H)``.

    Example:
        >>> gru_update(torch.zeros(1, 6), torch.zeros(1, 6), torch.ones(1, 2))
        tensor([[0.5000, 0.5000]])
    """
    x_r, x_z, x_n = projected_x.chunk(3, dim=-1)
    h_r, h_z, h_n = hidden.chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return n + z * (state - n)


class GRUCell(RecurrentCell):
    r"""GRU cell with the reset gate applied after the recurrent matrix product (cuDNN's form).

    .. math::
        \begin{aligned}
        r &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n &= \tanh(W_{in} x_t + b_{in} + r \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t &= (1 - z) \odot n + z \odot h_{t-1}
        \end{aligned}

    The original paper applies ``r`` to ``h`` before the product; this form lets the recurrent
    product of all three gates be one matrix multiply, and is what ``torch.nn.GRU`` computes.

    Args:
        input_size: input features ``I``.
        hidden_size: hidden features ``H``.
        bias: learn ``b_ih`` and ``b_hh``.

    Shape:
        state: ``(B, H)``; output: ``(B, H)``.

    Example:
        >>> y, h = GRUCell(3, 4)(torch.randn(2, 3))
        >>> h.shape
        torch.Size([2, 4])
    """

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = bias
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        uniform_like_torch(self, hidden_size)

    def project_input(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias_ih)

    def step(self, projected_x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        # b_hn must stay inside r * (...), so b_hh is added here rather than in project_input.
        h = gru_update(projected_x, F.linear(state, self.weight_hh, self.bias_hh), state)
        return h, h

    def kernel_spec(self) -> KernelSpec:
        return KernelSpec("gru", self.weight_hh, bias_hh=self.bias_hh)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"
