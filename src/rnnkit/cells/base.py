"""The cell contract: one time step of a recurrent network and the layout of its state.

A cell knows nothing about time, direction, lengths or layers; :class:`rnnkit.Recurrent`
and the backends handle those. Writing a new cell means subclassing :class:`RecurrentCell`
and implementing :meth:`~RecurrentCell.project_input`, :meth:`~RecurrentCell.step` and
:meth:`~RecurrentCell.state_shapes` (plus :attr:`~RecurrentCell.output_size` when the output
is not ``hidden_size`` wide).

Two optional extensions of the contract:

* spatial cells (``ConvLSTMCell``) set :attr:`~RecurrentCell.num_feature_axes` to 3, take steps
  ``(B, C, H, W)`` and override :meth:`~RecurrentCell.state_shapes_for`, whose state shape depends
  on the input's spatial size;
* cells whose recurrence is linear in the state subclass
  :class:`rnnkit.cells.linear.LinearRecurrentCell`, so the parallel scan can run them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Union

import torch
from torch import Tensor, nn

from rnnkit.checks import check_positive_int

#: A cell's state: one tensor (Elman, GRU) or a NamedTuple of tensors (LSTM's ``(h, c)``).
#: Every tensor has the batch as its first dimension.
State = Union[Tensor, tuple[Tensor, ...]]


class LSTMState(NamedTuple):
    """State of an LSTM: hidden (output) vector ``h`` and memory cell ``c``."""

    h: Tensor
    c: Tensor


def map_state(fn: Callable[..., Tensor], *states: State) -> State:
    """Apply ``fn`` to the matching tensors of one or more states of the same layout.

    Args:
        fn: function of as many tensors as there are states.
        *states: states with the same structure (a tensor, or tuples of equal type).

    Returns:
        A state of the same structure (and NamedTuple type) holding ``fn``'s results.

    Example:
        >>> s = LSTMState(torch.ones(2, 3), torch.zeros(2, 3))
        >>> map_state(lambda t: 2 * t, s).h.sum().item()
        12.0
    """
    first = states[0]
    if isinstance(first, Tensor):
        return fn(*states)
    values = [fn(*parts) for parts in zip(*states, strict=True)]
    return type(first)(*values) if hasattr(first, "_fields") else tuple(values)


def state_tensors(state: State) -> tuple[Tensor, ...]:
    """The tensors of a state as a plain tuple (one element for a single-tensor state)."""
    return (state,) if isinstance(state, Tensor) else tuple(state)


class RecurrentCell(nn.Module):
    r"""Base class of every recurrent cell: one time step and its state.

    A subclass declares its parameters in ``__init__`` and implements:

    * :meth:`project_input` — the part of the step that depends only on the input,
      applied to all time steps at once (one large matrix product);
    * :meth:`step` — ``(projected_x_t, state) -> (output_t, new_state)``;
    * :meth:`state_shapes` — per-example shape of each state tensor (with the
      NamedTuple type, if any, in :attr:`state_type`).

    Args:
        input_size: features per time step of the input, ``I``.
        hidden_size: width of the recurrent state, ``H``.

    Example:
        A cell that keeps an exponential moving average of a linear map of its input::

            class EMACell(RecurrentCell):
                def __init__(self, input_size, hidden_size, *, decay=0.9):
                    super().__init__(input_size, hidden_size)
                    self.decay = decay
                    self.proj = nn.Linear(input_size, hidden_size)

                def project_input(self, x):
                    return self.proj(x)

                def step(self, px, state):
                    h = self.decay * state + (1 - self.decay) * px
                    return h, h

            layer = rnnkit.Recurrent(EMACell, 3, 5)
    """

    #: NamedTuple class for multi-tensor states (``None``: the state is one tensor).
    state_type: type | None = None
    #: Axes of one example's input step: 1 for vectors ``(I,)``, 3 for images ``(C, H, W)``.
    #: ``input_size`` is always the size of the first of them (features or channels).
    num_feature_axes: int = 1
    #: How many leading state tensors zoneout may mix with their previous values (``None``: all).
    #: Zoneout also needs the step's output to be the first state tensor; a cell whose output is a
    #: read-out of the state (``LRUCell``) sets 0, and sLSTM sets 1 (its ``c, n`` are stored rescaled).
    zoneout_tensors: int | None = None

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            check_positive_int(name, value)
        self.input_size = input_size
        self.hidden_size = hidden_size

    @property
    def output_size(self) -> int:
        """Features of each output step (``hidden_size`` unless the cell projects)."""
        return self.hidden_size

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Per-example shape of each state tensor, in state order (default ``((H,),)``)."""
        return ((self.hidden_size,),)

    def state_shapes_for(self, spatial: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
        """Per-example state shapes for inputs of spatial size ``spatial`` (``()`` for vector inputs).

        Vector cells ignore ``spatial`` and return :meth:`state_shapes`; spatial cells override this.
        """
        return self.state_shapes()

    def initial_state(
        self,
        batch_size: int,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        spatial: tuple[int, ...] = (),
    ) -> State:
        """A zero state for ``batch_size`` examples (of spatial size ``spatial`` for spatial cells)."""
        shapes = self.state_shapes_for(tuple(spatial))
        zeros = [torch.zeros(batch_size, *shape, dtype=dtype, device=device) for shape in shapes]
        if self.state_type is None:
            if len(zeros) != 1:
                raise TypeError(f"{type(self).__name__} has {len(zeros)} state tensors but no state_type")
            return zeros[0]
        return self.state_type(*zeros)

    def project_input(self, x: Tensor) -> Tensor:
        """Input-only part of the step for any number of leading dimensions: ``(..., I) -> (..., P)``."""
        raise NotImplementedError

    def step(self, projected_x: Tensor, state: State) -> tuple[Tensor, State]:
        """Advance one time step: ``(B, P)`` projected input and state -> ``(B, output_size)`` and new state."""
        raise NotImplementedError

    def kernel_spec(self):
        """The compiled kernel family this cell's step belongs to (``rnnkit.cells.kernel.KernelSpec``), or ``None``.

        Override it, in the same class as :meth:`step`, to run whole sequences of the cell on the
        ``fused`` backend (compiled time loop, hand-written backward); see :mod:`rnnkit.cells.kernel`.
        """
        return None

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One step from a raw input ``x`` of shape ``(B, I)`` (``(B, C, H, W)`` for spatial cells);
        ``state`` defaults to zeros."""
        if state is None:
            spatial = tuple(x.shape[2:])
            state = self.initial_state(x.shape[0], dtype=x.dtype, device=x.device, spatial=spatial)
        return self.step(self.project_input(x), state)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"
