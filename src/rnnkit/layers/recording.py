"""Recording every layer's per-step outputs of :class:`~rnnkit.layers.recurrent.Recurrent` (diagnostics)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from torch import Tensor, nn

if TYPE_CHECKING:
    from rnnkit.layers.recurrent import Recurrent


class StepRecord:
    """Per-step outputs of one ``Recurrent`` call, captured by :func:`recording_steps`.

    Attributes:
        layer: the ``Recurrent`` module that ran.
        steps: ``steps[cell][t]`` is the output ``(B, O)`` of cell ``layer * D + direction`` at
            time ``t`` (for the backward direction, ``t`` counts from the sequence's start when all
            sequences are full length; with ``lengths`` it is the ``t``-th step read).
    """

    def __init__(self, layer: Recurrent, steps: list[list[Tensor]]) -> None:
        self.layer = layer
        self.steps = steps

    def labels(self) -> list[str]:
        """One label per cell: ``"layer 0"``, or ``"layer 0 forward"`` / ``"layer 0 backward"``."""
        if not self.layer.bidirectional:
            return [f"layer {k}" for k in range(self.layer.num_layers)]
        return [f"layer {k} {d}" for k in range(self.layer.num_layers) for d in ("forward", "backward")]


@contextmanager
def recording_steps(module: nn.Module) -> Iterator[list[StepRecord]]:
    """Record every layer's per-step outputs of each :class:`Recurrent` inside ``module``.

    Within the block those layers run on the reference loop (the same function as the fused
    kernel, which exposes only the last layer's outputs) and append a :class:`StepRecord` per call
    to the yielded list. Outside the block nothing changes and nothing is slowed.

    Example:
        >>> layer = Recurrent("lstm", 2, 8, num_layers=2)
        >>> with recording_steps(layer) as records:
        ...     out, _ = layer(torch.randn(3, 5, 2))
        >>> len(records[0].steps), len(records[0].steps[0])   # 2 layers, 5 steps
        (2, 5)
    """
    from rnnkit.layers.recurrent import Recurrent

    layers = [m for m in module.modules() if isinstance(m, Recurrent)]
    records: list[StepRecord] = []
    for layer in layers:
        layer._step_records = records
    try:
        yield records
    finally:
        for layer in layers:
            layer._step_records = None
