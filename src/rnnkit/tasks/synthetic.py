"""Synthetic sequence tasks with known answers, and a small recurrent regressor that trains on them.

``recall``: each input is ``T`` steps of uniform noise in ``[-1, 1]``; the target is the *first*
value, read out after the last step. Solving it needs the gradient to travel all ``T`` steps
back, which is what separates an Elman RNN from an LSTM (Hochreiter & Schmidhuber 1997).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from rnnkit.layers import Recurrent
from rnnkit.serialization import Saveable
from rnnkit.tasks import TaskSetup, register_task


class RecurrentRegressor(nn.Module, Saveable):
    """A ``Recurrent`` stack and a linear head: a target per sequence or per time step.

    Follows the :class:`~rnnkit.training.TrainableModel` protocol, including truncated BPTT
    (``training_step(batch, state)`` returns ``(loss, state)``).

    Args:
        cell: cell name (``"lstm"``, ``"gru"``, ``"elman"``).
        input_size, hidden_size, output_size: feature sizes.
        num_layers: stacked recurrent layers.
        per_step: predict a target at every step ``(B, T, O)`` (else one per sequence ``(B, O)``
            from the last step).
        dropout: dropout between recurrent layers.

    Batches are ``(x, y)`` with ``x`` ``(B, T, input_size)``.

    Example:
        >>> model = RecurrentRegressor("lstm", 1, 32, 1)
        >>> loss = model.training_step((torch.randn(8, 20, 1), torch.randn(8, 1)))
    """

    def __init__(self, cell: str = "lstm", input_size: int = 1, hidden_size: int = 32, output_size: int = 1, *,
                 num_layers: int = 1, per_step: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self._config = {"cell": cell, "input_size": input_size, "hidden_size": hidden_size,
                        "output_size": output_size, "num_layers": num_layers, "per_step": per_step,
                        "dropout": dropout}
        self.per_step = per_step
        self.rnn = Recurrent(cell, input_size, hidden_size, num_layers=num_layers, dropout=dropout)
        self.head = nn.Linear(self.rnn.output_size, output_size)

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        out, state = self.rnn(x, state)
        return self.head(out if self.per_step else out[:, -1]), state

    def training_step(self, batch: tuple[Tensor, Tensor], state: Any = None) -> tuple[Tensor, Any]:
        x, y = batch
        prediction, state = self(x, state)
        return F.mse_loss(prediction, y), state

    def validation_step(self, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        x, y = batch
        prediction, _ = self(x)
        return {"loss": F.mse_loss(prediction, y), "mae": (prediction - y).abs().mean()}

    def predict_step(self, batch: Any) -> Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(x)[0]


def make_recall_data(n: int, steps: int, *, seed: int = 0) -> TensorDataset:
    """``n`` sequences of ``steps`` uniform values in [-1, 1]; the target is each one's first value."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, steps, 1, generator=generator) * 2 - 1
    return TensorDataset(x, x[:, 0].clone())


@dataclass
class RecallConfig:
    """Settings of the ``recall`` task."""

    cell: str = "lstm"
    steps: int = 50
    hidden_size: int = 32
    num_layers: int = 1
    train_size: int = 2048
    val_size: int = 256


@register_task("recall", RecallConfig, "synthetic: recall the first of T noise values (long-range memory)")
def build_recall(config: RecallConfig, *, seed: int = 0) -> TaskSetup:
    """Model and data of the ``recall`` task."""
    model = RecurrentRegressor(config.cell, 1, config.hidden_size, 1, num_layers=config.num_layers)
    return TaskSetup(
        model=model,
        train_data=make_recall_data(config.train_size, config.steps, seed=seed),
        val_data=make_recall_data(config.val_size, config.steps, seed=seed + 1),
    )
