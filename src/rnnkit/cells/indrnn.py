"""Independently recurrent neural network, IndRNN (Li et al. 2018, CVPR)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.base import RecurrentCell
from rnnkit.cells.kernel import KernelSpec

_NONLINEARITIES = {"relu": torch.relu, "tanh": torch.tanh}


class IndRNNCell(RecurrentCell):
    r"""IndRNN: each unit recurs only on itself, through one scalar weight.

    .. math::
        h_t = \phi(W x_t + b + u \odot h_{t-1}), \qquad \phi = \mathrm{ReLU} \text{ (default) or } \tanh

    Because unit ``n``'s gradient through ``T`` steps is ``prod_t u_n phi'``, Li et al. (2018,
    Sec. 3.1) bound it by constraining ``|u_n|``: with ReLU, ``|u_n| <= gamma ** (1 / T)`` keeps the
    gradient below ``gamma`` over ``T`` steps (:meth:`recurrent_bound`), and a lower bound
    ``|u_n| >= (1/gamma) ** (1/T)`` on some units keeps long memories. Here the constraint
    ``recurrent_min_abs <= |u| <= recurrent_max_abs`` is applied in every step (so it always holds,
    with any trainer); call :meth:`constrain_` after each optimiser step, as the paper clips, so
    that weights pushed past a bound sit on it and keep receiving gradients.

    Args:
        input_size: input features ``I``.
        hidden_size: hidden units ``H``.
        bias: learn ``b``.
        nonlinearity: ``"relu"`` (the paper's) or ``"tanh"``.
        recurrent_max_abs: upper bound on ``|u|`` (``None``: unbounded).
        recurrent_min_abs: lower bound on ``|u|`` (default 0).

    Shape:
        state: ``(B, H)``; output: ``(B, H)``.

    Example:
        >>> bound = IndRNNCell.recurrent_bound(1000)      # 2 ** (1/1000)
        >>> cell = IndRNNCell(2, 8, recurrent_max_abs=bound)
        >>> bool(cell.weight_hh.abs().max() <= bound)
        True
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        bias: bool = True,
        nonlinearity: str = "relu",
        recurrent_max_abs: float | None = None,
        recurrent_min_abs: float = 0.0,
    ) -> None:
        super().__init__(input_size, hidden_size)
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(f"nonlinearity: expected 'relu' or 'tanh', got {nonlinearity!r}")
        if recurrent_min_abs < 0 or (recurrent_max_abs is not None and recurrent_max_abs < recurrent_min_abs):
            raise ValueError(
                "recurrent_min_abs, recurrent_max_abs: expected 0 <= min <= max, got "
                f"{recurrent_min_abs!r} and {recurrent_max_abs!r}"
            )
        self.nonlinearity = nonlinearity
        self.bias = bias
        self.recurrent_max_abs = recurrent_max_abs
        self.recurrent_min_abs = recurrent_min_abs
        self._phi = _NONLINEARITIES[nonlinearity]
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size))  # the diagonal u
        if bias:
            self.bias_ih = nn.Parameter(torch.zeros(hidden_size))
        else:
            self.register_parameter("bias_ih", None)
        bound = 1.0 / math.sqrt(input_size)
        nn.init.uniform_(self.weight_ih, -bound, bound)
        # The paper initialises u uniformly in [0, 1] (its adding-problem experiments), here within the bounds.
        high = 1.0 if recurrent_max_abs is None else max(min(1.0, recurrent_max_abs), recurrent_min_abs)
        nn.init.uniform_(self.weight_hh, recurrent_min_abs, high)

    @staticmethod
    def recurrent_bound(timesteps: int, *, gradient_bound: float = 2.0) -> float:
        """``gradient_bound ** (1 / timesteps)``: the largest ``|u|`` whose gradient over ``timesteps``
        ReLU steps stays below ``gradient_bound`` (Li et al. 2018, Sec. 3.1)."""
        if timesteps < 1 or gradient_bound <= 0:
            raise ValueError(
                f"timesteps, gradient_bound: expected >= 1 and > 0, got {timesteps!r} and {gradient_bound!r}"
            )
        return gradient_bound ** (1.0 / timesteps)

    def recurrent_weight(self) -> Tensor:
        """``u`` with ``recurrent_min_abs <= |u| <= recurrent_max_abs`` applied (what the step uses)."""
        u = self.weight_hh
        if self.recurrent_max_abs is not None:
            u = u.clamp(-self.recurrent_max_abs, self.recurrent_max_abs)
        if self.recurrent_min_abs > 0:
            # Push small magnitudes out to the lower bound, keeping the sign (0 counts as positive).
            sign = torch.where(u < 0, -1.0, 1.0).to(u.dtype)
            u = torch.where(u.abs() < self.recurrent_min_abs, sign * self.recurrent_min_abs, u)
        return u

    @torch.no_grad()
    def constrain_(self) -> IndRNNCell:
        """Project ``weight_hh`` onto the constraint in place (the paper's clipping after each update)."""
        self.weight_hh.copy_(self.recurrent_weight())
        return self

    def project_input(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias_ih)

    def step(self, projected_x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        h = self._phi(torch.addcmul(projected_x, state, self.recurrent_weight()))
        return h, h

    def kernel_spec(self) -> KernelSpec:
        return KernelSpec("indrnn", self.recurrent_weight(), nonlinearity=self.nonlinearity)

    def extra_repr(self) -> str:
        bounds = f", recurrent_max_abs={self.recurrent_max_abs}" if self.recurrent_max_abs is not None else ""
        bounds += f", recurrent_min_abs={self.recurrent_min_abs}" if self.recurrent_min_abs else ""
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}{bounds}"
