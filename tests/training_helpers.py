"""Small models and data shared by the training tests."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from rnnkit.models import RecurrentRegressor
from rnnkit.tasks.synthetic import make_recall_data


def recall_setup(n: int = 64, steps: int = 6, hidden: int = 8, cell: str = "lstm", seed: int = 0):
    torch.manual_seed(seed)
    model = RecurrentRegressor(cell, 1, hidden, 1)
    return model, make_recall_data(n, steps, seed=seed), make_recall_data(32, steps, seed=seed + 1)


class LinearModel(nn.Module):
    """y = w·x + b with an MSE loss: simple enough to check the Trainer's arithmetic by hand."""

    def __init__(self, features: int = 3) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 1)
        self.calls = 0
        self.nan_calls: set[int] = set()

    def training_step(self, batch):
        x, y = batch
        self.calls += 1
        loss = F.mse_loss(self.linear(x).squeeze(-1), y)
        if self.calls in self.nan_calls:
            loss = loss * float("nan")
        return {"loss": loss, "abs_error": (self.linear(x).squeeze(-1) - y).abs().mean()}

    def validation_step(self, batch):
        x, y = batch
        return {"loss": F.mse_loss(self.linear(x).squeeze(-1), y), "count_marker": float(len(x))}


def linear_data(n: int = 32, features: int = 3, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = x @ torch.tensor([1.0, -2.0, 0.5])[:features] + 0.1 * torch.randn(n, generator=generator)
    return TensorDataset(x, y)
