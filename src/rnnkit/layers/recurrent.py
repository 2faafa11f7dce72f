"""``Recurrent``: runs any cell as a stack of layers over time (layer 3 of docs/design.md)."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.backends import (
    CELL_RUNNERS,
    BackendChoice,
    Workload,
    autotune,
    check_backend_name,
    choose_backend,
    tuned_reason,
)
from rnnkit.backends.fused import kernels_ready
from rnnkit.backends.graph import keeps_kernels, run_graph_layers
from rnnkit.backends.loop import between_layers, run_layers
from rnnkit.backends.native import flat_weights, native_mode, run_native
from rnnkit.cells import CELLS, RecurrentCell, State, map_state, resolve_cell
from rnnkit.layers.autotuned import tune_layer, tuning_key
from rnnkit.layers.inputs import check_lengths, check_sequence_input, check_state, lengths_from_mask
from rnnkit.layers.recording import StepRecord, recording_steps  # noqa: F401 - re-exported (diagnostics imports it here)
from rnnkit.layers.regularizers import HookedCell, Regularizer, regularizer_from_config
from rnnkit.layers.stepping import state_matches, step_plan
from rnnkit.serialization import Saveable, SerializationError, class_key


class _WeightsSwapped(nn.Module):
    """Runs ``fn`` under ``torch.func.functional_call`` so that sampled weights (DropConnect) replace
    the cells' parameters for one call, for every backend alike."""

    def __init__(self, cells: nn.ModuleDict, fn: Callable) -> None:
        super().__init__()
        self.cells = cells
        self.fn = fn

    def forward(self, *args: object) -> object:
        return self.fn(*args)


class Recurrent(nn.Module, Saveable):
    r"""A stack of recurrent layers built from any cell.

    Runs ``cell`` over time for ``num_layers`` layers, optionally in both directions, with
    variable lengths, an explicit initial state, streaming and recurrent regularisers. Standard
    Elman/LSTM/GRU stacks run on PyTorch's fused kernels, cells linear in their state (minGRU,
    minLSTM, LRU) on the parallel scan, every other cell on the reference loop (see :attr:`backend`).
    Spatial cells (``"convlstm"``, ``"convgru"``) take image sequences ``(B, T, C, H, W)``.

    Args:
        cell: a :class:`~rnnkit.cells.RecurrentCell` subclass or a name (``"lstm"``, ``"gru"``, ``"elman"``).
        input_size: input features ``I``.
        hidden_size: hidden features ``H`` of every layer.
        num_layers: stacked layers ``L``.
        bidirectional: add a second direction that reads each sequence's valid part reversed (``D = 2``).
        dropout: dropout on each layer's output except the last, in training mode.
        residual: add each layer's input to its output, for layers after the first.
        batch_first: ``x`` and outputs are ``(B, T, ·)``; with ``False``, ``(T, B, ·)``.
        backend: ``"auto"`` (a measured preference, else PyTorch's kernel, else the scan, else rnnkit's
            compiled kernels, else the loop: whichever first applies; see :attr:`backend`), ``"native"``,
            ``"scan"``, ``"fused"`` or ``"loop"``.
        regularizers: recurrent regularisers applied to every cell, e.g.
            ``[VariationalDropout(0.25), Zoneout(0.1), DropConnect(0.5)]`` (see
            :mod:`rnnkit.layers.regularizers`); the backend reason says how they affect the choice.
        **cell_options: passed to the cell's constructor, e.g. ``proj_size``, ``bias``,
            ``nonlinearity``, ``forget_bias``, ``kernel_size``.

    Shape:
        ``x``: ``(B, T, I)`` (spatial cells: ``(B, T, C, H, W)``); ``lengths``: ``(B,)`` with values in ``[1, T]``;
        output: ``(B, T, D * O)`` where ``O`` is the cell's ``output_size`` (spatial: ``(B, T, D * O, H, W)``);
        state: the cell's state layout with every tensor stacked to ``(L * D, B, ...)``
        (for LSTM an :class:`~rnnkit.cells.LSTMState` ``(h, c)``, like ``torch.nn.LSTM``).

    Example:
        >>> layer = Recurrent("lstm", 8, 16, num_layers=2, bidirectional=True)
        >>> out, (h, c) = layer(torch.randn(4, 10, 8), lengths=torch.tensor([10, 7, 3, 1]))
        >>> out.shape, h.shape
        (torch.Size([4, 10, 32]), torch.Size([4, 4, 16]))
    """

    def __init__(
        self,
        cell: str | type[RecurrentCell],
        input_size: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        residual: bool = False,
        batch_first: bool = True,
        backend: str = "auto",
        regularizers: Sequence[Regularizer] = (),
        **cell_options: object,
    ) -> None:
        super().__init__()
        cell_class = resolve_cell(cell)
        if isinstance(regularizers, Regularizer):
            regularizers = (regularizers,)
        if not isinstance(regularizers, (list, tuple)):
            raise TypeError(f"regularizers: expected a list of Regularizer instances, got {regularizers!r}")
        regularizers = tuple(regularizers)
        for regularizer in regularizers:
            if not isinstance(regularizer, Regularizer):
                raise TypeError(
                    f"regularizers: expected Regularizer instances (VariationalDropout, Zoneout, DropConnect), "
                    f"got {type(regularizer).__name__}"
                )
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers: expected a positive integer, got {num_layers!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise TypeError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        accepted = inspect.signature(cell_class.__init__).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
            unknown = sorted(set(cell_options) - set(accepted))
            if unknown:
                takes = ", ".join(n for n in accepted if n not in ("self", "input_size", "hidden_size"))
                raise TypeError(f"{unknown[0]}: not an option of {cell_class.__name__} (it takes {takes})")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.dropout = float(dropout)
        self.residual = residual
        self.batch_first = batch_first
        self._requested_backend = check_backend_name(backend)
        self._cell_class = cell_class
        self._cell_options = dict(cell_options)
        # Set only inside recording_steps(): a list that receives per-step outputs (diagnostics).
        self._step_records: list[StepRecord] | None = None
        # The last forward's device, batch, steps and grad mode: the measured preferences of
        # backend="auto" depend on them (rnnkit.backends.tuning).
        self._workload: Workload | None = None
        # Choices already made, by workload, mode, threads, tuning switch, dtype and device (backend_for).
        self._choices: dict[tuple, BackendChoice] = {}
        self.cells = nn.ModuleDict()
        layer_input = input_size
        for layer in range(num_layers):
            for suffix in self._suffixes():
                self.cells[f"l{layer}{suffix}"] = cell_class(layer_input, hidden_size, **cell_options)
            layer_input = self.num_directions * self.cells[f"l{layer}"].output_size
        self.output_size = layer_input
        self.regularizers = regularizers
        for regularizer in regularizers:
            for cell_module in self.cells.values():
                regularizer.check(cell_module)
        # Streaming: each layer's step bound once (rnnkit.layers.stepping), and the state tails it expects.
        self._step_plan = step_plan([self.cells[f"l{k}"] for k in range(num_layers)])
        last = self.cells[f"l{num_layers - 1}"]
        self._state_tails = tuple(last.state_shapes_for(())) if last.num_feature_axes == 1 else ()
        self.backend  # noqa: B018 - fail at construction if a forced backend cannot run this cell

    @classmethod
    def from_torch(cls, module: nn.RNNBase, *, backend: str = "auto") -> Recurrent:
        """Build a ``Recurrent`` with the configuration and a copy of the weights of a ``torch.nn`` RNN.

        Args:
            module: a ``torch.nn.RNN``, ``LSTM`` or ``GRU`` (or an rnnkit drop-in).
            backend: as in the constructor.

        Returns:
            A layer that computes the same function; its ``batch_first`` follows ``module``'s.

        Example:
            >>> layer = Recurrent.from_torch(torch.nn.GRU(4, 8, num_layers=2))
        """
        if isinstance(module, nn.LSTM):
            cell, options = "lstm", {"proj_size": module.proj_size, "forget_bias": None}
        elif isinstance(module, nn.GRU):
            cell, options = "gru", {}
        elif isinstance(module, nn.RNN):
            cell, options = "elman", {"nonlinearity": module.nonlinearity}
        else:
            raise TypeError(f"module: expected torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
        layer = cls(
            cell, module.input_size, module.hidden_size, num_layers=module.num_layers,
            bidirectional=module.bidirectional, dropout=module.dropout, batch_first=module.batch_first,
            backend=backend, bias=module.bias, **options,
        )
        weights = {}
        for name, tensor in module.state_dict().items():
            param, _, where = name.rpartition("_l")
            weights[f"cells.l{where}.{param}"] = tensor
        layer.load_state_dict(weights)
        return layer.to(next(module.parameters()).dtype)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, for :meth:`save` / :func:`rnnkit.load`.

        The cell is saved by its registered name (``rnnkit.cells.CELLS``) or, for a custom cell,
        as ``module.QualName``; loading such a layer needs that module imported first.
        """
        names = [name for name, cls in CELLS.items() if cls is self._cell_class]
        return {
            "cell": names[0] if names else class_key(self._cell_class),
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "residual": self.residual,
            "batch_first": self.batch_first,
            "backend": self._requested_backend,
            **({"regularizers": [{"name": type(r).__name__, **r.get_config()} for r in self.regularizers]}
               if self.regularizers else {}),
            **self._cell_options,
        }

    @classmethod
    def check_config_fits_tensors(cls, config: dict[str, Any], tensors: dict[str, Tensor]) -> None:
        from rnnkit.serialization import check_layer_sizes

        check_layer_sizes(config, tensors, layer_pattern=r"cells\.l(\d+)(_reverse)?\.")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Recurrent:
        """Build from :meth:`get_config`'s output (custom cells must already be imported)."""
        config = dict(config)
        if "regularizers" in config:
            config["regularizers"] = [regularizer_from_config(r) for r in config["regularizers"]]
        cell = config.pop("cell")
        if cell not in CELLS:
            module, _, qualname = cell.rpartition(".")
            found = getattr(sys.modules.get(module), qualname, None)
            if not (isinstance(found, type) and issubclass(found, RecurrentCell)):
                raise SerializationError(
                    f"cell: {cell!r} is not a registered cell name nor an imported RecurrentCell class; "
                    "import the module that defines it before loading"
                )
            cell = found
        return cls(cell, **config)

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def _layers(self) -> list[list[RecurrentCell]]:
        return [[self.cells[f"l{k}{s}"] for s in self._suffixes()] for k in range(self.num_layers)]

    @property
    def backend(self) -> BackendChoice:
        """The backend that runs whole sequences, and why (``layer.backend.reason``).

        It can depend on the mode: variational dropout acts only in training, so in evaluation
        PyTorch's kernel or the scan may run where the compiled kernels or the loop run in
        training. With ``backend="auto"`` it can also depend on the device, the batch and sequence
        sizes and whether gradients are taken (measured preferences, :mod:`rnnkit.backends.tuning`):
        it describes the last forward's input, or before any forward, the parameters' device.
        """
        return self.backend_for(self._workload)

    def backend_for(self, workload: Workload | None) -> BackendChoice:
        """The backend this layer would run for ``workload`` (device, batch, steps, grad mode), and why.

        ``None``: only the parameters' device is known (what :attr:`backend` says before any forward).
        """
        if workload is None:
            parameter = next(self.parameters(), None)
            workload = Workload(device=parameter.device.type if parameter is not None else "cpu")
        memo = self._memo_key(workload)
        choice = self._choices.get(memo)
        if choice is None:
            choice, final = self._choose(workload)
            if final:  # not an "auto" still waiting for its measurement
                if len(self._choices) > 256:  # many distinct lengths: start over rather than grow
                    self._choices.clear()
                self._choices[memo] = choice
        return choice

    def _memo_key(self, workload: Workload) -> tuple:
        # Everything the choice depends on besides the (fixed) cells and regularisers.
        first = self._step_plan[0][1]
        weight = next((p for p in first._parameters.values() if p is not None), None)
        where = (weight.dtype, weight.device) if weight is not None else None
        return workload, self.training, torch.get_num_threads(), autotune.enabled(), where

    def _choose(self, workload: Workload) -> tuple[BackendChoice, bool]:
        """The choice for ``workload`` and whether it is final (``False``: tuning for it has not run yet)."""
        final = True
        hooks = [r.per_step_reason(self.training) for r in self.regularizers]
        active = [r for r, h in zip(self.regularizers, hooks, strict=True) if h]
        choice = choose_backend(
            self._requested_backend, list(self.cells.values()), per_step_hooks=[h for h in hooks if h],
            kernel_hooks=all(r.kernel_supported for r in active), workload=workload,
        )
        if self._requested_backend == "auto" and autotune.enabled():
            tuning = tuning_key(self, workload)
            decision = autotune.lookup(tuning[0]) if tuning is not None else None
            if decision is not None and decision.backend in tuning[1]:
                choice = BackendChoice(decision.backend, f"{tuned_reason(decision.backend, self.cells.values())}; "
                                       f"{decision.evidence}")
            final = tuning is None or decision is not None
        notes = [note for r in self.regularizers if (note := r.backend_note(self.training))]
        return (BackendChoice(choice, "; ".join([choice.reason, *notes])) if notes else choice), final

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_choices"] = {}  # remembered choices: rebuilt on use (and BackendChoice does not pickle)
        return state

    @property
    def feature_axes(self) -> int:
        """Axes of one input step per example: 1 for vectors, 3 for images (spatial cells)."""
        return self.first_cell.num_feature_axes

    @property
    def first_cell(self) -> RecurrentCell:
        """The first layer's forward cell (all cells share one class and options)."""
        return self.cells["l0"]

    def initial_state(
        self,
        batch_size: int,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        spatial: tuple[int, ...] = (),
    ) -> State:
        """Zero state for ``batch_size`` sequences (of image size ``spatial`` for spatial cells),
        stacked to ``(L * D, B, ...)``."""
        per_cell = [
            cell.initial_state(batch_size, dtype=dtype, device=device, spatial=spatial) for cell in self.cells.values()
        ]
        return map_state(lambda *ts: torch.stack(ts), *per_cell)

    def _check_state(self, state: State, batch: int, x: Tensor, spatial: tuple[int, ...]) -> State:
        cell = self.first_cell
        stacked = len(self.cells)
        last_layer_cell = self.cells[f"l{self.num_layers - 1}"]
        shapes = [(stacked, batch, *shape) for shape in last_layer_cell.state_shapes_for(spatial)]
        names = cell.state_type._fields if cell.state_type is not None else ("state",)
        check_state(state, expected=shapes, names=names, dtype=x.dtype, device=x.device)
        if cell.state_type is not None and not isinstance(state, cell.state_type):
            state = cell.state_type(*state)
        return state

    def _check_dtype(self, x: Tensor) -> None:
        weight = next(self.parameters(), None)
        if weight is not None and weight.dtype != x.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f"x: expected dtype {weight.dtype} (the layer's parameters), got {x.dtype}; "
                f"convert the input or the layer (layer.to({x.dtype}))"
            )

    def forward(
        self,
        x: Tensor,
        state: State | None = None,
        lengths: Tensor | list[int] | None = None,
        *,
        mask: Tensor | None = None,
    ) -> tuple[Tensor, State]:
        """Run the stack over whole sequences.

        Args:
            x: input ``(B, T, I)`` (``(T, B, I)`` when ``batch_first=False``).
            state: initial state stacked to ``(L * D, B, ...)``; zeros when ``None``.
                Pass the returned state back in to continue a sequence in the next chunk.
            lengths: ``(B,)`` valid length of each right-padded sequence (CPU or ``x``'s device).
            mask: alternatively, a right-padded boolean mask ``(B, T)``, True at real steps.

        Returns:
            ``(output, state)``: output ``(B, T, D * O)``, exactly zero past each sequence's end;
            the final state holds each sequence's state after its last real step.
        """
        if torch.compiler.is_exporting():
            return self._forward_exporting(x, state, lengths, mask)
        if (lengths is None and mask is None and self._requested_backend == "auto" and self._step_records is None
                and isinstance(x, Tensor) and x.dim() == 3 and x.shape[1 if self.batch_first else 0] == 1):
            # One step (streaming a sequence step by step through forward): the step path, without
            # the per-sequence set-up of a backend. Same equations; forced backends run their own.
            x_t = x[:, 0] if self.batch_first else x[0]
            if self._quick_step_ok(x_t, state):
                y, state = self._fast_step(x_t, state)
                return y.unsqueeze(1 if self.batch_first else 0), state
        check_sequence_input(
            x, input_size=self.input_size, batch_first=self.batch_first, feature_axes=self.feature_axes
        )
        self._check_dtype(x)
        batch_dim = 0 if self.batch_first else 1
        batch, steps, spatial = x.shape[batch_dim], x.shape[1 - batch_dim], tuple(x.shape[3:])
        if mask is not None:
            if lengths is not None:
                raise ValueError("lengths and mask: give one of them, not both")
            lengths = lengths_from_mask(mask, batch=batch, steps=steps)
        lengths = check_lengths(lengths, batch=batch, steps=steps, device=x.device)
        if state is None:
            state = self.initial_state(batch, dtype=x.dtype, device=x.device, spatial=spatial)
        else:
            state = self._check_state(state, batch, x, spatial)
        if batch == 0:
            return x.new_zeros(*x.shape[:2], self.output_size, *spatial), state
        return self._with_sampled_weights(self._run, x, state, lengths)

    def _forward_exporting(self, x: Tensor, state: State | None, lengths: Tensor | None, mask: Tensor | None
                           ) -> tuple[Tensor, State]:
        """``forward`` under ``torch.export`` (and so ONNX export): the graph backend
        (:mod:`rnnkit.backends.graph`), one traceable loop per layer whose length is the input's time
        axis, and only the checks a tracer can make (shapes and dtypes, not the lengths' values)."""
        check_sequence_input(
            x, input_size=self.input_size, batch_first=self.batch_first, feature_axes=self.feature_axes
        )
        self._check_dtype(x)
        batch_dim = 0 if self.batch_first else 1
        batch, spatial = x.shape[batch_dim], tuple(x.shape[3:])
        if mask is not None:
            if lengths is not None:
                raise ValueError("lengths and mask: give one of them, not both")
            lengths = mask.sum(1)
        if lengths is not None:
            if not isinstance(lengths, Tensor) or lengths.is_floating_point() or lengths.dtype == torch.bool:
                raise TypeError(
                    f"lengths: expected an integer tensor of shape ({batch},) when exporting, got {lengths!r:.60}"
                )
            lengths = lengths.to(device=x.device, dtype=torch.long)
        state = (self.initial_state(batch, dtype=x.dtype, device=x.device, spatial=spatial) if state is None
                 else self._check_state(state, batch, x, spatial))
        if keeps_kernels(self._requested_backend):  # rnnkit's kernels as custom operators in the program
            backend = self.backend
            return self._with_sampled_weights(lambda *args: self._run_on(backend, *args), x, state, lengths)
        return self._with_sampled_weights(self._run_graph, x, state, lengths)

    def _run_graph(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        x_tm = x.transpose(0, 1) if self.batch_first else x
        per_cell = [map_state(lambda t, i=i: t[i], state) for i in range(len(self.cells))]
        d = self.num_directions
        layers = [[self._hooked(cell, per_cell[k * d + j]) for j, cell in enumerate(row)]
                  for k, row in enumerate(self._layers())]
        out, finals = run_graph_layers(layers, x_tm, per_cell, lengths=lengths, dropout=self.dropout,
                                       training=self.training, residual=self.residual)
        out = out.transpose(0, 1) if self.batch_first else out
        return out, map_state(lambda *ts: torch.stack(ts), *finals)

    def _with_sampled_weights(self, fn: Callable, *args: object):
        """Call ``fn(*args)``, with the weights regularisers sample for this call (DropConnect) swapped in."""
        weights = {
            f"cells.{key}.{name}": tensor
            for key, cell in self.cells.items()
            for regularizer in self.regularizers
            for name, tensor in regularizer.sample_weights(cell, self.training).items()
        }
        if not weights:
            return fn(*args)
        return torch.func.functional_call(_WeightsSwapped(self.cells, fn), weights, args)

    def _hooked(self, cell: RecurrentCell, state: State) -> RecurrentCell | HookedCell:
        """The cell with this call's per-step regularisers bound to it (masks sampled now), if any."""
        hooks = [hook for r in self.regularizers if (hook := r.bind(cell, state, self.training)) is not None]
        return HookedCell(cell, hooks) if hooks else cell

    def _run(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        batch_dim = 0 if self.batch_first else 1
        self._workload = Workload(
            device=x.device.type, batch=x.shape[batch_dim], steps=x.shape[1 - batch_dim],
            grad=torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in self.parameters())),
        )
        if (self._step_records is None and self._requested_backend == "auto" and autotune.enabled()
                and self._memo_key(self._workload) not in self._choices):
            tune_layer(self, x, state, lengths)  # once per new shape bucket on this machine
        # Recording per-step outputs (diagnostics) needs the reference loop: fused kernels and the
        # scan expose only whole sequences.
        backend = self.backend if self._step_records is None else "loop"
        if backend == "fused" and not kernels_ready():  # built on first use, announced on stderr
            # The build failed: the reason is kept, "auto" now picks another backend and says why,
            # a forced "fused" raises with it.
            self._choices.clear()
            backend = self.backend
        return self._run_on(backend, x, state, lengths)

    def _run_on(self, backend: str, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        """Run the stack on the named backend (already chosen and checked)."""
        if backend == "native":
            return self._forward_native(x, state, lengths)
        x_tm = x.transpose(0, 1) if self.batch_first else x
        per_cell = [map_state(lambda t, i=i: t[i], state) for i in range(len(self.cells))]
        layers = self._layers()
        if backend in ("loop", "fused"):  # per-step regularisers, if any, with this call's masks
            d = self.num_directions
            layers = [
                [self._hooked(cell, per_cell[k * d + j]) for j, cell in enumerate(row)] for k, row in enumerate(layers)
            ]
        steps: list[list[Tensor]] | None = None if self._step_records is None else []
        out, finals = run_layers(
            layers,
            x_tm,
            per_cell,
            lengths=lengths,
            dropout=self.dropout,
            training=self.training,
            residual=self.residual,
            run_cell=CELL_RUNNERS[backend],
            step_outputs=steps,
        )
        if self._step_records is not None:
            self._step_records.append(StepRecord(self, steps))
        out = out.transpose(0, 1) if self.batch_first else out
        return out, map_state(lambda *ts: torch.stack(ts), *finals)

    def _between_layers(self, out: Tensor, layer_input: Tensor, index: int) -> Tensor:
        return between_layers(
            out, layer_input, index, self.num_layers, residual=self.residual, dropout=self.dropout,
            training=self.training,
        )

    def _forward_native(self, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
        cells = list(self.cells.values())
        mode = native_mode(cells[0])
        bias = bool(cells[0].bias)
        if not self.residual:
            return run_native(
                mode, x, state, flat_weights(cells), bias=bias, num_layers=self.num_layers,
                bidirectional=self.bidirectional, dropout=self.dropout, training=self.training,
                batch_first=self.batch_first, lengths=lengths,
            )
        # Residual stacks: one fused call per layer, adding the skip connection in between.
        finals = []
        layer_input = x
        for index, layer in enumerate(self._layers()):
            rows = slice(index * self.num_directions, (index + 1) * self.num_directions)
            out, final = run_native(
                mode, layer_input, map_state(lambda t, rows=rows: t[rows], state), flat_weights(layer), bias=bias,
                num_layers=1, bidirectional=self.bidirectional, batch_first=self.batch_first, lengths=lengths,
            )
            finals.append(final)
            layer_input = self._between_layers(out, layer_input, index)
        return layer_input, map_state(lambda *ts: torch.cat(ts), *finals)

    def step(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Advance every layer by one time step (streaming).

        Args:
            x: one input step ``(B, I)``.
            state: stacked state ``(L, B, ...)`` from a previous call or ``forward``; zeros if ``None``.

        Returns:
            ``(y, state)`` with ``y`` of shape ``(B, O)``. ``forward`` over a sequence equals
            calling ``step`` on each of its steps in turn, passing the state along.

        Raises:
            RuntimeError: for a bidirectional layer, whose backward direction needs the future.
        """
        if self.bidirectional:
            raise RuntimeError(
                "step: a bidirectional layer cannot stream, since its backward direction reads the sequence "
                "from its end; call the layer on whole sequences instead"
            )
        if self._quick_step_ok(x, state):  # the usual case, checked in a few comparisons
            return self._fast_step(x, state)
        rank = 1 + self.feature_axes
        if not isinstance(x, Tensor) or x.dim() != rank:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            features = f"input_size={self.input_size}" if self.feature_axes == 1 else (
                f"channels={self.input_size}, height, width"
            )
            raise ValueError(f"x: expected one step of shape (batch, {features}), got {got}")
        check_sequence_input(
            x.unsqueeze(1), input_size=self.input_size, batch_first=True, feature_axes=self.feature_axes
        )
        self._check_dtype(x)
        spatial = tuple(x.shape[2:])
        state = self.initial_state(x.shape[0], dtype=x.dtype, device=x.device, spatial=spatial) if state is None else (
            self._check_state(state, x.shape[0], x, spatial)
        )
        return self._with_sampled_weights(self._step, x, state)

    def _quick_step_ok(self, x: object, state: State | None) -> bool:
        """Whether one step's input (and state) are plainly right: a vector cell, the input size, the
        parameters' dtype, the exact state shapes. Anything else takes the full checks."""
        first = self._step_plan[0][1]
        if not (isinstance(x, Tensor) and x.dim() == 2 and x.shape[1] == self.input_size and not self.bidirectional
                and first.num_feature_axes == 1):
            return False
        weight = next((p for p in first._parameters.values() if p is not None), None)
        if weight is not None and weight.dtype != x.dtype:
            return False
        return state is None or state_matches(state, self.num_layers, x.shape[0], self._state_tails, x)

    def _fast_step(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        """:meth:`step` after :meth:`_quick_step_ok` passed."""
        if state is None:
            state = self.initial_state(x.shape[0], dtype=x.dtype, device=x.device)
        else:
            state_type = self._step_plan[0][1].state_type
            if state_type is not None and not isinstance(state, state_type):
                state = state_type(*state)
        if self.regularizers:
            return self._with_sampled_weights(self._step, x, state)
        return self._step(x, state)

    def _step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        if self.num_layers == 1 and not self.regularizers:  # the common streaming layer, in the fewest ops
            step, cell = self._step_plan[0]
            y, final = step(cell, x, state[0] if isinstance(state, Tensor) else type(state)(*(t[0] for t in state)))
            return y, final.unsqueeze(0) if isinstance(final, Tensor) else type(final)(*(t.unsqueeze(0) for t in final))
        finals = []
        for index, (step, cell) in enumerate(self._step_plan):
            cell_state = map_state(lambda t, i=index: t[i], state)
            stepper = self._hooked(cell, cell_state) if self.regularizers else cell
            if stepper is cell:
                y, final = step(cell, x, cell_state)
            else:  # per-step regularisers bound for this call
                y, final = stepper.step(stepper.project_input(x), cell_state)
            finals.append(final)
            x = self._between_layers(y, x, index)
        return x, map_state(lambda *ts: torch.stack(ts), *finals)

    def extra_repr(self) -> str:
        options = [f"num_layers={self.num_layers}"] if self.num_layers > 1 else []
        options += ["bidirectional=True"] if self.bidirectional else []
        options += [f"dropout={self.dropout}"] if self.dropout else []
        options += ["residual=True"] if self.residual else []
        options += ["batch_first=False"] if not self.batch_first else []
        options += [f"regularizers={list(self.regularizers)}"] if self.regularizers else []
        return ", ".join([*options, f"backend={str(self.backend)!r}"])
