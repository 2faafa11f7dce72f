"""Forecasting networks: an RNN encoder with a direct multi-horizon head, and a DeepAR-style
autoregressive decoder. Both read batches made by :mod:`rnnkit.data.windows` (already scaled)
and follow the training protocol (``training_step`` / ``validation_step``).

Batch keys (``B`` windows, context ``C``, horizon ``H``, ``F`` known features per step):

* ``past_target`` ``(B, C)`` and ``past_observed`` ``(B, C)`` (1 where observed; missing values are 0)
* ``past_features`` ``(B, C, F)`` and ``future_features`` ``(B, H, F)``
* ``future_target`` ``(B, H)`` and ``future_observed`` ``(B, H)`` (training and validation only)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.cells import map_state
from rnnkit.layers import Recurrent
from rnnkit.models.likelihoods import make_likelihood


class _ForecastNet(nn.Module):
    """Shared parts: config, likelihood, the training protocol and quantile summaries."""

    def __init__(self, *, horizon: int, num_features: int, likelihood: str) -> None:
        super().__init__()
        if not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon: expected a positive integer, got {horizon!r}")
        self.horizon = horizon
        self.num_features = num_features

    def distribution_params(self, batch: dict[str, Tensor]) -> Tensor:
        """Parameters ``(B, H, P)`` of each future step's distribution (teacher-forced where it applies)."""
        raise NotImplementedError

    def training_step(self, batch: dict[str, Tensor]) -> Tensor:
        """Negative log-likelihood (or pinball loss) on the observed targets."""
        raise NotImplementedError

    def validation_step(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Loss and mean absolute error (in scaled units) of the point forecast on the future window."""
        params = self.distribution_params(batch)
        mask = batch["future_observed"].bool()
        loss = self.likelihood.loss(params, batch["future_target"], mask)
        error = (self.likelihood.mean(params) - batch["future_target"]).abs()
        mae = (error * mask).sum() / mask.sum().clamp_min(1)
        return {"loss": loss, "mae_scaled": mae}


class DirectForecastNet(_ForecastNet):
    """Encoder over the context; one head emits every horizon step's distribution at once.

    Args:
        horizon: future steps ``H``.
        num_features: known features per step ``F`` (calendar + user covariates).
        cell: any rnnkit cell name or class.
        hidden_size, num_layers, dropout: of the encoder.
        likelihood: ``"gaussian"``, ``"student_t"`` or ``"quantile"``.
        step_size: width of each horizon step's representation before the likelihood.
        baseline_feature: index of a future feature that is itself a forecast (the seasonal naive
            one); the network then predicts a correction to it rather than the value.
    """

    def __init__(
        self,
        *,
        horizon: int,
        num_features: int = 0,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.1,
        likelihood: str = "gaussian",
        step_size: int = 16,
        baseline_feature: int | None = None,
    ) -> None:
        super().__init__(horizon=horizon, num_features=num_features, likelihood=likelihood)
        self.encoder = Recurrent(cell, 2 + num_features, hidden_size, num_layers=num_layers, dropout=dropout)
        self.step_size = step_size
        self.baseline_feature = baseline_feature
        # How much of the baseline forecast to keep: starts at all of it, learnt from there.
        self.baseline_weight = nn.Parameter(torch.ones(())) if baseline_feature is not None else None
        self.head = nn.Sequential(
            nn.Linear(self.encoder.output_size + horizon * num_features, hidden_size),
            nn.GELU(),
            nn.Linear(hidden_size, horizon * step_size),
        )
        self.likelihood = make_likelihood(likelihood, step_size + num_features)

    def distribution_params(self, batch: dict[str, Tensor]) -> Tensor:
        past = torch.cat(
            [batch["past_target"].unsqueeze(-1), batch["past_observed"].unsqueeze(-1), batch["past_features"]], dim=-1
        )
        encoded, _ = self.encoder(past)
        future = batch["future_features"]
        summary = torch.cat([encoded[:, -1], future.flatten(1)], dim=-1)
        steps = self.head(summary).view(-1, self.horizon, self.step_size)
        offset = None if self.baseline_feature is None else self.baseline_weight * future[..., self.baseline_feature]
        return self.likelihood(torch.cat([steps, future], dim=-1), offset)

    def training_step(self, batch: dict[str, Tensor]) -> Tensor:
        params = self.distribution_params(batch)
        return self.likelihood.loss(params, batch["future_target"], batch["future_observed"].bool())

    @torch.no_grad()
    def forecast(self, batch: dict[str, Tensor], quantiles: tuple[float, ...], num_samples: int = 0) -> dict:
        """Point forecast ``(B, H)`` and each requested quantile, in scaled units."""
        params = self.distribution_params(batch)
        return {
            "mean": self.likelihood.mean(params),
            "quantiles": {q: self.likelihood.quantile(params, q) for q in quantiles},
        }


class AutoregressiveForecastNet(_ForecastNet):
    """DeepAR-style model (Salinas et al. 2020): the RNN reads the previous value and the known
    features of each step and emits the distribution of the current value; forecasts are sample
    paths drawn step by step, each draw fed back as the next input.

    Args:
        horizon: future steps ``H`` (the training window's future part; forecasts may be longer).
        num_features: known features per step ``F``.
        cell, hidden_size, num_layers, dropout: of the recurrent network.
        likelihood: ``"gaussian"`` or ``"student_t"`` (a likelihood that can be sampled).
    """

    def __init__(
        self,
        *,
        horizon: int,
        num_features: int = 0,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.1,
        likelihood: str = "gaussian",
    ) -> None:
        super().__init__(horizon=horizon, num_features=num_features, likelihood=likelihood)
        self.rnn = Recurrent(cell, 2 + num_features, hidden_size, num_layers=num_layers, dropout=dropout)
        self.likelihood = make_likelihood(likelihood, self.rnn.output_size)
        if not self.likelihood.can_sample:
            raise ValueError(f"likelihood: {likelihood!r} cannot be sampled; the autoregressive decoder needs "
                             "'gaussian' or 'student_t' (or use decoder='direct')")

    @staticmethod
    def _lagged_inputs(target: Tensor, observed: Tensor, features: Tensor) -> Tensor:
        """Input at step t: the value and observed flag of step t-1 (zeros at t = 0), features of step t."""
        lag = torch.nn.functional.pad(target, (1, -1))
        lag_observed = torch.nn.functional.pad(observed, (1, -1))
        return torch.cat([lag.unsqueeze(-1), lag_observed.unsqueeze(-1), features], dim=-1)

    def _teacher_forced(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        target = torch.cat([batch["past_target"], batch["future_target"]], dim=1)
        observed = torch.cat([batch["past_observed"], batch["future_observed"]], dim=1)
        features = torch.cat([batch["past_features"], batch["future_features"]], dim=1)
        out, _ = self.rnn(self._lagged_inputs(target, observed, features))
        return self.likelihood(out), target, observed

    def distribution_params(self, batch: dict[str, Tensor]) -> Tensor:
        params, _, _ = self._teacher_forced(batch)
        return params[:, -self.horizon :]

    def training_step(self, batch: dict[str, Tensor]) -> Tensor:
        params, target, observed = self._teacher_forced(batch)
        # Step 0 has no previous value to condition on, so it is not scored.
        return self.likelihood.loss(params[:, 1:], target[:, 1:], observed[:, 1:].bool())

    @torch.no_grad()
    def forecast(self, batch: dict[str, Tensor], quantiles: tuple[float, ...], num_samples: int = 200) -> dict:
        """Draw ``num_samples`` paths over ``future_features``' length; mean and quantiles over paths."""
        past = self._lagged_inputs(batch["past_target"], batch["past_observed"], batch["past_features"])
        _, state = self.rnn(past)
        batch_size, steps = batch["future_features"].shape[:2]

        def repeat(t: Tensor) -> Tensor:  # (B, ...) -> (B * S, ...), each window's samples adjacent
            return t.repeat_interleave(num_samples, dim=0)

        state = map_state(lambda s: s.repeat_interleave(num_samples, dim=1), state)
        previous = repeat(batch["past_target"][:, -1])
        previous_observed = repeat(batch["past_observed"][:, -1])
        features = repeat(batch["future_features"])
        paths = []
        for h in range(steps):
            x = torch.cat([previous.unsqueeze(-1), previous_observed.unsqueeze(-1), features[:, h]], dim=-1)
            out, state = self.rnn.step(x, state)
            previous = self.likelihood.sample(self.likelihood(out))
            previous_observed = torch.ones_like(previous)
            paths.append(previous)
        samples = torch.stack(paths, dim=1).view(batch_size, num_samples, steps)
        return {
            "mean": samples.mean(1),
            "quantiles": {q: torch.quantile(samples, q, dim=1) for q in quantiles},
            "samples": samples,
        }


class ForecastEnsemble(nn.Module):
    """Several forecasting networks of one kind, trained together on the same batches from different
    initial weights. Forecasts average the members' means and their quantiles (quantile averaging),
    which lowers the variance one network's initialisation leaves in its forecasts.

    Args:
        members: the networks (same horizon and features).
    """

    def __init__(self, members: list[_ForecastNet]) -> None:
        super().__init__()
        if not members:
            raise ValueError("members: expected at least one network")
        self.members = nn.ModuleList(members)
        self.horizon = members[0].horizon
        self.num_features = members[0].num_features

    def training_step(self, batch: dict[str, Tensor]) -> Tensor:
        # The members share no parameters, so the sum's gradient trains each on its own loss.
        return torch.stack([m.training_step(batch) for m in self.members]).sum()

    def validation_step(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        results = [m.validation_step(batch) for m in self.members]
        return {key: torch.stack([r[key] for r in results]).mean() for key in results[0]}

    @torch.no_grad()
    def forecast(self, batch: dict[str, Tensor], quantiles: tuple[float, ...], num_samples: int = 200) -> dict:
        results = [m.forecast(batch, quantiles, num_samples=num_samples) for m in self.members]
        return {
            "mean": torch.stack([r["mean"] for r in results]).mean(0),
            "quantiles": {q: torch.stack([r["quantiles"][q] for r in results]).mean(0) for q in quantiles},
        }
