"""Recurrent regularisers for any cell, composed into ``Recurrent(..., regularizers=[...])``.

* :class:`VariationalDropout` — one dropout mask per sequence on the recurrent input, reused at
  every step (Gal & Ghahramani 2016).
* :class:`Zoneout` — each unit keeps its previous state with probability ``p`` at each step
  (Krueger et al. 2017); at evaluation, the expectation.
* :class:`DropConnect` — a dropout mask on the recurrent weights, sampled once per forward
  (Wan et al. 2013; as the weight-dropped LSTM of Merity et al. 2018 and haste use it).

A regulariser acts in one of two ways: *per step* (:meth:`Regularizer.bind` returns a
:class:`StepHook` that changes the state before or after each step; only the ``loop`` backend
can run it), or *on the weights* (:meth:`Regularizer.sample_weights` returns replacement weights
for one forward; every backend runs with them, the fused kernels included). Masks are sampled
once per call: per sequence in ``forward``, per chunk when streaming in chunks, per step in
``Recurrent.step`` in training mode (streaming is usually inference, where all three are
deterministic).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.backends.fused import StepRegularization
from rnnkit.cells.base import RecurrentCell, State, state_tensors


def _check_probability(name: str, p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1), got {p!r}")
    return float(p)


def _replace_first(state: State, tensor: Tensor) -> State:
    if isinstance(state, Tensor):
        return tensor
    values = (tensor, *tuple(state)[1:])
    return type(state)(*values) if hasattr(state, "_fields") else values


class StepHook:
    """What a per-step regulariser does to one cell during one forward (masks already sampled)."""

    def kernel_terms(self, steps: int) -> dict:
        """The same action as arguments of the compiled kernels (``StepRegularization`` fields):
        ``{"var_mask": ...}`` or ``{"zoneout": ...}``; empty when it has none."""
        return {}

    def before(self, state: State) -> State:
        """The state the cell's step reads (default: unchanged)."""
        return state

    def after(self, old: State, new: State, output: Tensor) -> tuple[Tensor, State]:
        """Output and state kept after the step, from the state before it and the cell's result."""
        return output, new


class Regularizer:
    """Base class of the recurrent regularisers (see the module docstring for the two kinds)."""

    #: Whether its per-step hook has a kernel form (:meth:`StepHook.kernel_terms`), so the compiled
    #: kernels (``backend="fused"``) can run it.
    kernel_supported: bool = False

    def check(self, cell: RecurrentCell) -> None:
        """Raise ``ValueError`` if this regulariser cannot apply to ``cell`` (called at construction)."""

    def per_step_reason(self, training: bool) -> str | None:
        """A sentence saying what it does between steps, when it does (``None``: nothing per step)."""
        return None

    def backend_note(self, training: bool) -> str | None:
        """A sentence appended to ``layer.backend.reason`` while it is active, if any."""
        return None

    def bind(self, cell: RecurrentCell, state: State, training: bool) -> StepHook | None:
        """Sample this forward's masks for ``cell`` (``state``: its initial state, for shapes)."""
        return None

    def sample_weights(self, cell: RecurrentCell, training: bool) -> dict[str, Tensor]:
        """Replacement parameters of ``cell`` for one forward, by name (default: none)."""
        return {}

    def get_config(self) -> dict:
        """JSON-able constructor arguments (saved with the layer that uses it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_config() to be saved")


class _MaskFirst(StepHook):
    def __init__(self, mask: Tensor) -> None:
        self.mask = mask

    def before(self, state: State) -> State:
        return _replace_first(state, state_tensors(state)[0] * self.mask)

    def kernel_terms(self, steps: int) -> dict:
        return {"var_mask": self.mask.contiguous()}


class VariationalDropout(Regularizer):
    r"""Dropout on the recurrent input with one mask per sequence, the same at every step.

    Gal & Ghahramani (2016), "A Theoretically Grounded Application of Dropout in Recurrent
    Neural Networks": the step reads ``m \odot h_{t-1}`` with ``m ~ Bernoulli(1 - p) / (1 - p)``
    sampled once per sequence (per example and unit). The masked tensor is the cell's first
    state tensor, the one its recurrent weights read (``h``; an LSTM's ``c`` is left alone).
    Identity in evaluation mode.

    Args:
        p: drop probability.

    Example:
        >>> layer = rnnkit.Recurrent("lstm", 8, 16, regularizers=[VariationalDropout(0.25)])
        >>> layer.backend.reason  # doctest: +ELLIPSIS
        '...variational dropout (p=0.25) masks the recurrent input inside every step...'
    """

    kernel_supported = True

    def __init__(self, p: float) -> None:
        self.p = _check_probability("p", p)

    def per_step_reason(self, training: bool) -> str | None:
        if training and self.p > 0:
            return f"variational dropout (p={self.p}) masks the recurrent input inside every step"
        return None

    def bind(self, cell: RecurrentCell, state: State, training: bool) -> StepHook | None:
        if not training or self.p == 0:
            return None
        first = state_tensors(state)[0]
        mask = torch.empty_like(first).bernoulli_(1 - self.p) / (1 - self.p)
        return _MaskFirst(mask)

    def get_config(self) -> dict:
        return {"p": self.p}

    def __repr__(self) -> str:
        return f"VariationalDropout(p={self.p})"


class _Zone(StepHook):
    def __init__(self, rates: tuple[float, ...], training: bool, like: tuple[Tensor, ...] = ()) -> None:
        self.rates, self.training, self.like = rates, training, like

    def kernel_terms(self, steps: int) -> dict:
        # Training: all steps' masks at once, 1 where a unit keeps its previous value; evaluation: the rate.
        masks = tuple(
            torch.empty(steps, *tensor.shape, dtype=tensor.dtype, device=tensor.device).bernoulli_(p)
            if self.training and p > 0 else p
            for p, tensor in zip(self.rates, self.like, strict=False)
        )
        return {"zoneout": masks}

    def after(self, old: State, new: State, output: Tensor) -> tuple[Tensor, State]:
        old_t, new_t = state_tensors(old), state_tensors(new)
        if output is not new_t[0]:
            raise RuntimeError(
                "zoneout: the cell's step output is not its first state tensor, so the zoned-out state "
                "cannot be its output; set zoneout_tensors = 0 on such a cell"
            )
        mixed = []
        for p, before, after in zip(self.rates, old_t, new_t, strict=False):
            if p == 0:
                mixed.append(after)
            elif self.training:  # keep the previous value where the mask is 1
                keep = torch.empty_like(after).bernoulli_(p).bool()
                mixed.append(torch.where(keep, before, after))
            else:  # the expectation over the mask (Krueger et al.)
                mixed.append(torch.lerp(after, before, p))
        mixed += list(new_t[len(mixed) :])
        state = mixed[0] if isinstance(new, Tensor) else type(new)(*mixed)
        return mixed[0], state


class Zoneout(Regularizer):
    r"""Zoneout: each unit keeps its previous value with probability ``p`` at each step.

    Krueger et al. (2017), "Zoneout: Regularizing RNNs by Randomly Preserving Hidden
    Activations":

    .. math::
        s_t = d_t \odot s_{t-1} + (1 - d_t) \odot \mathrm{step}(s_{t-1}, x_t), \qquad d_t \sim \mathrm{Bernoulli}(p)

    with a fresh mask every step, for each state tensor with its own rate (the paper's LSTM uses
    ``p_c = 0.5`` for the cell and ``p_h = 0.05`` for the output: ``Zoneout((0.05, 0.5))``). In
    evaluation mode the mask is replaced by its expectation, ``s_t = p s_{t-1} + (1 - p) step(...)``:
    deterministic, but not the identity, so a fused kernel cannot run it in either mode. The
    output is the zoned-out ``h``. A cell limits which state tensors may be zoned out with its
    ``zoneout_tensors`` attribute (sLSTM: only ``h``; LRU: none, its output is a read-out).

    Args:
        p: one rate for every state tensor the cell allows, or one rate per state tensor in state order.

    Example:
        >>> layer = rnnkit.Recurrent("lstm", 8, 16, regularizers=[Zoneout((0.05, 0.5))])
    """

    kernel_supported = True

    def __init__(self, p: float | Sequence[float]) -> None:
        if isinstance(p, (int, float)) and not isinstance(p, bool):
            self.p: float | tuple[float, ...] = _check_probability("p", p)
        else:
            self.p = tuple(_check_probability(f"p[{i}]", q) for i, q in enumerate(p))

    def _rates(self, cell: RecurrentCell) -> tuple[float, ...]:
        count = len(cell.state_type._fields) if cell.state_type is not None else 1
        allowed = count if cell.zoneout_tensors is None else cell.zoneout_tensors
        if isinstance(self.p, float):
            return (self.p,) * allowed
        if len(self.p) > count:
            raise ValueError(f"p: expected at most {count} rates for {type(cell).__name__}'s state, got {len(self.p)}")
        return self.p

    def check(self, cell: RecurrentCell) -> None:
        rates = self._rates(cell)
        allowed = cell.zoneout_tensors
        if allowed == 0:
            raise ValueError(
                f"Zoneout: {type(cell).__name__} allows no zoneout (zoneout_tensors = 0: its output is not its state)"
            )
        if allowed is not None and any(rates[allowed:]):
            raise ValueError(
                f"Zoneout: {type(cell).__name__} allows zoneout on its first {allowed} state tensor(s) only, "
                f"got rates {rates}"
            )

    def per_step_reason(self, training: bool) -> str | None:
        if not any(self._as_tuple()):
            return None
        return f"zoneout (p={self.p}) mixes the previous and the new state after every step"

    def _as_tuple(self) -> tuple[float, ...]:
        return (self.p,) if isinstance(self.p, float) else self.p

    def bind(self, cell: RecurrentCell, state: State, training: bool) -> StepHook | None:
        rates = self._rates(cell)
        return _Zone(rates, training, state_tensors(state)) if any(rates) else None

    def get_config(self) -> dict:
        return {"p": self.p if isinstance(self.p, float) else list(self.p)}

    def __repr__(self) -> str:
        return f"Zoneout(p={self.p})"


class DropConnect(Regularizer):
    r"""DropConnect on the recurrent weights: one mask per forward, shared by every step.

    Wan et al. (2013); applied to ``W_hh`` as the weight-dropped LSTM of Merity et al. (2018,
    "Regularizing and Optimizing LSTM Language Models", Sec. 2) and haste's ``dropout``:
    ``W_hh' = M \odot W_hh / (1 - p)``, ``M ~ Bernoulli(1 - p)``, sampled once per forward (per
    layer and direction). Because only the weights change, every backend runs with the masked
    weights, PyTorch's fused kernels included (as the AWD-LSTM does with cuDNN). Identity in
    evaluation mode.

    Args:
        p: drop probability of each weight.
        weights: names of the cell parameters to mask (default ``("weight_hh",)``: the recurrent matrix
            of Elman, LSTM, GRU, the layer-norm and conv cells, sLSTM; IndRNN's diagonal).

    Example:
        >>> layer = rnnkit.Recurrent("lstm", 8, 16, regularizers=[DropConnect(0.5)])
        >>> layer.backend  # the fused kernel runs with the masked weight
        BackendChoice('native', ...)
    """

    def __init__(self, p: float, *, weights: Sequence[str] = ("weight_hh",)) -> None:
        self.p = _check_probability("p", p)
        if isinstance(weights, str) or not weights:
            raise ValueError(f"weights: expected a non-empty sequence of parameter names, got {weights!r}")
        self.weights = tuple(weights)

    def check(self, cell: RecurrentCell) -> None:
        names = dict(cell.named_parameters(recurse=False))
        missing = [name for name in self.weights if name not in names]
        if missing:
            raise ValueError(
                f"DropConnect: {type(cell).__name__} has no parameter {missing[0]!r} (its parameters: "
                f"{', '.join(names)}); name the recurrent weights with weights=(...)"
            )

    def backend_note(self, training: bool) -> str | None:
        if training and self.p > 0:
            masked = ", ".join(self.weights)
            return f"DropConnect (p={self.p}) masks {masked} once per forward; the backend runs with the masked weights"
        return None

    def sample_weights(self, cell: RecurrentCell, training: bool) -> dict[str, Tensor]:
        if not training or self.p == 0:
            return {}
        return {name: F.dropout(getattr(cell, name), self.p, training=True) for name in self.weights}

    def get_config(self) -> dict:
        return {"p": self.p, "weights": list(self.weights)}

    def __repr__(self) -> str:
        return f"DropConnect(p={self.p}, weights={self.weights})"


#: Regularisers by class name, for saving and loading a layer that uses them.
REGULARIZERS: dict[str, type[Regularizer]] = {
    cls.__name__: cls for cls in (VariationalDropout, Zoneout, DropConnect)
}


def regularizer_from_config(config: dict) -> Regularizer:
    """Rebuild a regulariser from ``{"name": ClassName, **get_config()}``."""
    config = dict(config)
    name = config.pop("name", None)
    if name not in REGULARIZERS:
        raise ValueError(f"regularizers: unknown regulariser {name!r}; expected one of {sorted(REGULARIZERS)}")
    return REGULARIZERS[name](**config)


class HookedCell:
    """A cell as seen through per-step hooks for one forward (what the loop backend runs)."""

    def __init__(self, cell: RecurrentCell, hooks: Sequence[StepHook]) -> None:
        self.cell, self.hooks = cell, tuple(hooks)

    def project_input(self, x: Tensor) -> Tensor:
        return self.cell.project_input(x)

    def kernel_regularization(self, steps: int) -> StepRegularization:
        """The hooks as arguments of the compiled kernels, for a sequence of ``steps`` steps."""
        terms: dict = {}
        for hook in self.hooks:
            terms.update(hook.kernel_terms(steps))
        return StepRegularization(**terms)

    def step(self, projected_x: Tensor, state: State) -> tuple[Tensor, State]:
        read = state
        for hook in self.hooks:
            read = hook.before(read)
        output, new = self.cell.step(projected_x, read)
        for hook in self.hooks:
            output, new = hook.after(state, new, output)
        return output, new
