"""Parameter initialisation shared by the cells in this folder."""

from __future__ import annotations

import math

from torch import nn


def uniform_like_torch(module: nn.Module, hidden_size: int) -> None:
    """Initialise every parameter from U(-1/sqrt(H), 1/sqrt(H)), as ``torch.nn.RNN/LSTM/GRU`` do."""
    bound = 1.0 / math.sqrt(hidden_size)
    for weight in module.parameters():
        nn.init.uniform_(weight, -bound, bound)
