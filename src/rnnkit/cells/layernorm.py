"""Layer-normalised LSTM and GRU cells.

Ba, Kiros & Hinton (2016), "Layer Normalization", Sec. 3.1 and the supplementary material.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells._init import uniform_like_torch
from rnnkit.cells.base import LSTMState, RecurrentCell
from rnnkit.cells.gru import gru_update
from rnnkit.cells.kernel import KernelSpec


class LayerNormLSTMCell(RecurrentCell):
    r"""LSTM with layer normalisation of the input and recurrent pre-activations and of the cell.

    Ba et al. (2016), Sec. 3.1 and the layer-normalised LSTM of their supplementary material:

    .. math::
        \begin{aligned}
        i, f, g, o &= \mathrm{LN}(W_{ih} x_t; \alpha_1) + \mathrm{LN}(W_{hh} h_{t-1}; \alpha_2) + b \\
        c_t &= \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g) \\
        h_t &= \sigma(o) \odot \tanh(\mathrm{LN}(c_t; \alpha_3, \beta_3))
        \end{aligned}

    Each LN normalises over all ``4H`` gate pre-activations together, as in the paper. The
    shifts of the two gate normalisations would duplicate ``b`` and are left out. Gate order is
    torch's ``(i, f, g, o)``. The input normalisation runs for all steps at once in
    :meth:`project_input`.

    Args:
        input_size: input features ``I``.
        hidden_size: memory-cell features ``H``.
        forget_bias: initial forget-gate bias (``None``: uniform like the other biases).
        eps: LayerNorm's epsilon.

    Shape:
        state: :class:`LSTMState` ``(h: (B, H), c: (B, H))``; output: ``(B, H)``.

    Example:
        >>> y, (h, c) = LayerNormLSTMCell(3, 4)(torch.randn(2, 3))
        >>> y.shape
        torch.Size([2, 4])
    """

    state_type = LSTMState

    def __init__(
        self, input_size: int, hidden_size: int, *, forget_bias: float | None = 1.0, eps: float = 1e-5
    ) -> None:
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias = nn.Parameter(torch.empty(4 * hidden_size))
        uniform_like_torch(self, hidden_size)
        if forget_bias is not None:
            with torch.no_grad():
                self.bias[hidden_size : 2 * hidden_size].fill_(forget_bias)
        self.norm_ih = nn.LayerNorm(4 * hidden_size, eps=eps, bias=False)
        self.norm_hh = nn.LayerNorm(4 * hidden_size, eps=eps, bias=False)
        self.norm_cell = nn.LayerNorm(hidden_size, eps=eps)

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.hidden_size,), (self.hidden_size,))

    def project_input(self, x: Tensor) -> Tensor:
        # LN(W x; alpha_1) + b as one layer_norm call with b as its shift: one pass less over (T, B, 4H).
        norm = self.norm_ih
        return F.layer_norm(F.linear(x, self.weight_ih), norm.normalized_shape, norm.weight, self.bias, norm.eps)

    def step(self, projected_x: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        h, c = state
        gates = projected_x + self.norm_hh(F.linear(h, self.weight_hh))
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(self.norm_cell(c))
        return h, LSTMState(h, c)

    def kernel_spec(self) -> KernelSpec:
        norm_cell = (self.norm_cell.weight, self.norm_cell.bias)
        eps = self.norm_hh.eps
        return KernelSpec("lstm", self.weight_hh, norm_hh=self.norm_hh.weight, norm_cell=norm_cell, eps=eps)


class LayerNormGRUCell(RecurrentCell):
    r"""GRU with layer normalisation of the input and recurrent pre-activations.

    Ba et al. (2016) apply LN to GRUs in their skip-thought and order-embedding experiments
    (Sec. 6.1, 6.3) without printing the equations; this is the same construction as
    :class:`LayerNormLSTMCell`, on :class:`GRUCell`'s form (reset gate after the recurrent product):

    .. math::
        \begin{aligned}
        (x_r, x_z, x_n) &= \mathrm{LN}(W_{ih} x_t; \alpha_1) + b_{ih}, \quad
        (h_r, h_z, h_n) = \mathrm{LN}(W_{hh} h_{t-1}; \alpha_2) + b_{hh} \\
        r &= \sigma(x_r + h_r), \quad z = \sigma(x_z + h_z), \quad n = \tanh(x_n + r \odot h_n) \\
        h_t &= (1 - z) \odot n + z \odot h_{t-1}
        \end{aligned}

    Args:
        input_size: input features ``I``.
        hidden_size: hidden features ``H``.
        eps: LayerNorm's epsilon.

    Shape:
        state: ``(B, H)``; output: ``(B, H)``.

    Example:
        >>> y, h = LayerNormGRUCell(3, 4)(torch.randn(2, 3))
        >>> h.shape
        torch.Size([2, 4])
    """

    def __init__(self, input_size: int, hidden_size: int, *, eps: float = 1e-5) -> None:
        super().__init__(input_size, hidden_size)
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        uniform_like_torch(self, hidden_size)
        self.norm_ih = nn.LayerNorm(3 * hidden_size, eps=eps, bias=False)
        self.norm_hh = nn.LayerNorm(3 * hidden_size, eps=eps, bias=False)

    def project_input(self, x: Tensor) -> Tensor:
        norm = self.norm_ih
        return F.layer_norm(F.linear(x, self.weight_ih), norm.normalized_shape, norm.weight, self.bias_ih, norm.eps)

    def step(self, projected_x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        h = gru_update(projected_x, self.norm_hh(F.linear(state, self.weight_hh)) + self.bias_hh, state)
        return h, h

    def kernel_spec(self) -> KernelSpec:
        eps = self.norm_hh.eps
        return KernelSpec("gru", self.weight_hh, bias_hh=self.bias_hh, norm_hh=self.norm_hh.weight, eps=eps)
