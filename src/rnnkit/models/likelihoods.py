"""Output distributions for probabilistic forecasting: parameters from features, loss, summaries.

Each likelihood maps network features ``(..., F)`` to distribution parameters ``(..., P)`` and
gives the training loss against targets (with a mask for missing values), the mean, quantiles
and samples. Everything works in the scaled space of the network; callers unscale.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def _masked_mean(loss: Tensor, mask: Tensor | None) -> Tensor:
    if mask is None:
        return loss.mean()
    mask = mask.to(loss.dtype)
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)


class Likelihood(nn.Module):
    """Base class: a linear map from features to parameters plus the distribution's math."""

    #: parameters per target value
    num_params: int = 1
    #: whether :meth:`sample` exists (autoregressive decoding needs it)
    can_sample: bool = True

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, self.num_params)

    def forward(self, features: Tensor, offset: Tensor | None = None) -> Tensor:
        """Parameters ``(..., num_params)`` from features ``(..., F)``; ``offset`` ``(...)`` shifts the
        location (the network then learns a correction to it)."""
        params = self.proj(features)
        if offset is not None:
            params = torch.cat([params[..., :1] + offset.unsqueeze(-1), params[..., 1:]], dim=-1)
        return params

    def loss(self, params: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean loss over the observed targets (``mask`` True where observed)."""
        raise NotImplementedError

    def mean(self, params: Tensor) -> Tensor:
        raise NotImplementedError

    def quantile(self, params: Tensor, q: float) -> Tensor:
        raise NotImplementedError

    def sample(self, params: Tensor) -> Tensor:
        raise NotImplementedError


class GaussianLikelihood(Likelihood):
    """Normal distribution: ``mu`` and ``sigma = softplus(.) + 1e-4``; loss is the negative log-likelihood."""

    num_params = 2

    def _split(self, params: Tensor) -> tuple[Tensor, Tensor]:
        return params[..., 0], F.softplus(params[..., 1]) + 1e-4

    def loss(self, params: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        mu, sigma = self._split(params)
        target = torch.nan_to_num(target)
        nll = 0.5 * ((target - mu) / sigma) ** 2 + torch.log(sigma) + 0.5 * math.log(2 * math.pi)
        return _masked_mean(nll, mask)

    def mean(self, params: Tensor) -> Tensor:
        return params[..., 0]

    def quantile(self, params: Tensor, q: float) -> Tensor:
        mu, sigma = self._split(params)
        # The standard normal's quantile as a Python number (= sqrt(2) erfinv(2q - 1)), not a tensor
        # op: an exported graph (ONNX has no erfinv) then holds one constant.
        return mu + sigma * NormalDist().inv_cdf(q)

    def sample(self, params: Tensor) -> Tensor:
        mu, sigma = self._split(params)
        return mu + sigma * torch.randn_like(mu)


class StudentTLikelihood(Likelihood):
    """Student's t: location, scale and degrees of freedom ``nu = 2 + softplus(.)`` (finite variance)."""

    num_params = 3

    def _dist(self, params: Tensor) -> torch.distributions.StudentT:
        scale = F.softplus(params[..., 1]) + 1e-4
        df = 2.0 + F.softplus(params[..., 2])
        return torch.distributions.StudentT(df, params[..., 0], scale, validate_args=False)

    def loss(self, params: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        return _masked_mean(-self._dist(params).log_prob(torch.nan_to_num(target)), mask)

    def mean(self, params: Tensor) -> Tensor:
        return params[..., 0]

    def quantile(self, params: Tensor, q: float) -> Tensor:
        # torch has no Student-t inverse CDF; the median is exact, other levels come from samples.
        if q == 0.5:
            return params[..., 0]
        draws = self._dist(params).sample((2000,))
        return torch.quantile(draws, q, dim=0)

    def sample(self, params: Tensor) -> Tensor:
        return self._dist(params).sample()


class QuantileLikelihood(Likelihood):
    """Quantile regression on a fixed grid of levels with the pinball loss (no distributional form).

    Outputs are made non-decreasing across levels (median plus cumulative softplus steps), so
    quantiles never cross; other levels are interpolated linearly between grid points.
    """

    can_sample = False

    def __init__(self, in_features: int, levels: tuple[float, ...] = tuple(i / 20 for i in range(1, 20))) -> None:
        self.levels = tuple(sorted(set(levels) | {0.5}))
        self.num_params = len(self.levels)
        super().__init__(in_features)
        self.register_buffer("_levels", torch.tensor(self.levels), persistent=False)

    def forward(self, features: Tensor, offset: Tensor | None = None) -> Tensor:
        raw = self.proj(features)
        mid = self.levels.index(0.5)
        steps = F.softplus(raw)
        above = raw[..., mid : mid + 1] + torch.cumsum(steps[..., mid + 1 :], dim=-1)
        below = raw[..., mid : mid + 1] - torch.cumsum(steps[..., :mid].flip(-1), dim=-1).flip(-1)
        params = torch.cat([below, raw[..., mid : mid + 1], above], dim=-1)
        return params if offset is None else params + offset.unsqueeze(-1)

    def loss(self, params: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        error = torch.nan_to_num(target).unsqueeze(-1) - params
        levels = self._levels.to(params.dtype)
        pinball = torch.maximum(levels * error, (levels - 1) * error).mean(-1)
        return _masked_mean(pinball, mask)

    def mean(self, params: Tensor) -> Tensor:
        """The median (this likelihood has no mean)."""
        return params[..., self.levels.index(0.5)]

    def quantile(self, params: Tensor, q: float) -> Tensor:
        levels = self.levels
        if q <= levels[0]:
            return params[..., 0]
        if q >= levels[-1]:
            return params[..., -1]
        upper = next(i for i, level in enumerate(levels) if level >= q)
        if levels[upper] == q:
            return params[..., upper]
        weight = (q - levels[upper - 1]) / (levels[upper] - levels[upper - 1])
        return torch.lerp(params[..., upper - 1], params[..., upper], weight)


LIKELIHOODS: dict[str, type[Likelihood]] = {
    "gaussian": GaussianLikelihood,
    "student_t": StudentTLikelihood,
    "quantile": QuantileLikelihood,
}


def make_likelihood(name: str, in_features: int) -> Likelihood:
    """Build a likelihood by name (``"gaussian"``, ``"student_t"``, ``"quantile"``)."""
    if name not in LIKELIHOODS:
        raise ValueError(f"likelihood: expected one of {sorted(LIKELIHOODS)}, got {name!r}")
    return LIKELIHOODS[name](in_features)
