"""Linear Recurrent Unit (Orvieto et al. 2023, "Resurrecting Recurrent Neural Networks for Long Sequences")."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.linear import LinearCoefficients, LinearRecurrentCell


class LRUCell(LinearRecurrentCell):
    r"""LRU: a complex diagonal linear recurrence with a stable exponential parameterisation.

    .. math::
        \begin{aligned}
        \lambda_j &= \exp(-\exp(\nu_j) + i \exp(\theta_j)) \quad (|\lambda_j| < 1 \text{ for any } \nu_j)\\
        h_t &= \lambda \odot h_{t-1} + \gamma \odot (B x_t), \qquad \gamma_j = \exp(\gamma^{\log}_j)
            \text{, initialised to } \sqrt{1 - |\lambda_j|^2} \\
        y_t &= \mathrm{Re}(C h_t) + D x_t
        \end{aligned}

    ``B`` (``N x I``) and ``C`` (``O x N``) are complex; ``D`` is the diagonal skip of the paper
    (a vector) when ``O = I``, and a real ``O x I`` matrix otherwise. Sec. 3 of the paper: the
    exponential parameterisation (``nu``, ``theta`` learned in log form) keeps the recurrence
    stable; ring initialisation ``r_min <= |lambda| <= r_max``, phases in ``[0, max_phase]``;
    the ``gamma`` normalisation keeps the state's variance independent of ``|lambda|``.

    The state is complex; it is stored as real pairs, ``(B, N, 2)`` (``torch.view_as_real``), so it
    stacks, masks and checks like any real state.

    Args:
        input_size: input features ``I``.
        hidden_size: complex state size ``N``.
        output_size: output features ``O`` (default ``I``, the paper's block).
        r_min, r_max: ring of the initial eigenvalue magnitudes (the paper uses 0.9 and 0.999 for
            its long-range tasks; the defaults are the reference code's 0 and 1).
        max_phase: largest initial eigenvalue phase.

    Shape:
        state: ``(B, N, 2)``; output: ``(B, O)``.

    Example:
        >>> cell = LRUCell(3, 8)
        >>> y, h = cell(torch.randn(2, 3))
        >>> y.shape, h.shape
        (torch.Size([2, 3]), torch.Size([2, 8, 2]))
    """

    zoneout_tensors = 0  # the output is a read-out of the state, not the state

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        output_size: int | None = None,
        r_min: float = 0.0,
        r_max: float = 1.0,
        max_phase: float = 2 * math.pi,
    ) -> None:
        super().__init__(input_size, hidden_size)
        if not 0.0 <= r_min < r_max <= 1.0:
            raise ValueError(f"r_min, r_max: expected 0 <= r_min < r_max <= 1, got r_min={r_min!r}, r_max={r_max!r}")
        if output_size is not None and (not isinstance(output_size, int) or output_size < 1):
            raise ValueError(f"output_size: expected a positive integer or None, got {output_size!r}")
        self._output_size = output_size or input_size
        self.r_min, self.r_max, self.max_phase = r_min, r_max, max_phase
        n, i, o = hidden_size, input_size, self._output_size
        self.nu_log = nn.Parameter(torch.empty(n))
        self.theta_log = nn.Parameter(torch.empty(n))
        self.gamma_log = nn.Parameter(torch.empty(n))
        self.B_re = nn.Parameter(torch.empty(n, i))
        self.B_im = nn.Parameter(torch.empty(n, i))
        self.C_re = nn.Parameter(torch.empty(o, n))
        self.C_im = nn.Parameter(torch.empty(o, n))
        self.D = nn.Parameter(torch.empty(o) if o == i else torch.empty(o, i))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The paper's initialisation (App. A, ``init_lru_parameters``)."""
        n, i = self.hidden_size, self.input_size
        with torch.no_grad():
            # Uniform on the ring r_min <= |lambda| <= r_max (Lemma 3.2); u in (0, 1) keeps the logs finite.
            u1 = torch.rand(n).clamp_(1e-12, 1 - 1e-12)
            u2 = torch.rand(n).clamp_(1e-12, 1.0)
            self.nu_log.copy_(torch.log(-0.5 * torch.log(u1 * (self.r_max**2 - self.r_min**2) + self.r_min**2)))
            self.theta_log.copy_(torch.log(self.max_phase * u2))
            modulus = torch.exp(-torch.exp(self.nu_log))
            self.gamma_log.copy_(0.5 * torch.log1p(-(modulus**2)))
            nn.init.normal_(self.B_re, std=1 / math.sqrt(2 * i))
            nn.init.normal_(self.B_im, std=1 / math.sqrt(2 * i))
            nn.init.normal_(self.C_re, std=1 / math.sqrt(n))
            nn.init.normal_(self.C_im, std=1 / math.sqrt(n))
            nn.init.normal_(self.D, std=1.0 if self.D.dim() == 1 else 1 / math.sqrt(i))

    @property
    def output_size(self) -> int:
        return self._output_size

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.hidden_size, 2),)

    def eigenvalues(self) -> Tensor:
        """The diagonal recurrence ``lambda`` (complex, ``(N,)``), ``|lambda| < 1``."""
        return torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))

    def project_input(self, x: Tensor) -> Tensor:
        # One matrix product for all steps: [Re(gamma B x), Im(gamma B x), D x]  -> (..., 2N + O)
        gamma = torch.exp(self.gamma_log)
        weight = torch.cat([gamma[:, None] * self.B_re, gamma[:, None] * self.B_im])
        skip = x * self.D if self.D.dim() == 1 else F.linear(x, self.D)
        return torch.cat([F.linear(x, weight), skip], dim=-1)

    def coefficients(self, projected: Tensor) -> LinearCoefficients:
        n = self.hidden_size
        b = torch.complex(projected[..., :n], projected[..., n : 2 * n])
        return LinearCoefficients(self.eigenvalues().expand_as(b), b)

    def readout(self, h: Tensor, projected: Tensor) -> Tensor:
        # Re(C h) = C_re Re(h) - C_im Im(h)
        return F.linear(h.real, self.C_re) - F.linear(h.imag, self.C_im) + projected[..., 2 * self.hidden_size :]

    def to_scan_value(self, state: Tensor) -> Tensor:
        return torch.view_as_complex(state.contiguous())

    def from_scan_value(self, h: Tensor) -> Tensor:
        return torch.view_as_real(h)

    def real_step(self, projected_x: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`step` in real arithmetic on the ``(B, N, 2)`` state, for exporters without complex
        tensors (ONNX; :mod:`rnnkit.backends.graph` runs it): ``h' = lambda h + b`` written out
        as ``(Re, Im)`` pairs, the same numbers as :meth:`step`."""
        n = self.hidden_size
        modulus, phase = torch.exp(-torch.exp(self.nu_log)), torch.exp(self.theta_log)
        lam_re, lam_im = modulus * torch.cos(phase), modulus * torch.sin(phase)
        h_re, h_im = state[..., 0], state[..., 1]
        new_re = lam_re * h_re - lam_im * h_im + projected_x[..., :n]
        new_im = lam_re * h_im + lam_im * h_re + projected_x[..., n : 2 * n]
        y = F.linear(new_re, self.C_re) - F.linear(new_im, self.C_im) + projected_x[..., 2 * n :]
        return y, torch.stack([new_re, new_im], dim=-1)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, output_size={self.output_size}"
