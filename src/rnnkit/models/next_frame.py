"""Next-frame prediction: a convolutional recurrent stack and a 1x1 convolution to per-pixel logits.

The network of the moving-digits application (:mod:`rnnkit.tasks.moving_digits`): trained with
per-pixel binary cross-entropy to predict frame ``t + 1`` from frames ``1..t`` (teacher forcing),
and rolled out closed-loop through ``Recurrent.step`` (each predicted frame fed back as input).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells import State
from rnnkit.layers import Recurrent
from rnnkit.serialization import Saveable


class NextFramePredictor(nn.Module, Saveable):
    """A convolutional recurrent stack and a 1x1 convolution to per-pixel logits.

    Follows the :class:`~rnnkit.training.TrainableModel` protocol: batches are frame sequences
    ``(B, T, 1, H, W)`` with values in ``[0, 1]`` (or a one-element tuple/list holding them); the
    loss is the binary cross-entropy of the logits after frames ``1..T-1`` against frames ``2..T``.

    Args:
        cell: ``"convlstm"`` or ``"convgru"`` (any spatial cell).
        hidden_size: state channels per layer.
        num_layers: stacked layers.
        kernel_size: odd kernel of every convolution in the cells.

    Example:
        >>> model = NextFramePredictor("convgru", 4, 1, 3)
        >>> frames = torch.rand(2, 5, 1, 8, 8)
        >>> model(frames)[0].shape
        torch.Size([2, 5, 1, 8, 8])
        >>> model.rollout(frames[:, :3], 2).shape
        torch.Size([2, 2, 1, 8, 8])
    """

    def __init__(self, cell: str = "convlstm", hidden_size: int = 16, num_layers: int = 2,
                 kernel_size: int = 3) -> None:
        super().__init__()
        self._config = {"cell": cell, "hidden_size": hidden_size, "num_layers": num_layers,
                        "kernel_size": kernel_size}
        self.recurrent = Recurrent(cell, 1, hidden_size, num_layers=num_layers, kernel_size=kernel_size)
        self.head = nn.Conv2d(hidden_size, 1, kernel_size=1)

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)

    def _logits(self, features: Tensor) -> Tensor:
        return self.head(features.flatten(0, -4)).view(*features.shape[:-3], 1, *features.shape[-2:])

    def forward(self, frames: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Logits of the next frame after each frame: ``(B, T, 1, H, W) -> (B, T, 1, H, W)``, and the state."""
        features, state = self.recurrent(frames, state)
        return self._logits(features), state

    @staticmethod
    def _frames(batch: Any) -> Tensor:
        return batch[0] if isinstance(batch, (tuple, list)) else batch

    def training_step(self, batch: Any) -> Tensor:
        """Per-pixel binary cross-entropy of the one-step predictions (teacher forcing)."""
        frames = self._frames(batch)
        logits, _ = self(frames[:, :-1])
        return F.binary_cross_entropy_with_logits(logits, frames[:, 1:])

    def validation_step(self, batch: Any) -> dict[str, Tensor]:
        """Binary cross-entropy (the loss) and per-pixel MSE of the one-step predictions."""
        frames = self._frames(batch)
        logits, _ = self(frames[:, :-1])
        target = frames[:, 1:]
        return {"loss": F.binary_cross_entropy_with_logits(logits, target),
                "mse": F.mse_loss(torch.sigmoid(logits), target)}

    @torch.no_grad()
    def rollout(self, context: Tensor, horizon: int) -> Tensor:
        """Probabilities of ``horizon`` frames after ``context`` ``(B, Tc, 1, H, W)``, each fed back as input."""
        logits, state = self(context)
        frame = torch.sigmoid(logits[:, -1])
        predicted = [frame]
        for _ in range(horizon - 1):
            features, state = self.recurrent.step(frame, state)
            frame = torch.sigmoid(self._logits(features))
            predicted.append(frame)
        return torch.stack(predicted, 1)


__all__ = ["NextFramePredictor"]
