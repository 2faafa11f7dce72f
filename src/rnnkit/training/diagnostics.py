"""Gradient-flow diagnostics: how strongly the loss reaches back to each time step of each layer.

For every :class:`~rnnkit.Recurrent` inside a model, :func:`gradient_flow` measures
``‖∂L/∂h_t‖`` — the total derivative of the loss with respect to the hidden output of each layer
at each time step, through the recurrence and through the layers above. A vanishing gradient
shows as a norm that falls by orders of magnitude from the last step back to the first
(Bengio, Simard & Frasconi 1994; Hochreiter & Schmidhuber 1997).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.layers.recurrent import recording_steps
from rnnkit.training.protocol import requires_state


@dataclass
class GradientFlow:
    """Per-step gradient norms of every recurrent layer.

    Attributes:
        norms: ``(cells, T)``: for each layer (and direction) the mean over examples of
            ``‖∂L/∂h_t‖₂``, ``t = 0 … T-1``.
        labels: one name per row, e.g. ``"encoder layer 0"``.
        loss: the loss value the gradients were taken of.
    """

    norms: Tensor
    labels: list[str]
    loss: float

    def decay(self) -> list[float]:
        """``norm[t = 0] / norm[t = T-1]`` per row: far below 1 means the gradient vanishes across time."""
        return [float(row[0] / row[-1]) if row[-1] > 0 else math.nan for row in self.norms]

    def summary(self) -> str:
        """A small text table: norm at the first, middle and last step, and their ratio."""
        steps = self.norms.shape[1]
        lines = [f"{'layer':<24}{'t=0':>11}{f't={steps // 2}':>11}{f't={steps - 1}':>11}{'first/last':>12}"]
        for label, row, ratio in zip(self.labels, self.norms, self.decay(), strict=True):
            lines.append(f"{label:<24}{row[0]:>11.3e}{row[steps // 2]:>11.3e}{row[-1]:>11.3e}{ratio:>12.2e}")
        return "\n".join(lines)

    def plot(self, path: str | Path, *, title: str | None = None) -> Path:
        """Write a PNG of the norms against time (log scale); see :func:`plot_gradient_flow`."""
        return plot_gradient_flow(self, path, title=title)


def gradient_flow(model: nn.Module, batch: Any) -> GradientFlow:
    """Norms of ``∂loss/∂h_t`` for every time step and layer of the model's recurrent layers.

    The model runs ``training_step(batch)`` (``training_step(batch, None)`` when its state
    argument has no default) once, in its current train/eval mode, with its :class:`~rnnkit.Recurrent` layers on the
    reference loop so that each step's hidden output is a node of the graph (same function as the
    fused kernel). Parameters' ``.grad`` are not touched.

    Args:
        model: a model following :class:`~rnnkit.training.TrainableModel`, containing at least
            one :class:`~rnnkit.Recurrent` (``Recurrent.from_torch`` converts a ``torch.nn`` RNN).
        batch: one batch, on the model's device.

    Returns:
        A :class:`GradientFlow`.

    Example:
        >>> flow = rnnkit.diagnostics.gradient_flow(model, batch)
        >>> print(flow.summary())
        >>> flow.plot("gradient_flow.png")
    """
    names = {id(module): name for name, module in model.named_modules()}
    with recording_steps(model) as records:
        out = model.training_step(batch, None) if requires_state(model) else model.training_step(batch)
        if isinstance(out, tuple) and len(out) == 2:
            out = out[0]
    loss = out["loss"] if isinstance(out, dict) else out
    if not records:
        raise ValueError(
            f"model: {type(model).__name__} ran no rnnkit.Recurrent layer in training_step, so there are no "
            "per-step hidden states to measure (convert torch.nn RNNs with rnnkit.Recurrent.from_torch)"
        )
    tensors = [t for record in records for cell in record.steps for t in cell]
    grads = torch.autograd.grad(loss, tensors, allow_unused=True)
    rows, labels, index = [], [], 0
    for call, record in enumerate(records):
        prefix = names.get(id(record.layer), "") or "recurrent"
        if sum(r.layer is record.layer for r in records) > 1:
            prefix += f" call {call}"
        for label, cell in zip(record.labels(), record.steps, strict=True):
            norms = []
            for _step in cell:
                grad = grads[index]
                index += 1
                norms.append(0.0 if grad is None else float(grad.flatten(1).norm(dim=1).mean()))
            rows.append(norms)
            labels.append(f"{prefix} {label}")
    width = max(len(r) for r in rows)
    norms = torch.tensor([r + [math.nan] * (width - len(r)) for r in rows], dtype=torch.float64)
    return GradientFlow(norms=norms, labels=labels, loss=float(loss.detach()))


def plot_gradient_flow(flows: GradientFlow | dict[str, GradientFlow], path: str | Path, *,
                       title: str | None = None) -> Path:
    """Plot ``‖∂L/∂h_t‖`` against ``t`` on a log scale, one line per layer (and per model if a dict).

    Args:
        flows: one :class:`GradientFlow`, or ``{name: flow}`` to compare models on one figure.
        path: the PNG to write.
        title: figure title.
    """
    from rnnkit.plots import pyplot, save_figure

    plt = pyplot()
    if isinstance(flows, GradientFlow):
        flows = {"": flows}
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for name, flow in flows.items():
        for label, row in zip(flow.labels, flow.norms, strict=True):
            axis.semilogy(range(len(row)), row.clamp_min(1e-30).tolist(), label=f"{name} {label}".strip())
    axis.set_xlabel("time step t")
    axis.set_ylabel("mean ‖∂L/∂h_t‖")
    axis.set_title(title or "gradient flow through time")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    return save_figure(figure, path, dpi=100)
