"""Elman (vanilla) recurrent cell."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells._init import uniform_like_torch
from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.kernel import KernelSpec

_NONLINEARITIES = {"tanh": torch.tanh, "relu": torch.relu}


class ElmanCell(RecurrentCell):
    r"""Elman recurrent cell (``torch.nn.RNN``'s step).

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \quad \phi \in \{\tanh, \mathrm{ReLU}\}

    Args:
        input_size: input features ``I``.
        hidden_size: hidden features ``H``.
        bias: learn ``b_ih`` and ``b_hh``.
        nonlinearity: ``"tanh"`` or ``"relu"``.

    Shape:
        state: ``(B, H)``; output: ``(B, H)`` (the new state).

    Example:
        >>> cell = ElmanCell(3, 4)
        >>> y, h = cell(torch.randn(2, 3))
        >>> y.shape
        torch.Size([2, 4])
    """

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True, nonlinearity: str = "tanh") -> None:
        super().__init__(input_size, hidden_size)
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.bias = bias
        self._phi = _NONLINEARITIES[nonlinearity]
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        uniform_like_torch(self, hidden_size)

    def project_input(self, x: Tensor) -> Tensor:
        # Both biases act on the same pre-activation, so they are added once, outside the loop.
        bias = self.bias_ih + self.bias_hh if self.bias else None
        return F.linear(x, self.weight_ih, bias)

    def step(self, projected_x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        h = self._phi(torch.addmm(projected_x, state, self.weight_hh.t()))
        return h, h

    def kernel_spec(self) -> KernelSpec:
        return KernelSpec("elman", self.weight_hh, nonlinearity=self.nonlinearity)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, nonlinearity={self.nonlinearity!r}"
