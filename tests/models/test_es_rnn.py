"""The ES-RNN's smoothing recursion, coefficients, gradients and windows (rnnkit.models.es_rnn)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.models.es_rnn import ESRNN, pinball, smooth


def hand_smoothing(y, alpha, gamma, first):
    """The multiplicative recursion written out with plain floats."""
    m = len(first)
    s = list(first)
    levels = []
    for t, value in enumerate(y):
        if t == 0:
            level = value / s[0]
        else:
            level = alpha * value / s[t] + (1 - alpha) * level
        levels.append(level)
        if m > 1:
            s.append(gamma * value / level + (1 - gamma) * s[t])
    return levels, s


def test_smoothing_matches_a_hand_written_loop():
    y = [10.0, 14.0, 9.0, 12.0, 11.0, 15.0, 8.0]
    first = [0.9, 1.2, 0.8, 1.1]
    levels, seasons = smooth(torch.tensor([y], dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64),
                             torch.tensor([0.2], dtype=torch.float64), torch.tensor([first], dtype=torch.float64))
    want_levels, want_seasons = hand_smoothing(y, 0.3, 0.2, first)
    np.testing.assert_allclose(levels[0].numpy(), want_levels, rtol=1e-12)
    np.testing.assert_allclose(seasons[0].numpy(), want_seasons, rtol=1e-12)
    assert seasons.shape == (1, len(y) + 4)
    # By hand for the first steps: l0 = 10 / 0.9, l1 = 0.3 * 14 / 1.2 + 0.7 * l0.
    assert levels[0, 1].item() == pytest.approx(0.3 * 14 / 1.2 + 0.7 * 10 / 0.9)


def test_smoothing_without_seasonality_is_simple_exponential_smoothing():
    y = torch.tensor([[4.0, 8.0, 6.0]], dtype=torch.float64)
    levels, seasons = smooth(y, torch.tensor([0.5], dtype=torch.float64), torch.tensor([0.9], dtype=torch.float64),
                             torch.ones(1, 1, dtype=torch.float64))
    np.testing.assert_allclose(levels[0].numpy(), [4.0, 6.0, 6.0])
    np.testing.assert_allclose(seasons.numpy(), np.ones((1, 4)))


def test_coefficients_stay_in_the_unit_interval_and_get_gradients():
    torch.manual_seed(0)
    net = ESRNN(4, horizon=2, context_length=4, season_length=3, hidden_size=8, num_layers=1)
    with torch.no_grad():  # extreme logits still give coefficients strictly inside (0, 1)
        net.level_logit[:] = torch.tensor([-30.0, 30.0, 0.0, 5.0])
    alpha, gamma, first = net.coefficients(torch.arange(4))
    assert torch.all(alpha >= 0) and torch.all(alpha <= 1) and alpha[2].item() == pytest.approx(0.5)
    assert torch.all((gamma > 0) & (gamma < 1))
    assert torch.allclose(first.log().mean(1), torch.zeros(4), atol=1e-6)  # geometric mean 1
    t = torch.arange(30.0)
    values = (10 + t + 3 * torch.sin(t * 2.1)).repeat(2, 1) + torch.tensor([[0.0], [5.0]])
    batch = {"index": torch.tensor([1, 2]), "values": values, "length": torch.full((2,), 30),
             "train_end": torch.full((2,), 28)}
    with torch.no_grad():
        net.head.weight.normal_()  # a non-zero head, so the forecast depends on the normalisation
    net.training_step(batch).backward()
    for grad in (net.level_logit.grad, net.season_logit.grad):
        assert grad[2].abs().item() > 0           # series in the batch learn
        assert grad[0].item() == 0 and grad[3].item() == 0  # series outside it do not
    assert net.log_first_season.grad[2].abs().sum().item() > 0


def test_training_windows_never_read_their_own_future():
    torch.manual_seed(0)
    net = ESRNN(1, horizon=3, context_length=4, season_length=4, hidden_size=8, num_layers=1)
    values = torch.rand(1, 24) + 1
    alpha, gamma, first = net.coefficients(torch.arange(1))
    end = torch.tensor([12])
    changed = values.clone()
    changed[0, 13:] *= 3  # everything after the window's last context step
    windows = []
    for v in (values, changed):
        levels, seasons = smooth(v, alpha, gamma, first)
        windows.append(net.windows(v, levels, seasons, torch.tensor([0]), end))
    for key in ("inputs", "level", "season"):
        torch.testing.assert_close(windows[0][key], windows[1][key])
    assert not torch.allclose(windows[0]["target"], windows[1]["target"])


def test_pinball_at_one_half_is_half_the_absolute_error():
    f, y = torch.tensor([[1.0, 2.0]]), torch.tensor([[2.0, 0.0]])
    assert pinball(f, y, torch.ones(1, 2), 0.5).item() == pytest.approx(0.5 * 1.5)
    assert pinball(f, y, torch.ones(1, 2), 0.9).item() == pytest.approx((0.9 * 1 + 0.1 * 2) / 2)


def test_bad_settings_name_the_argument():
    with pytest.raises(ValueError, match="context_length: expected a positive integer"):
        ESRNN(2, horizon=2, context_length=0)
    with pytest.raises(ValueError, match="tau: expected a level in"):
        ESRNN(2, horizon=2, context_length=3, tau=1.0)
    with pytest.raises(ValueError, match="alpha_init: expected a coefficient"):
        ESRNN(2, horizon=2, context_length=3, alpha_init=0.0)
