"""A recurrent stack and a linear head: a regression target per sequence or per time step.

The network behind the synthetic ``recall`` task (:mod:`rnnkit.tasks.synthetic`) and the training
tests; it follows the :class:`~rnnkit.training.TrainableModel` protocol, truncated BPTT included.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.layers import Recurrent
from rnnkit.serialization import Saveable


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
        >>> import torch
        >>> model = RecurrentRegressor("lstm", 1, 32, 1)
        >>> loss, state = model.training_step((torch.randn(8, 20, 1), torch.randn(8, 1)))
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


__all__ = ["RecurrentRegressor"]
