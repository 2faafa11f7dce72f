"""One forward pass of training: the model's ``training_step`` over a batch or a TBPTT window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from torch import Tensor, nn

from rnnkit.training.batches import detach_state, sequence_length, time_slice

#: Marks a call without recurrent state (no TBPTT): ``training_step(batch)``.
NO_STATE = object()


class StepRunner(nn.Module):
    """Runs ``training_step`` inside ``forward`` so DistributedDataParallel sees (and syncs) it.

    ``forward(chunks, state)`` runs the model over consecutive chunks of a batch starting from
    ``state`` and returns the last chunk's output and the state after each chunk; without TBPTT it
    is called with one chunk and ``state=NO_STATE``.
    """

    def __init__(self, model: nn.Module, autocast: Callable[[], Any]) -> None:
        super().__init__()
        self.model = model
        self._autocast = autocast

    def forward(self, chunks: list[Any], state: Any) -> tuple[Any, list[Any]]:
        with self._autocast():
            if state is NO_STATE:
                out = self.model.training_step(chunks[0])
                return (out[0] if isinstance(out, tuple) and len(out) == 2 else out), []
            states = []
            for chunk in chunks:
                out = self.model.training_step(chunk, state)
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise TypeError(
                        f"training_step: with tbptt_steps set it must return (loss, state), got {type(out).__name__}"
                    )
                out, state = out
                states.append(state)
            return out, states


def loss_and_logs(out: Any, where: str) -> tuple[Tensor, dict[str, float]]:
    """Split a ``training_step`` result into the scalar loss and the extra values to log."""
    if isinstance(out, Tensor):
        loss, extras = out, {}
    elif isinstance(out, dict) and isinstance(out.get("loss"), Tensor):
        loss = out["loss"]
        extras = {k: float(v.detach() if isinstance(v, Tensor) else v) for k, v in out.items() if k != "loss"}
    else:
        raise TypeError(f"{where}: expected a scalar loss tensor or a dict with a 'loss' tensor, got {out!r:.80}")
    if loss.dim() != 0:
        raise ValueError(
            f"{where}: expected a scalar loss, got a tensor of shape {tuple(loss.shape)} (reduce it with .mean())"
        )
    return loss, extras


def tbptt_windows(model: nn.Module, batch: Any, k1: int, k2: int) -> Iterator[tuple[list[Any], Any, Callable]]:
    """Yield ``(chunks, start_state, sync)`` for each truncated-BPTT update over one batch.

    Williams & Peng (1990), BPTT(k2; k1): every ``k1`` steps, backpropagate through the last
    ``k2 = m * k1`` steps. Each window re-runs the ``m - 1`` previous chunks from the detached
    state at the window's start (for ``k2 = k1`` a window is one chunk, the classic truncation);
    the caller passes the state after each chunk to ``sync``, which moves the window on.

    Raises:
        ValueError: the batch cannot be split along time (see :func:`~rnnkit.training.batches.sequence_length`).
    """
    m = k2 // k1
    steps = getattr(model, "sequence_length", sequence_length)(batch)
    slicer = getattr(model, "time_slice", time_slice)
    warm: list[Any] = []
    start: dict[str, Any] = {"state": None}
    current: Any = None

    def sync(states: list[Any]) -> None:
        window = [*warm, current]
        if len(window) == m:  # the oldest chunk leaves the window; its end state starts the next one
            start["state"] = detach_state(states[0])
            window.pop(0)
        warm[:] = window

    for begin in range(0, steps, k1):
        current = slicer(batch, begin, min(begin + k1, steps))
        yield [*warm, current], start["state"], sync
