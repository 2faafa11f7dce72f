r"""A hybrid exponential-smoothing + recurrent forecaster in the spirit of ES-RNN (Smyl 2020, the
M4 competition's winner), simplified: no dilations, no level-wiggliness penalty.

Each series :math:`i` has its own smoothing coefficients, learned by gradient descent together
with one recurrent network shared by all series (cross-learning). The multiplicative
Holt–Winters-style recursion (Smyl 2020, section 3.2, without the trend) gives a level
:math:`l_t` and seasonal factors :math:`s_t` of period :math:`m`:

.. math::

    l_0 = y_0 / s_0, \qquad
    l_t = \alpha_i \, y_t / s_t + (1 - \alpha_i) \, l_{t-1}, \qquad
    s_{t+m} = \gamma_i \, y_t / l_t + (1 - \gamma_i) \, s_t,

with :math:`\alpha_i = \sigma(a_i)`, :math:`\gamma_i = \sigma(g_i)` (so both stay in (0, 1)) and
the first season :math:`s_0 \dots s_{m-1} = \exp(b_{i,0}) \dots \exp(b_{i,m-1})`. A window ending
at :math:`t` is normalised by the level at its end and deseasonalised,
:math:`x_j = \log(y_j / (l_t s_j))`; the network reads the context's :math:`x_j` and forecasts the
normalised future :math:`z_k = \log(y_{t+k} / (l_t s_{t+k}))`, :math:`k = 1 \dots H`, trained with
the pinball loss (``tau = 0.5``: the absolute error, i.e. the median on the log scale). A forecast
is :math:`\hat y_{t+k} = \exp(\hat z_k) \, l_t \, s_{t+k}`, where the seasonal factors beyond the
data repeat the last season computed from data (index :math:`t + 1 + ((k - 1) \bmod m)`), in
training windows exactly as at forecast time, so no window reads its own future.

Series must be positive; :meth:`ESRNN.forward` takes them already shifted (see
``rnnkit.tasks.forecast.es_rnn``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnkit.checks import check_positive_int
from rnnkit.layers import Recurrent


def smooth(values: Tensor, alpha: Tensor, gamma: Tensor, first_season: Tensor) -> tuple[Tensor, Tensor]:
    r"""The multiplicative level / seasonality recursion over a batch of positive series.

    Args:
        values: ``(B, T)`` positive values (right-padded series: pad with any positive value; the
            padding only changes levels and factors past each series' end).
        alpha: ``(B,)`` level smoothing coefficients in (0, 1).
        gamma: ``(B,)`` seasonality smoothing coefficients in (0, 1) (unused when ``m = 1``).
        first_season: ``(B, m)`` positive seasonal factors of steps ``0 .. m-1`` (``m = 1``: ones).

    Returns:
        ``(levels (B, T), seasons (B, T + m))``: :math:`l_t` and :math:`s_t`; ``seasons[:, t]`` for
        ``t < T + m`` uses only values before ``t - m + 1``.

    Example:
        >>> levels, seasons = smooth(torch.tensor([[2.0, 4.0]]), torch.tensor([0.5]), torch.tensor([0.5]),
        ...                          torch.ones(1, 1))
        >>> levels.tolist()
        [[2.0, 3.0]]
    """
    m, steps = first_season.shape[1], values.shape[1]
    if m == 1:  # level only: simple exponential smoothing of y / s_0
        adjusted = values / first_season
        level = adjusted[:, 0]
        levels = [level]
        for t in range(1, steps):
            level = alpha * adjusted[:, t] + (1 - alpha) * level
            levels.append(level)
        return torch.stack(levels, 1), first_season.expand(-1, steps + 1)
    seasons = list(first_season.unbind(1))
    level = values[:, 0] / seasons[0]
    levels = [level]
    seasons.append(gamma * values[:, 0] / level + (1 - gamma) * seasons[0])
    for t in range(1, steps):
        level = alpha * values[:, t] / seasons[t] + (1 - alpha) * level
        levels.append(level)
        seasons.append(gamma * values[:, t] / level + (1 - gamma) * seasons[t])
    return torch.stack(levels, 1), torch.stack(seasons, 1)


def pinball(forecast: Tensor, target: Tensor, mask: Tensor, tau: float) -> Tensor:
    """Mean pinball (quantile) loss at level ``tau`` over the ``mask``-ed elements."""
    diff = target - forecast
    loss = torch.maximum(tau * diff, (tau - 1) * diff)
    return (loss * mask).sum() / mask.sum().clamp_min(1)


class ESRNN(nn.Module):
    """Per-series exponential smoothing (learned coefficients) + one global recurrent network.

    Args:
        num_series: series the per-series coefficients are kept for (indices ``0 .. N-1``).
        horizon: future steps ``H``.
        context_length: steps ``C`` of each normalised window the network reads (windows that
            reach before a series' start are padded and flagged unobserved).
        season_length: period ``m`` (1: level only, no seasonality).
        cell, hidden_size, num_layers, dropout: of the recurrent network (any rnnkit cell).
        tau: level of the pinball loss (0.5: absolute error on the log-normalised scale).
        windows_per_series: training windows drawn at random per series per step (all, when fewer).
        min_context: observed context steps a training window needs at least.
        alpha_init, gamma_init: starting smoothing coefficients.

    Batches (from ``rnnkit.tasks.forecast.es_rnn``): ``index`` ``(B,)`` series indices, ``values``
    ``(B, T)`` positive values right-padded with each series' last value, ``length`` ``(B,)``, and
    ``train_end`` ``(B,)``: training targets must lie before this step (the validation window
    starts there).

    Example:
        >>> net = ESRNN(3, horizon=2, context_length=4, season_length=1, hidden_size=8)
        >>> batch = {"index": torch.arange(3), "values": torch.rand(3, 10) + 1,
        ...          "length": torch.full((3,), 10), "train_end": torch.full((3,), 8)}
        >>> net.forecast(batch).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        num_series: int,
        *,
        horizon: int,
        context_length: int,
        season_length: int = 1,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
        tau: float = 0.5,
        windows_per_series: int = 16,
        min_context: int = 3,
        alpha_init: float = 0.5,
        gamma_init: float = 0.3,
    ) -> None:
        super().__init__()
        for name, value in (("num_series", num_series), ("horizon", horizon), ("context_length", context_length),
                            ("season_length", season_length), ("windows_per_series", windows_per_series),
                            ("min_context", min_context)):
            check_positive_int(name, value)
        if not 0 < tau < 1:
            raise ValueError(f"tau: expected a level in (0, 1), got {tau!r}")
        for name, value in (("alpha_init", alpha_init), ("gamma_init", gamma_init)):
            if not 0 < value < 1:
                raise ValueError(f"{name}: expected a coefficient in (0, 1), got {value!r}")
        self.num_series, self.horizon, self.context_length = num_series, horizon, context_length
        self.season_length, self.tau = season_length, tau
        self.windows_per_series, self.min_context = windows_per_series, min(min_context, context_length)
        # Per-series parameters (logits of the coefficients, log of the first season's factors).
        self.level_logit = nn.Parameter(torch.full((num_series,), math.log(alpha_init / (1 - alpha_init))))
        self.season_logit = nn.Parameter(torch.full((num_series,), math.log(gamma_init / (1 - gamma_init))))
        self.log_first_season = nn.Parameter(torch.zeros(num_series, season_length))
        self.encoder = Recurrent(cell, 2, hidden_size, num_layers=num_layers, dropout=dropout)
        self.head = nn.Linear(self.encoder.output_size, horizon)
        nn.init.zeros_(self.head.weight)  # start from the smoothing's own forecast (z = 0)
        nn.init.zeros_(self.head.bias)

    # ------------------------------------------------------------------ smoothing
    def coefficients(self, index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(alpha (B,), gamma (B,), first season (B, m))`` of the series ``index``; the first
        season's factors are normalised to a geometric mean of 1."""
        log_season = self.log_first_season[index]
        log_season = log_season - log_season.mean(1, keepdim=True)
        return torch.sigmoid(self.level_logit[index]), torch.sigmoid(self.season_logit[index]), log_season.exp()

    @torch.no_grad()
    def initialise_seasons(self, index: Tensor, first_season: Tensor) -> None:
        """Start the first season's factors of series ``index`` at ``first_season`` ``(B, m)``."""
        self.log_first_season[index] = first_season.clamp_min(1e-6).log()

    def smooth(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Levels ``(B, T)`` and seasonal factors ``(B, T + m)`` of the batch's series."""
        alpha, gamma, first = self.coefficients(batch["index"])
        return smooth(batch["values"], alpha, gamma, first)

    # -------------------------------------------------------------------- windows
    def windows(self, values: Tensor, levels: Tensor, seasons: Tensor, rows: Tensor, ends: Tensor,
                with_target: bool = True) -> dict[str, Tensor]:
        """Normalised windows ending at step ``ends`` of series ``rows`` (both ``(W,)``).

        Returns:
            ``inputs (W, C, 2)`` (normalised value, observed flag), ``level (W,)``, ``season (W, H)``
            (the factors the forecast is multiplied by) and, with ``with_target``, ``target (W, H)``.
        """
        c, h, m = self.context_length, self.horizon, self.season_length
        positions = ends.unsqueeze(1) + torch.arange(-c + 1, 1)                  # (W, C)
        observed = positions >= 0
        safe = positions.clamp_min(0)
        r = rows.unsqueeze(1)
        level = levels[rows, ends]                                                  # (W,)
        x = torch.log(values[r, safe] / (level.unsqueeze(1) * seasons[r, safe])) * observed
        future_season = seasons[r, ends.unsqueeze(1) + 1 + torch.arange(h) % m]    # (W, H)
        out = {"inputs": torch.stack([x, observed.to(x.dtype)], -1), "level": level, "season": future_season}
        if with_target:
            future = (ends.unsqueeze(1) + 1 + torch.arange(h)).clamp_max(values.shape[1] - 1)
            out["target"] = torch.log(values[r, future] / (level.unsqueeze(1) * future_season))
        return out

    def forward(self, inputs: Tensor) -> Tensor:
        """The normalised log forecast ``(W, H)`` from windows ``inputs`` ``(W, C, 2)``."""
        encoded, _ = self.encoder(inputs)
        return self.head(encoded[:, -1])

    def _training_windows(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Random ends of training windows: targets end before ``train_end``, at least
        ``min_context`` observed steps; up to ``windows_per_series`` per series."""
        rows, ends = [], []
        for row, stop in enumerate(batch["train_end"].tolist()):
            last = stop - 1 - self.horizon                     # the window's last context step
            first = self.min_context - 1
            if last < first:
                continue
            count = last - first + 1
            picks = torch.randperm(count)[: self.windows_per_series] + first
            rows.append(torch.full((len(picks),), row))
            ends.append(picks)
        if not rows:
            return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
        return torch.cat(rows), torch.cat(ends)

    # ---------------------------------------------------------- training protocol
    def training_step(self, batch: dict[str, Tensor]) -> Tensor:
        """Pinball loss of the network's normalised forecasts on random training windows."""
        levels, seasons = self.smooth(batch)
        rows, ends = self._training_windows(batch)
        if len(rows) == 0:  # no series of this batch is long enough: a zero loss that keeps the graph
            return levels.sum() * 0.0
        w = self.windows(batch["values"], levels, seasons, rows, ends)
        return pinball(self(w["inputs"]), w["target"], torch.ones_like(w["target"]), self.tau)

    def validation_step(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Loss on each series' window that starts at ``train_end`` (series with no room: skipped)."""
        levels, seasons = self.smooth(batch)
        ends = batch["train_end"] - 1
        keep = (ends >= self.min_context - 1) & (batch["train_end"] + self.horizon <= batch["length"])
        rows = torch.nonzero(keep).flatten()
        if len(rows) == 0:
            zero = levels.sum() * 0.0
            return {"loss": zero, "mae_log": zero}
        w = self.windows(batch["values"], levels, seasons, rows, ends[rows])
        forecast = self(w["inputs"])
        mask = torch.ones_like(w["target"])
        return {"loss": pinball(forecast, w["target"], mask, self.tau),
                "mae_log": (forecast - w["target"]).abs().mean()}

    @torch.no_grad()
    def forecast(self, batch: dict[str, Tensor]) -> Tensor:
        """Forecasts ``(B, H)`` (in the batch's positive units) from the end of each series."""
        levels, seasons = self.smooth(batch)
        rows = torch.arange(len(batch["index"]))
        w = self.windows(batch["values"], levels, seasons, rows, batch["length"] - 1, with_target=False)
        return self(w["inputs"]).exp() * w["level"].unsqueeze(1) * w["season"]


__all__ = ["ESRNN", "pinball", "smooth"]
