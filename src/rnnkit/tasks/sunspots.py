"""``sunspots``: direct multi-horizon forecasting of the embedded monthly sunspot series.

Windows of ``window`` months predict the next ``horizon`` months at once. The series is scaled
with the training part's mean and deviation (kept in the model as buffers, so the saved model
reports errors in sunspot units); validation targets lie wholly in the last ``val_fraction``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from rnnkit.data import load_sunspots
from rnnkit.layers import Recurrent
from rnnkit.serialization import Saveable
from rnnkit.tasks import TaskSetup, register_task


class WindowForecaster(nn.Module, Saveable):
    """Recurrent encoder over a window, then a linear head emitting all ``horizon`` values.

    Batches are ``(x, y)``: ``x`` ``(B, window)`` and ``y`` ``(B, horizon)``, both scaled.
    ``validation_step`` also reports ``mae`` in the series' own units.
    """

    def __init__(self, horizon: int = 12, *, cell: str = "lstm", hidden_size: int = 48, num_layers: int = 1) -> None:
        super().__init__()
        self._config = {"horizon": horizon, "cell": cell, "hidden_size": hidden_size, "num_layers": num_layers}
        self.encoder = Recurrent(cell, 1, hidden_size, num_layers=num_layers)
        self.head = nn.Linear(hidden_size, horizon)
        self.register_buffer("scale", torch.tensor([0.0, 1.0]))  # mean, standard deviation

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.encoder(x.unsqueeze(-1))
        return self.head(out[:, -1])

    def training_step(self, batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        return F.mse_loss(self(x), y)

    def validation_step(self, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        x, y = batch
        prediction = self(x)
        return {"loss": F.mse_loss(prediction, y), "mae": (prediction - y).abs().mean() * self.scale[1]}

    def predict_step(self, batch: Any) -> Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(x) * self.scale[1] + self.scale[0]


@dataclass
class SunspotsConfig:
    """Settings of the ``sunspots`` task."""

    window: int = 120
    horizon: int = 12
    cell: str = "lstm"
    hidden_size: int = 48
    num_layers: int = 1
    val_fraction: float = 0.2


def _windows(series: np.ndarray, starts: range, window: int, horizon: int) -> TensorDataset:
    x = np.stack([series[s : s + window] for s in starts])
    y = np.stack([series[s + window : s + window + horizon] for s in starts])
    return TensorDataset(torch.from_numpy(x).float(), torch.from_numpy(y).float())


@register_task("sunspots", SunspotsConfig, "forecast the monthly sunspot series (embedded data), direct multi-horizon")
def build_sunspots(config: SunspotsConfig, *, seed: int = 0) -> TaskSetup:
    """Model and windows of the ``sunspots`` task."""
    _, values = load_sunspots()
    split = int(len(values) * (1 - config.val_fraction))
    mean, std = float(values[:split].mean()), float(values[:split].std())
    scaled = (values - mean) / std
    span = config.window + config.horizon
    train = _windows(scaled, range(0, split - span + 1), config.window, config.horizon)
    val = _windows(scaled, range(split - config.window, len(values) - span + 1), config.window, config.horizon)
    model = WindowForecaster(config.horizon, cell=config.cell, hidden_size=config.hidden_size,
                             num_layers=config.num_layers)
    model.scale.copy_(torch.tensor([mean, std]))
    return TaskSetup(model=model, train_data=train, val_data=val)
