"""How a cell's step maps onto one of the compiled kernel families (the ``fused`` backend).

A cell opts in by returning a :class:`KernelSpec` from ``kernel_spec()``: it declares that its
step is, with these tensors, one of the families below, and the fused backend then runs whole
sequences of it in compiled code with a hand-written backward (``rnnkit.backends.fused``). Its
``project_input`` stays free (it runs in PyTorch, with autograd). The declaration binds only the
class that makes it: a subclass that overrides ``step`` without declaring again is not fused
(:func:`declared_kernel`), so a changed step can never be replaced silently by a kernel.

Families (``P`` is the projected input of the step, ``h`` the recurrent input):

* ``"lstm"``: gates ``(i, f, g, o) = P + W h`` (or ``P + norm_hh * LN(W h)``), ``c' = s(f) c + s(i) tanh(g)``,
  ``h' = s(o) tanh(c')`` (or ``s(o) tanh(LN(c'; norm_cell))``).
* ``"gru"``: ``hid = W h + b_hh`` (or ``norm_hh * LN(W h) + b_hh``), ``r = s(P_r + hid_r)``,
  ``z = s(P_z + hid_z)``, ``n = tanh(P_n + r hid_n)``, ``h' = n + z (h - n)``.
* ``"elman"``: ``h' = phi(P + W h)``; ``"indrnn"``: ``h' = phi(P + u * h)`` with ``u`` a vector.
* ``"mingru"``, ``"minlstm"``: the linear recurrences of :mod:`rnnkit.cells.mingru`, with their gate
  arithmetic computed inside the compiled scan (no recurrent weight); the ``scan`` backend runs them.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

KERNEL_FAMILIES = ("lstm", "gru", "elman", "indrnn", "mingru", "minlstm")
#: Families whose recurrence is linear in the state: run by the scan backend, not the fused one.
LINEAR_FAMILIES = ("mingru", "minlstm")


class KernelSpec(NamedTuple):
    """A cell's step as one compiled kernel family, with the tensors it reads (see the module docstring).

    Attributes:
        family: one of :data:`KERNEL_FAMILIES`.
        weight_hh: recurrent weight, ``(G * H, H)`` (``(H,)`` for ``indrnn``; ``None`` for the linear families).
        bias_hh: ``"gru"`` only: the recurrent bias inside the reset gate's product, ``(3H,)``.
        norm_hh: layer-norm weight over all recurrent pre-activations (``(G * H,)``), or ``None``.
        norm_cell: ``"lstm"`` only: ``(weight, bias)`` of the layer norm of ``c``, or ``None``.
        eps: the layer norms' epsilon.
        nonlinearity: ``"tanh"`` or ``"relu"`` (``"elman"``, ``"indrnn"``).
    """

    family: str
    weight_hh: Tensor | None = None
    bias_hh: Tensor | None = None
    norm_hh: Tensor | None = None
    norm_cell: tuple[Tensor, Tensor] | None = None
    eps: float = 1e-5
    nonlinearity: str = "tanh"


def _owner(cls: type, attribute: str) -> type | None:
    return next((klass for klass in cls.__mro__ if attribute in vars(klass)), None)


def kernel_declared(cls: type) -> bool:
    """Whether the class that defines ``cls``'s ``step`` (or a subclass of it) defines ``kernel_spec``."""
    step_owner, spec_owner = _owner(cls, "step"), _owner(cls, "kernel_spec")
    return spec_owner is not None and step_owner is not None and issubclass(spec_owner, step_owner)


def declared_kernel(cell) -> KernelSpec | None:
    """The cell's :class:`KernelSpec` if the class that defines its ``step`` also declares it, else ``None``.

    Example:
        >>> declared_kernel(LSTMCell(2, 3)).family
        'lstm'
        >>> class Doubled(LSTMCell):
        ...     def step(self, px, state): ...
        >>> declared_kernel(Doubled(2, 3)) is None      # a new step needs a new declaration
        True
    """
    if not kernel_declared(type(cell)):
        return None
    spec = cell.kernel_spec()
    if spec is not None and spec.family not in KERNEL_FAMILIES:
        raise ValueError(
            f"{type(cell).__name__}.kernel_spec(): family must be one of {KERNEL_FAMILIES}, got {spec.family!r}"
        )
    return spec
