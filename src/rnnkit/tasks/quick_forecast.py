"""A small, real forecasting run on the embedded sunspot series (the interim ``make demo``).

Trains an LSTM with a direct multi-horizon head on windows of the monthly series, then prints its
validation MAE beside the naive forecast (repeat the last value), both computed on the same
held-out months.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.data import load_sunspots
from rnnkit.layers import Recurrent


@dataclass
class QuickForecastConfig:
    """Settings of the quick sunspot forecast."""

    window: int = 120
    horizon: int = 12
    hidden_size: int = 48
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    val_fraction: float = 0.2
    seed: int = 0


class WindowForecaster(nn.Module):
    """Encoder over a window, then a linear head that emits all ``horizon`` future values at once."""

    def __init__(self, hidden_size: int, horizon: int) -> None:
        super().__init__()
        self.encoder = Recurrent("lstm", 1, hidden_size)
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, x: Tensor) -> Tensor:
        _, (h, _) = self.encoder(x.unsqueeze(-1))
        return self.head(h[-1])


def _windows(series: np.ndarray, starts: range, window: int, horizon: int) -> tuple[Tensor, Tensor]:
    x = np.stack([series[s : s + window] for s in starts])
    y = np.stack([series[s + window : s + window + horizon] for s in starts])
    return torch.from_numpy(x).float(), torch.from_numpy(y).float()


def run_quick_forecast(config: QuickForecastConfig | None = None, *, verbose: bool = True) -> dict[str, float]:
    """Train on the sunspot series and return validation MAEs of the model and the naive forecast.

    Returns:
        ``{"lstm_mae": ..., "naive_mae": ..., "seconds": ...}`` in sunspot units.
    """
    cfg = config or QuickForecastConfig()
    torch.manual_seed(cfg.seed)
    _, values = load_sunspots()
    split = int(len(values) * (1 - cfg.val_fraction))
    mean, std = values[:split].mean(), values[:split].std()
    scaled = (values - mean) / std

    span = cfg.window + cfg.horizon
    x_train, y_train = _windows(scaled, range(0, split - span + 1), cfg.window, cfg.horizon)
    # Validation targets lie wholly in the held-out months; inputs may reach back into training data.
    x_val, y_val = _windows(scaled, range(split - cfg.window, len(values) - span + 1), cfg.window, cfg.horizon)

    model = WindowForecaster(cfg.hidden_size, cfg.horizon)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(x_train))
        total = 0.0
        for batch in order.split(cfg.batch_size):
            loss = nn.functional.mse_loss(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += loss.item() * len(batch)
        schedule.step()
        if verbose and (epoch % 5 == 4 or epoch == cfg.epochs - 1):
            print(f"epoch {epoch + 1:3d}/{cfg.epochs}  train MSE (scaled) {total / len(x_train):.4f}")
    seconds = time.perf_counter() - start

    model.eval()
    with torch.no_grad():
        prediction = model(x_val).numpy() * std + mean
    actual = y_val.numpy() * std + mean
    naive = np.repeat(x_val[:, -1:].numpy() * std + mean, cfg.horizon, axis=1)
    result = {
        "lstm_mae": float(np.abs(prediction - actual).mean()),
        "naive_mae": float(np.abs(naive - actual).mean()),
        "seconds": seconds,
    }
    if verbose:
        print(
            f"\nSunspots, monthly: {len(values)} values, last {len(values) - split} months held out; "
            f"{len(x_val)} forecast origins, horizon {cfg.horizon} months"
        )
        print(f"{'method':<22}{'validation MAE':>16}")
        print(f"{'LSTM (rnnkit)':<22}{result['lstm_mae']:>16.2f}")
        print(f"{'naive (last value)':<22}{result['naive_mae']:>16.2f}")
        print(f"training took {seconds:.1f} s")
    return result
