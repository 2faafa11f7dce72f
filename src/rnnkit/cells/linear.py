"""Cells whose recurrence is linear in the state: ``h_t = a_t * h_{t-1} + b_t``.

Such a cell (minGRU, minLSTM, LRU) gates and mixes only with the input, so the whole sequence of
states is a prefix scan of its coefficients, computable for all steps at once
(:mod:`rnnkit.backends.scan`). The same coefficients give the one-step update, so the parallel
form and :meth:`~LinearRecurrentCell.step` (streaming) share weights and formulas by construction.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from rnnkit.cells.base import RecurrentCell, State


class LinearCoefficients(NamedTuple):
    """``h_t = a_t * h_{t-1} + b_t`` with ``a`` and ``b`` given directly (real or complex, any sign).

    ``a`` may be a broadcastable view (e.g. a time-invariant diagonal expanded to ``b``'s shape).
    """

    a: Tensor
    b: Tensor

    def step(self, h: Tensor) -> Tensor:
        """One step of the recurrence from ``h``."""
        return self.a * h + self.b


class LogCoefficients(NamedTuple):
    """``h_t = exp(log_a_t) * h_{t-1} + exp(log_b_t)``: real, positive coefficients given as logs.

    Feng et al. (2024, App. B) compute minGRU/minLSTM in this form so the scan is a
    cumulative sum and a ``logcumsumexp`` that cannot overflow.
    """

    log_a: Tensor
    log_b: Tensor

    def step(self, h: Tensor) -> Tensor:
        """One step of the recurrence from ``h``."""
        return torch.exp(self.log_a) * h + torch.exp(self.log_b)


class LinearRecurrentCell(RecurrentCell):
    r"""A cell whose state update is linear in the state, so it can also be scanned in parallel.

    .. math::
        h_t = a_t \odot h_{t-1} + b_t, \qquad y_t = \mathrm{readout}(h_t, p_t)

    where ``p_t`` is the projected input and ``a_t, b_t`` depend on ``p_t`` only. A subclass
    implements :meth:`project_input`, :meth:`coefficients` and (if the output is not ``h_t``)
    :meth:`readout`; :meth:`step` is derived from them and must not be overridden with different
    math. The state is a single tensor. If the scan works in another representation than the
    state tensor (LRU: complex numbers stored as real pairs), :meth:`to_scan_value` and
    :meth:`from_scan_value` convert.

    Run over whole sequences with ``backend="auto"``, a stack of these cells uses the parallel
    scan; :meth:`step` and ``Recurrent.step`` stay sequential with the same weights.
    """

    def coefficients(self, projected: Tensor) -> LinearCoefficients | LogCoefficients:
        """Recurrence coefficients for projected inputs ``(..., P)``; each of shape ``(..., *S)``."""
        raise NotImplementedError

    def readout(self, h: Tensor, projected: Tensor) -> Tensor:
        """Output from scan values ``(..., *S)`` and the projected inputs of the same steps (default: ``h``)."""
        return h

    def to_scan_value(self, state: Tensor) -> Tensor:
        """The state tensor as the scan's value (default: unchanged)."""
        return state

    def from_scan_value(self, h: Tensor) -> Tensor:
        """A scan value as the state tensor (default: unchanged)."""
        return h

    def step(self, projected_x: Tensor, state: State) -> tuple[Tensor, Tensor]:
        h = self.coefficients(projected_x).step(self.to_scan_value(state))
        return self.readout(h, projected_x), self.from_scan_value(h)
