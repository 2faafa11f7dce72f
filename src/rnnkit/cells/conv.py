"""Convolutional recurrent cells over 2-D feature maps: ConvLSTM (Shi et al. 2015) and ConvGRU (Ballas et al. 2016).

Inputs and states are images ``(B, C, H, W)``; every matrix product of the dense cell becomes a
"same"-padded 2-D convolution, so the state keeps the input's spatial size. The input
convolution runs for all time steps at once (one batched ``conv2d``) in ``project_input``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.base import LSTMState, RecurrentCell


def _kernel(kernel_size: int | tuple[int, int]) -> tuple[int, int]:
    size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if len(size) != 2 or any(not isinstance(k, int) or k < 1 or k % 2 == 0 for k in size):
        raise ValueError(f"kernel_size: expected an odd positive int or a pair of them, got {kernel_size!r}")
    return size


class _ConvCell(RecurrentCell):
    """Shared layout of the convolutional cells: ``gates`` input and recurrent kernels."""

    num_feature_axes = 3

    def __init__(
        self, input_size: int, hidden_size: int, gates: int, kernel_size: int | tuple[int, int], bias: bool
    ) -> None:
        super().__init__(input_size, hidden_size)
        self.kernel_size = _kernel(kernel_size)
        self.padding = (self.kernel_size[0] // 2, self.kernel_size[1] // 2)
        self.weight_ih = nn.Parameter(torch.empty(gates * hidden_size, input_size, *self.kernel_size))
        self.weight_hh = nn.Parameter(torch.empty(gates * hidden_size, hidden_size, *self.kernel_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.zeros(gates * hidden_size))
        else:
            self.register_parameter("bias_ih", None)
        # Conv2d's default scale, from each kernel's fan-in.
        for weight in (self.weight_ih, self.weight_hh):
            bound = 1.0 / math.sqrt(weight[0].numel())
            nn.init.uniform_(weight, -bound, bound)

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        raise TypeError(
            f"{type(self).__name__}: the state's shape depends on the input's height and width; "
            "use state_shapes_for((height, width))"
        )

    def state_shapes_for(self, spatial: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
        if len(spatial) != 2:
            raise ValueError(f"spatial: expected (height, width), got {spatial!r}")
        return ((self.hidden_size, *spatial),) * len(self._state_names())

    def _state_names(self) -> tuple[str, ...]:
        return self.state_type._fields if self.state_type is not None else ("h",)

    def project_input(self, x: Tensor) -> Tensor:
        # Any leading dims (time, batch): fold them into conv2d's batch.
        frames = x.reshape(-1, *x.shape[-3:])
        out = F.conv2d(frames, self.weight_ih, self.bias_ih, padding=self.padding)
        return out.view(*x.shape[:-3], *out.shape[1:])

    def _conv_h(self, h: Tensor, weight: Tensor) -> Tensor:
        return F.conv2d(h, weight, padding=self.padding)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, kernel_size={self.kernel_size}"


class ConvLSTMCell(_ConvCell):
    r"""ConvLSTM (Shi et al. 2015, "Convolutional LSTM Network", Eq. 3).

    .. math::
        \begin{aligned}
        i, f, g, o &= W_{x} * X_t + W_{h} * H_{t-1} + b \quad (\text{gate order } i, f, g, o)\\
        i &\mathrel{+}= w_{ci} \circ C_{t-1}, \quad f \mathrel{+}= w_{cf} \circ C_{t-1} \quad (\text{peepholes}) \\
        C_t &= \sigma(f) \circ C_{t-1} + \sigma(i) \circ \tanh(g) \\
        H_t &= \sigma(o + w_{co} \circ C_t) \circ \tanh(C_t)
        \end{aligned}

    ``*`` is a "same"-padded 2-D convolution and ``\circ`` the Hadamard product. The paper's
    peephole weights have the state's full spatial size; here (``peephole=True``) they are learned
    per channel and broadcast over space, so one cell accepts any image size. Off by default, as in
    most later ConvLSTM work.

    Args:
        input_size: input channels ``C_in``.
        hidden_size: state channels ``C``.
        kernel_size: odd kernel size (int or pair), for both convolutions.
        bias: learn ``b``.
        peephole: add the per-channel peephole terms.
        forget_bias: initial forget-gate bias (with ``bias=True``).

    Shape:
        input step ``(B, C_in, H, W)``; state :class:`~rnnkit.cells.LSTMState` ``(h, c)`` each
        ``(B, C, H, W)``; output ``(B, C, H, W)``.

    Example:
        >>> cell = ConvLSTMCell(1, 4, kernel_size=3)
        >>> y, (h, c) = cell(torch.randn(2, 1, 8, 8))
        >>> y.shape
        torch.Size([2, 4, 8, 8])
    """

    state_type = LSTMState

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        kernel_size: int | tuple[int, int] = 3,
        bias: bool = True,
        peephole: bool = False,
        forget_bias: float = 1.0,
    ) -> None:
        super().__init__(input_size, hidden_size, 4, kernel_size, bias)
        self.peephole = peephole
        if peephole:
            self.weight_peephole = nn.Parameter(torch.zeros(3, hidden_size, 1, 1))  # i, f, o
        else:
            self.register_parameter("weight_peephole", None)
        if bias:
            with torch.no_grad():
                self.bias_ih[hidden_size : 2 * hidden_size].fill_(forget_bias)

    def step(self, projected_x: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        h, c = state
        i, f, g, o = (projected_x + self._conv_h(h, self.weight_hh)).chunk(4, dim=1)
        if self.weight_peephole is not None:
            i = i + self.weight_peephole[0] * c
            f = f + self.weight_peephole[1] * c
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if self.weight_peephole is not None:
            o = o + self.weight_peephole[2] * c
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, LSTMState(h, c)


class ConvGRUCell(_ConvCell):
    r"""ConvGRU (Ballas et al. 2016, "Delving Deeper into Convolutional Networks for Learning Video
    Representations"), the GRU counterpart of Shi et al.'s ConvLSTM.

    .. math::
        \begin{aligned}
        r &= \sigma(W_{xr} * X_t + U_r * H_{t-1} + b_r), \quad
        z = \sigma(W_{xz} * X_t + U_z * H_{t-1} + b_z) \\
        n &= \tanh(W_{xn} * X_t + U_n * (r \circ H_{t-1}) + b_n) \\
        H_t &= (1 - z) \circ n + z \circ H_{t-1}
        \end{aligned}

    The reset gate acts before the convolution, as in the paper; ``z`` is the keep gate, as in
    ``torch.nn.GRU`` (the paper writes ``1 - z``). ``weight_hh`` stacks ``U_r, U_z, U_n``.

    Args:
        input_size: input channels ``C_in``.
        hidden_size: state channels ``C``.
        kernel_size: odd kernel size (int or pair).
        bias: learn ``b``.

    Shape:
        input step ``(B, C_in, H, W)``; state and output ``(B, C, H, W)``.

    Example:
        >>> y, h = ConvGRUCell(1, 4)(torch.randn(2, 1, 8, 8))
        >>> h.shape
        torch.Size([2, 4, 8, 8])
    """

    def __init__(
        self, input_size: int, hidden_size: int, *, kernel_size: int | tuple[int, int] = 3, bias: bool = True
    ) -> None:
        super().__init__(input_size, hidden_size, 3, kernel_size, bias)

    def step(self, projected_x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        hidden = self.hidden_size
        x_r, x_z, x_n = projected_x.chunk(3, dim=1)
        h_r, h_z = self._conv_h(state, self.weight_hh[: 2 * hidden]).chunk(2, dim=1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + self._conv_h(r * state, self.weight_hh[2 * hidden :]))
        h = n + z * (state - n)
        return h, h
