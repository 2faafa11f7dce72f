"""The model protocol every rnnkit task model follows, so one :class:`~rnnkit.Trainer` trains them all.

A model is an ``nn.Module`` with these methods (no base class is required; this ``Protocol`` is
for type checkers and documentation):

``training_step(batch) -> loss``
    ``loss`` is a scalar tensor, or a dict with a ``"loss"`` tensor plus extra scalars to log
    (``{"loss": l, "accuracy": a}``). A ``(loss, state)`` pair is accepted too (the state is
    ignored), so a TBPTT-capable model needs only one method. The batch is whatever the data
    yields, moved to the device: a tensor, a tuple/list or a dict of tensors (anything else is
    passed through unchanged).

``validation_step(batch) -> dict[str, Tensor | float]``
    Metrics of one batch. The Trainer averages each over batches weighted by the batch size
    (the first dimension of the batch's tensors) and prefixes them with ``val_``: the ``"loss"``
    entry becomes ``val_loss``.

``predict_step(batch) -> Tensor | Any`` (optional)
    Used by :meth:`Trainer.predict`; defaults to ``model(batch)`` when absent.

Truncated BPTT (``TrainerConfig.tbptt_steps``)
    The model takes and returns the recurrent state: ``training_step(batch, state=None) ->
    (loss, state)``; the Trainer calls it as ``training_step(chunk, state)``. ``state`` is
    ``None`` at the start of each sequence; the Trainer passes the returned state into the next
    chunk after detaching it (any nesting of tuples, lists, dicts and NamedTuples of tensors).
    Batches are split along time by :func:`rnnkit.training.batches.time_slice`: every tensor with
    at least two dimensions is sliced along dimension 1 (batch-first ``(B, T, ...)``), other
    values are passed whole. A model whose batch is laid out differently defines
    ``time_slice(batch, start, stop)`` and ``sequence_length(batch)`` itself. A model's loss for
    a chunk should be a mean over that chunk's time steps, so chunk losses are comparable.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class TrainableModel(Protocol):
    """What :class:`rnnkit.Trainer` needs from a model (see the module docstring)."""

    def training_step(self, batch: Any) -> Tensor | dict[str, Tensor]: ...

    def validation_step(self, batch: Any) -> dict[str, Tensor | float]: ...


def requires_state(model: Any) -> bool:
    """Whether ``model.training_step`` has a second positional parameter without a default."""
    import inspect

    try:
        parameters = list(inspect.signature(model.training_step).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 and positional[1].default is inspect.Parameter.empty


def check_trainable(model: Any, *, tbptt: bool) -> None:
    """Raise ``TypeError`` naming what is missing for the Trainer to drive ``model``."""
    missing = [name for name in ("training_step", "parameters") if not callable(getattr(model, name, None))]
    if missing:
        raise TypeError(
            f"model: expected an nn.Module with training_step(batch) and validation_step(batch) "
            f"(rnnkit.training.TrainableModel), got {type(model).__name__} without {', '.join(missing)}"
        )
    if tbptt:
        import inspect

        try:
            parameters = inspect.signature(model.training_step).parameters
        except (TypeError, ValueError):
            return
        if len(parameters) < 2 and not any(p.kind == p.VAR_POSITIONAL for p in parameters.values()):
            raise TypeError(
                f"model: tbptt_steps is set, so {type(model).__name__}.training_step must take "
                "(batch, state) and return (loss, state); it takes only (batch)"
            )
