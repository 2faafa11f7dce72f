"""Minimal gated RNNs, minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?").

Their gates read only the input, never the previous state, so the recurrence is linear in the
state and whole sequences run as a parallel scan; one step at a time (streaming) uses the same
weights. Both cells give their coefficients in log space, as the paper's Appendix B does, so the
scan is a cumulative sum plus a ``logcumsumexp`` (Heinsen 2023) that cannot overflow.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.kernel import KernelSpec
from rnnkit.cells.linear import LinearRecurrentCell, LogCoefficients


def log_g(x: Tensor) -> Tensor:
    r"""``log g(x)`` for the paper's positive activation ``g(x) = x + 1/2`` (x >= 0), ``sigmoid(x)`` (x < 0).

    Feng et al. (2024), App. B: ``g`` keeps the candidate state positive so it has a real log,
    and is continuous with a continuous first derivative at 0.
    """
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def _init_like_linear(cell: nn.Module, fan_in: int) -> None:
    # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
    bound = 1.0 / math.sqrt(fan_in)
    for p in cell.parameters():
        nn.init.uniform_(p, -bound, bound)


class MinGRUCell(LinearRecurrentCell):
    r"""minGRU (Feng et al. 2024, Sec. 3.1): a GRU whose update gate and candidate read only ``x_t``.

    .. math::
        \begin{aligned}
        z_t &= \sigma(W_z x_t + b_z), \qquad \tilde h_t = g(W_h x_t + b_h) \\
        h_t &= (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t
        \end{aligned}

    with ``g`` from :func:`log_g` (App. B). In log space (App. B):
    ``log a_t = -softplus(k_t)``, ``log b_t = -softplus(-k_t) + log g(W_h x_t + b_h)`` for
    ``k_t = W_z x_t + b_z``.

    Args:
        input_size: input features ``I``.
        hidden_size: state features ``H``.
        bias: learn ``b_z`` and ``b_h``.

    Shape:
        state: ``(B, H)``; output: ``(B, H)`` (the state).

    Example:
        >>> cell = MinGRUCell(3, 4)
        >>> y, h = cell(torch.randn(2, 3))
        >>> bool(torch.equal(y, h))
        True
    """

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = bias
        # Rows: update gate k (H), then candidate (H).
        self.weight_ih = nn.Parameter(torch.empty(2 * hidden_size, input_size))
        self.bias_ih = nn.Parameter(torch.empty(2 * hidden_size)) if bias else None
        _init_like_linear(self, input_size)

    def project_input(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias_ih)

    def coefficients(self, projected: Tensor) -> LogCoefficients:
        k, candidate = projected.chunk(2, dim=-1)
        # log(1 - sigmoid(k)) = -softplus(k); log sigmoid(k) = -softplus(-k)  (App. B)
        return LogCoefficients(-F.softplus(k), -F.softplus(-k) + log_g(candidate))

    def kernel_spec(self) -> KernelSpec:
        return KernelSpec("mingru")

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class MinLSTMCell(LinearRecurrentCell):
    r"""minLSTM (Feng et al. 2024, Sec. 3.2): forget and input gates from ``x_t`` only, normalised to sum to 1.

    .. math::
        \begin{aligned}
        f_t &= \sigma(W_f x_t + b_f), \quad i_t = \sigma(W_i x_t + b_i), \quad
            \tilde h_t = g(W_h x_t + b_h) \\
        f'_t &= \frac{f_t}{f_t + i_t}, \quad i'_t = \frac{i_t}{f_t + i_t} \\
        h_t &= f'_t \odot h_{t-1} + i'_t \odot \tilde h_t
        \end{aligned}

    The normalisation makes the state's scale independent of time (Sec. 3.2). In log space
    (App. B), with ``d = softplus(-k_f) - softplus(-k_i)``: ``log f' = -softplus(d)``,
    ``log i' = -softplus(-d)``.

    Args:
        input_size: input features ``I``.
        hidden_size: state features ``H``.
        bias: learn ``b_f``, ``b_i`` and ``b_h``.

    Shape:
        state: ``(B, H)``; output: ``(B, H)`` (the state).

    Example:
        >>> y, h = MinLSTMCell(3, 4)(torch.randn(2, 3))
        >>> h.shape
        torch.Size([2, 4])
    """

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True) -> None:
        super().__init__(input_size, hidden_size)
        self.bias = bias
        # Rows: forget gate (H), input gate (H), candidate (H).
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size)) if bias else None
        _init_like_linear(self, input_size)

    def project_input(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias_ih)

    def coefficients(self, projected: Tensor) -> LogCoefficients:
        k_f, k_i, candidate = projected.chunk(3, dim=-1)
        diff = F.softplus(-k_f) - F.softplus(-k_i)  # log i - log f
        return LogCoefficients(-F.softplus(diff), -F.softplus(-diff) + log_g(candidate))

    def kernel_spec(self) -> KernelSpec:
        return KernelSpec("minlstm")

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"
