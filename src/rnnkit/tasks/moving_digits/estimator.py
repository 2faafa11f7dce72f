"""``FramePredictor``: next-frame prediction of frame sequences with a ConvLSTM (or ConvGRU) stack.

Model: :class:`rnnkit.models.NextFramePredictor`, ``Recurrent(cell, 1, hidden, num_layers,
kernel_size)`` over the frames with its spatial state, then a 1x1 convolution to one logit per
pixel; trained by :class:`rnnkit.Trainer` (Adam, gradient-norm clipping) with per-pixel binary
cross-entropy to predict frame ``t + 1`` from frames ``1..t`` (teacher forcing).

:meth:`FramePredictor.evaluate` reports, on held-out sequences and beside two baselines computed on
the same frames, the per-pixel MSE of the one-step predictions (baselines: copy the last frame; a
blank frame) and of a closed-loop rollout that sees ``context`` frames and then feeds its own
predictions back through ``Recurrent.step`` (baselines: keep showing the last context frame; a
blank frame).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from rnnkit.models.next_frame import NextFramePredictor
from rnnkit.serialization import SerializationError, load_state_dict_checked
from rnnkit.tasks.framework.estimator import Estimator


def _check_frames(name: str, frames: Any) -> Tensor:
    if not isinstance(frames, Tensor) or frames.dim() != 5 or frames.shape[2] != 1:
        shape = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
        raise ValueError(f"{name}: expected a tensor of frames (sequences, frames, 1, height, width), got {shape}")
    return frames.float()


class FramePredictor(Estimator):
    """Next-frame prediction of frame sequences, in the scikit-learn style.

    Args:
        cell: ``"convlstm"`` or ``"convgru"``.
        hidden_size: state channels per layer.
        num_layers: stacked layers.
        kernel_size: odd convolution kernel of the cells.
        steps: optimiser steps.
        batch_size: sequences per step.
        lr: Adam learning rate.
        clip_grad_norm: gradient-norm clipping.
        seed: initial weights and batch order.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        progress: show the Trainer's progress bar.

    Example:
        >>> frames = torch.rand(8, 4, 1, 8, 8)
        >>> model = FramePredictor(hidden_size=2, num_layers=1, steps=2, batch_size=4).fit(frames)
        >>> model.rollout(frames[:2, :2], 2).shape
        torch.Size([2, 2, 1, 8, 8])
    """

    app_name = "moving-digits"

    def __init__(self, *, cell: str = "convlstm", hidden_size: int = 16, num_layers: int = 2, kernel_size: int = 3,
                 steps: int = 800, batch_size: int = 16, lr: float = 2e-3, clip_grad_norm: float = 1.0,
                 seed: int = 0, device: str = "cpu", progress: bool = False) -> None:
        self._settings = {"cell": cell, "hidden_size": hidden_size, "num_layers": num_layers,
                          "kernel_size": kernel_size, "steps": steps, "batch_size": batch_size, "lr": lr,
                          "clip_grad_norm": clip_grad_norm, "seed": seed, "device": device, "progress": progress}
        self.network_: NextFramePredictor | None = None
        self.training_log_: list[dict[str, float]] = []
        self.fit_seconds_: float = 0.0
        #: Trainer callbacks added to every fit (the tuner's pruning callback, for example).
        self.extra_callbacks: list[Any] = []

    def _build(self) -> NextFramePredictor:
        s = self._settings
        return NextFramePredictor(s["cell"], s["hidden_size"], s["num_layers"], s["kernel_size"])

    # ------------------------------------------------------------------ fit
    def fit(self, frames: Tensor, val_frames: Tensor | None = None) -> FramePredictor:
        """Train on ``frames`` ``(S, T, 1, H, W)`` (values in [0, 1]) through :class:`rnnkit.Trainer`.

        Args:
            frames: training sequences.
            val_frames: sequences validated on at each epoch's end (optional; logged only).

        Returns:
            ``self``, fitted.
        """
        from rnnkit.training import Trainer, seed_everything

        frames = _check_frames("frames", frames)
        s = self._settings
        seed_everything(s["seed"])  # the initial weights depend on the seed too
        self.network_ = self._build()
        val = TensorDataset(_check_frames("val_frames", val_frames)) if val_frames is not None else None
        trainer = Trainer(max_epochs=None, max_steps=s["steps"], batch_size=s["batch_size"], optimizer="adam",
                          lr=s["lr"], clip_grad_norm=s["clip_grad_norm"], seed=s["seed"], device=s["device"],
                          progress_bar=s["progress"], plot=False, callbacks=list(self.extra_callbacks))
        start = time.perf_counter()
        result = trainer.fit(self.network_, TensorDataset(frames), val)
        self.fit_seconds_ = time.perf_counter() - start
        self.network_.cpu().eval()
        self.training_log_ = [{k: float(v) for k, v in row.items() if isinstance(v, (int, float))}
                              for row in result.history]
        return self

    def _check_fitted(self) -> NextFramePredictor:
        if self.network_ is None:
            raise RuntimeError("FramePredictor: call fit() (or rnnkit.load) first")
        return self.network_

    # -------------------------------------------------------------- predict
    @torch.no_grad()
    def predict(self, frames: Tensor) -> Tensor:
        """Probabilities of the frame after each frame: ``(S, T, 1, H, W) -> (S, T, 1, H, W)``."""
        network = self._check_fitted().eval()
        logits, _ = network(_check_frames("frames", frames))
        return torch.sigmoid(logits)

    def rollout(self, context: Tensor, horizon: int) -> Tensor:
        """Probabilities of ``horizon`` frames after ``context`` ``(S, Tc, 1, H, W)``, each fed back as input."""
        if not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon: expected a positive integer, got {horizon!r}")
        network = self._check_fitted().eval()
        return network.rollout(_check_frames("context", context), horizon)

    # ------------------------------------------------------------- evaluate
    @torch.no_grad()
    def evaluate(self, frames: Tensor, context: int = 5) -> dict[str, float]:
        """Per-pixel MSE (and BCE) of one-step and rolled-out predictions, with baselines on the same frames.

        Args:
            frames: held-out sequences ``(S, T, 1, H, W)``.
            context: frames given before the rollout (``1 <= context < T``).

        Returns:
            ``one_step_bce``, ``one_step_mse``, ``copy_last_frame_mse``, ``blank_frame_mse``,
            ``rollout_mse``, ``rollout_copy_last_context_frame_mse``, ``rollout_blank_frame_mse``.
        """
        test = _check_frames("frames", frames)
        if not 1 <= context < test.shape[1]:
            raise ValueError(f"context: expected 1 <= context < {test.shape[1]} (the frames), got {context}")
        network = self._check_fitted().eval()
        logits, _ = network(test[:, :-1])
        target = test[:, 1:]
        one_step = torch.sigmoid(logits)
        rolled = network.rollout(test[:, :context], test.shape[1] - context)
        future = test[:, context:]
        last_context = test[:, context - 1 : context].expand_as(future)
        return {
            "one_step_bce": F.binary_cross_entropy_with_logits(logits, target).item(),
            "one_step_mse": F.mse_loss(one_step, target).item(),
            "copy_last_frame_mse": F.mse_loss(test[:, :-1], target).item(),
            "blank_frame_mse": target.pow(2).mean().item(),
            "rollout_mse": F.mse_loss(rolled, future).item(),
            "rollout_copy_last_context_frame_mse": F.mse_loss(last_context, future).item(),
            "rollout_blank_frame_mse": future.pow(2).mean().item(),
        }

    # ----------------------------------------------------------- save / load
    def get_config(self) -> dict[str, Any]:
        return dict(self._settings)

    def json_state(self) -> dict[str, Any]:
        self._check_fitted()
        return {"training_log": self.training_log_, "fit_seconds": self.fit_seconds_}

    def load_json_state(self, state: dict[str, Any]) -> None:
        unknown = set(state) - {"training_log", "fit_seconds"}
        if unknown:
            raise SerializationError(f"FramePredictor: unexpected JSON state keys {sorted(unknown)}")
        self.training_log_ = list(state.get("training_log", []))
        self.fit_seconds_ = float(state.get("fit_seconds", 0.0))

    def tensor_state(self) -> dict[str, Tensor]:
        return dict(self._check_fitted().state_dict())

    def load_tensor_state(self, tensors: dict[str, Tensor]) -> None:
        self.network_ = self._build()
        load_state_dict_checked(self.network_, tensors, what="FramePredictor network")
        self.network_.eval()


__all__ = ["FramePredictor"]
