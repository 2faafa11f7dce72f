"""Likelihoods: losses and quantiles against closed forms and torch.distributions."""

from __future__ import annotations

import torch
from scipy.stats import norm

from rnnkit.models.likelihoods import GaussianLikelihood, QuantileLikelihood, StudentTLikelihood


def test_gaussian_loss_is_the_normal_nll_and_mask_excludes():
    lik = GaussianLikelihood(3)
    params = torch.randn(4, 5, 2)
    target = torch.randn(4, 5)
    sigma = torch.nn.functional.softplus(params[..., 1]) + 1e-4
    expected = -torch.distributions.Normal(params[..., 0], sigma).log_prob(target)
    assert torch.allclose(lik.loss(params, target), expected.mean(), atol=1e-6)
    mask = torch.zeros(4, 5, dtype=torch.bool)
    mask[0, 0] = True
    target_with_nan = target.clone()
    target_with_nan[1:] = float("nan")
    assert torch.allclose(lik.loss(params, target_with_nan, mask), expected[0, 0], atol=1e-6)
    q = lik.quantile(params, 0.9)
    assert torch.allclose(q, params[..., 0] + sigma * norm.ppf(0.9), atol=1e-5)


def test_student_t_loss_and_median():
    lik = StudentTLikelihood(3)
    params = torch.randn(6, 3)
    target = torch.randn(6)
    dist = lik._dist(params)
    assert torch.allclose(lik.loss(params, target), -dist.log_prob(target).mean())
    assert torch.equal(lik.quantile(params, 0.5), params[..., 0])


def test_quantile_outputs_never_cross_and_loss_is_pinball():
    torch.manual_seed(0)
    lik = QuantileLikelihood(4, levels=(0.1, 0.5, 0.9))
    params = lik(torch.randn(8, 4) * 10)
    assert (params.diff(dim=-1) >= 0).all()
    target = torch.zeros(8)
    error = target.unsqueeze(-1) - params
    levels = torch.tensor([0.1, 0.5, 0.9])
    expected = torch.maximum(levels * error, (levels - 1) * error).mean()
    assert torch.allclose(lik.loss(params, target), expected)
    # interpolation between grid levels
    assert torch.allclose(lik.quantile(params, 0.3), (params[..., 0] + params[..., 1]) / 2)
    shifted = lik(torch.randn(8, 4), offset=torch.full((8,), 5.0))
    assert shifted.shape == (8, 3)
