"""Long short-term memory cell (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells._init import uniform_like_torch
from rnnkit.cells.base import LSTMState, RecurrentCell
from rnnkit.cells.kernel import KernelSpec


class LSTMCell(RecurrentCell):
    r"""LSTM cell with ``torch.nn.LSTM``'s gate layout and optional output projection.

    .. math::
        \begin{aligned}
        i, f, g, o &= \text{split}_4(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}) \\
        c_t &= \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g) \\
        h_t &= W_{hr}\,(\sigma(o) \odot \tanh(c_t)) \quad (W_{hr} \text{ only when } \text{proj\_size} > 0)
        \end{aligned}

    Args:
        input_size: input features ``I``.
        hidden_size: memory-cell features ``H``.
        bias: learn ``b_ih`` and ``b_hh``.
        proj_size: if > 0, project ``h`` down to this many features (``torch.nn.LSTM``'s ``proj_size``).
        forget_bias: initial value of the forget-gate bias (``b_ih`` forget slice, with ``b_hh``'s at 0),
            1.0 as recommended by Jozefowicz et al. (2015); ``None`` keeps torch's uniform init.

    Shape:
        state: :class:`LSTMState` ``(h: (B, R), c: (B, H))`` with ``R = proj_size or H``;
        output: ``(B, R)``.

    Example:
        >>> cell = LSTMCell(3, 4, proj_size=2)
        >>> y, (h, c) = cell(torch.randn(5, 3))
        >>> y.shape, c.shape
        (torch.Size([5, 2]), torch.Size([5, 4]))
    """

    state_type = LSTMState

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        bias: bool = True,
        proj_size: int = 0,
        forget_bias: float | None = 1.0,
    ) -> None:
        super().__init__(input_size, hidden_size)
        if not isinstance(proj_size, int) or proj_size < 0 or (proj_size and proj_size >= hidden_size):
            raise ValueError(
                f"proj_size: expected 0 or an integer in [1, hidden_size={hidden_size}), got {proj_size!r}"
            )
        self.bias = bias
        self.proj_size = proj_size
        real = proj_size or hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, real))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
            self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if proj_size:
            self.weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size))
        else:
            self.register_parameter("weight_hr", None)
        uniform_like_torch(self, hidden_size)
        if bias and forget_bias is not None:
            with torch.no_grad():
                self.bias_ih[hidden_size : 2 * hidden_size].fill_(forget_bias)
                self.bias_hh[hidden_size : 2 * hidden_size].zero_()

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.output_size,), (self.hidden_size,))

    def project_input(self, x: Tensor) -> Tensor:
        bias = self.bias_ih + self.bias_hh if self.bias else None
        return F.linear(x, self.weight_ih, bias)

    def step(self, projected_x: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        h, c = state
        gates = torch.addmm(projected_x, h, self.weight_hh.t())
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        if self.weight_hr is not None:
            h = h @ self.weight_hr.t()
        return h, LSTMState(h, c)

    def kernel_spec(self) -> KernelSpec | None:
        if self.proj_size:  # the kernels have no output projection
            return None
        return KernelSpec("lstm", self.weight_hh)

    def extra_repr(self) -> str:
        proj = f", proj_size={self.proj_size}" if self.proj_size else ""
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}{proj}"
