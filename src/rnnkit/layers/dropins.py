"""Drop-in replacements for ``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU``.

They *are* the torch classes (subclasses), so constructor arguments, defaults, parameter names,
``state_dict`` keys, shapes, ``PackedSequence`` handling and error messages are exactly torch's,
and ``isinstance(layer, torch.nn.LSTM)`` holds. What rnnkit adds is the backend choice: the
reference ``loop`` backend (and, as they land, fast paths) runs the same parameters through
rnnkit's cells, and ``layer.backend`` says which path runs and why.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.backends import BackendChoice, check_backend_name
from rnnkit.backends.graph import run_graph_layers
from rnnkit.backends.loop import run_layers
from rnnkit.cells import ElmanCell, GRUCell, LSTMCell, LSTMState, RecurrentCell
from rnnkit.serialization import Saveable

#: Backends the drop-ins accept.
DROPIN_BACKENDS = ("auto", "native", "loop")
#: ATen's one-step kernels (what ``torch.nn.LSTMCell`` etc. call), by ``torch.nn.RNNBase.mode``.
_STEP_KERNELS = {"LSTM": torch.lstm_cell, "GRU": torch.gru_cell, "RNN_TANH": torch.rnn_tanh_cell,
                 "RNN_RELU": torch.rnn_relu_cell}


class _CellStack(nn.Module):
    """Cells shaped like a drop-in's layers; run with the drop-in's parameters via ``functional_call``."""

    def __init__(self, cells: nn.ModuleDict, num_layers: int, suffixes: tuple[str, ...]) -> None:
        super().__init__()
        self.cells = cells
        self.layout = [[f"l{k}{s}" for s in suffixes] for k in range(num_layers)]

    def forward(self, x: Tensor, states: list, lengths: Tensor | None, dropout: float, training: bool):
        layers = [[self.cells[key] for key in row] for row in self.layout]
        if torch.compiler.is_exporting():  # one traceable loop per layer, time stays dynamic (backends.graph)
            return run_graph_layers(layers, x, states, lengths=lengths, dropout=dropout, training=training)
        return run_layers(layers, x, states, lengths=lengths, dropout=dropout, training=training)


class _DropIn(Saveable):
    """Shared behaviour of the three drop-ins; mixed in before the torch class."""

    _cell_class: type[RecurrentCell]
    _parameter_names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")

    def __init__(self, *args: Any, backend: str = "auto", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("bias", "batch_first", "bidirectional"):
            # torch.nn checks batch_first and bias itself but stores bidirectional as given and
            # fails only inside the kernel (None, strings, ...).
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"{name}: expected True or False, got {value!r}")
        for name in ("input_size", "hidden_size", "num_layers", "proj_size"):
            # torch.nn takes a bool where it wants an int (bool is an int) and then fails inside the
            # kernel with a TypeError about its argument list.
            value = getattr(self, name, 0)
            if isinstance(value, bool):
                raise TypeError(f"{name}: expected an integer, got {value!r}")
        if check_backend_name(backend) not in DROPIN_BACKENDS:
            # The drop-ins keep torch.nn's kernel or run the reference; the other fast paths are
            # Recurrent's (Recurrent.from_torch(module) gives one with the same weights).
            raise ValueError(
                f"backend: the drop-ins take one of {DROPIN_BACKENDS}, got {backend!r}; "
                "use rnnkit.Recurrent.from_torch(layer, backend=...) for the others"
            )
        self._requested_backend = backend

    @classmethod
    def check_config_fits_tensors(cls, config: dict[str, Any], tensors: dict[str, Tensor]) -> None:
        from rnnkit.serialization import check_layer_sizes

        check_layer_sizes(config, tensors, layer_pattern=r"weight_ih_l(\d+)(_reverse)?$")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> _DropIn:
        """Build from :meth:`get_config` output, refusing values of the wrong type (torch's
        constructor would take ``bidirectional=None`` and fail only when run)."""
        kinds = {"input_size": int, "hidden_size": int, "num_layers": int, "proj_size": int, "bias": bool,
                 "batch_first": bool, "bidirectional": bool, "dropout": (int, float), "backend": str,
                 "nonlinearity": str}
        for name, value in config.items():
            kind = kinds.get(name)
            wrong = kind is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)))
            if wrong:
                raise TypeError(f"{name}: expected {getattr(kind, '__name__', 'a number')}, got {value!r}")
        return cls(**config)

    def __getstate__(self) -> dict[str, Any]:
        # The loop backend's cell template is a cache (meta tensors): a pickled module (torch.save of
        # the whole model) leaves it out, so torch.load(..., weights_only=True) needs only the class.
        state = super().__getstate__()
        state = dict(state if state is not None else self.__dict__)
        state.pop("_loop_template", None)
        return state

    @property
    def backend(self) -> BackendChoice:
        """``native`` (torch's own fused kernel) unless ``backend='loop'`` was asked for."""
        if self._requested_backend == "loop":
            return BackendChoice("loop", "forced with backend='loop'")
        return BackendChoice("native", f"torch.nn.{type(self).__name__} configuration: PyTorch's fused kernel")

    def _cell_options(self) -> dict[str, Any]:
        return {"bias": self.bias}

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (for :meth:`save` / :func:`rnnkit.load`)."""
        config = {
            "input_size": self.input_size, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
            "bias": self.bias, "batch_first": self.batch_first, "dropout": float(self.dropout),
            "bidirectional": self.bidirectional, "backend": self._requested_backend,
        }
        if isinstance(self, nn.LSTM):
            config["proj_size"] = self.proj_size
        if isinstance(self, nn.RNN):
            config["nonlinearity"] = self.nonlinearity
        return config

    def _template(self) -> _CellStack:
        # Built on the meta device: it holds no memory and never receives .to()/.cuda(), since its
        # parameters are always supplied by functional_call from this module's own.
        template = self.__dict__.get("_loop_template")
        if template is None:
            suffixes = ("", "_reverse") if self.bidirectional else ("",)
            cells = nn.ModuleDict()
            with torch.device("meta"):
                layer_input = self.input_size
                for k in range(self.num_layers):
                    for s in suffixes:
                        cells[f"l{k}{s}"] = self._cell_class(layer_input, self.hidden_size, **self._cell_options())
                    layer_input = len(suffixes) * cells[f"l{k}"].output_size
            template = _CellStack(cells, self.num_layers, suffixes)
            self.__dict__["_loop_template"] = template
        return template

    def _bound_parameters(self) -> dict[str, Tensor]:
        params = {}
        for key in self._template().cells:
            layer = key[1:]  # "0" or "0_reverse"
            for name in self._parameter_names:
                tensor = getattr(self, f"{name}_l{layer}", None)
                if tensor is not None:
                    params[f"cells.{key}.{name}"] = tensor
        return params

    def forward(self, input: Tensor | PackedSequence, hx: Any = None):
        if self._requested_backend == "auto" and isinstance(input, Tensor):
            stepped = self._forward_one_step(input, hx)
            if stepped is not None:
                return stepped
        if self._requested_backend != "loop" and not torch.compiler.is_exporting():
            # (torch's kernel specialises an exported program to the example's length: export takes the loop path,
            # whose layers become rnnkit::lstm_layer / gru_layer / rnn_layer operators or scans.)
            return super().forward(input, hx)
        return self._forward_loop(input, hx)

    def _forward_one_step(self, input: Tensor, hx: Any) -> tuple[Tensor, Any] | None:
        """A length-1 batched input (streaming) on ATen's cell kernels, the ones ``torch.nn.LSTMCell``
        and ``GRUCell`` call; ``None`` where anything is unusual (torch's own path then runs and
        checks). torch's sequence kernel costs up to 20x a cell call at one step (oneDNN's set-up)."""
        time_dim = 1 if self.batch_first else 0
        if (input.dim() != 3 or input.shape[time_dim] != 1 or self.bidirectional or getattr(self, "proj_size", 0)
                or input.shape[2] != self.input_size or input.dtype != self.weight_ih_l0.dtype):
            return None
        batch = input.shape[1 - time_dim]
        is_lstm = self.mode == "LSTM"
        if hx is None:
            zeros = input.new_zeros(self.num_layers, batch, self.hidden_size)
            hx = (zeros, zeros) if is_lstm else zeros
        tensors = hx if is_lstm else (hx,)
        if not isinstance(tensors, (tuple, list)) or len(tensors) != (2 if is_lstm else 1) or any(
            not isinstance(t, Tensor) or t.shape != (self.num_layers, batch, self.hidden_size) or t.dtype != input.dtype
            for t in tensors
        ):
            return None
        kernel = _STEP_KERNELS[self.mode]
        x = input.squeeze(time_dim)
        finals = []
        per_layer = len(self._flat_weights) // self.num_layers  # w_ih, w_hh[, b_ih, b_hh]
        for k in range(self.num_layers):
            weights = self._flat_weights[k * per_layer:(k + 1) * per_layer]
            state = (tensors[0][k], tensors[1][k]) if is_lstm else tensors[0][k]
            out = kernel(x, state, *weights) if self.bias else kernel(x, state, *weights, None, None)
            finals.append(out)
            x = out[0] if is_lstm else out
            if self.dropout > 0 and self.training and k < self.num_layers - 1:
                x = torch.nn.functional.dropout(x, self.dropout, training=True)
        if is_lstm:
            hidden = (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))
        else:
            hidden = torch.stack(finals)
        return x.unsqueeze(time_dim), hidden

    def _forward_loop(self, input: Tensor | PackedSequence, hx: Any):
        is_lstm = isinstance(self, nn.LSTM)
        packed = isinstance(input, PackedSequence)
        directions = 2 if self.bidirectional else 1
        if packed:
            batch = int(input.batch_sizes[0])
            batched = True
            data = input.data
            if not (data.is_floating_point() or data.is_complex()):
                raise TypeError(f"input: expected a floating-point PackedSequence, got dtype {data.dtype}")
        else:
            if not isinstance(input, Tensor) or input.dim() not in (2, 3):
                got = f"{input.dim()}D tensor" if isinstance(input, Tensor) else type(input).__name__
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {got} instead")
            if not (input.is_floating_point() or input.is_complex()):
                raise TypeError(f"input: expected a floating-point tensor, got dtype {input.dtype}")
            batched = input.dim() == 3
            if not batched:
                input = input.unsqueeze(0 if self.batch_first else 1)
            batch = input.shape[0 if self.batch_first else 1]
            if input.shape[1 if self.batch_first else 0] == 0:  # torch's own message for the native kernel
                raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
            data = input
        hx = self._initial_hidden(hx, batch, data, batched, is_lstm, directions)
        # torch's own checks give torch's own messages for sizes and dtypes.
        self.check_forward_args(data, hx, input.batch_sizes if packed else None)

        if packed:
            x, lengths = pad_packed_sequence(input)
            lengths = lengths.to(x.device) if int(lengths.min()) < x.shape[0] else None
        else:
            x, lengths = (input.transpose(0, 1) if self.batch_first else input), None
        states = [
            LSTMState(hx[0][i], hx[1][i]) if is_lstm else hx[i] for i in range(self.num_layers * directions)
        ]
        out, finals = torch.func.functional_call(
            self._template(), self._bound_parameters(), (x, states, lengths, float(self.dropout), self.training)
        )
        if is_lstm:
            hidden = (torch.stack([s.h for s in finals]), torch.stack([s.c for s in finals]))
        else:
            hidden = torch.stack(finals)

        if packed:
            order = input.sorted_indices
            if order is not None:
                out = out.index_select(1, order)
            sorted_lengths = _lengths_from_batch_sizes(input.batch_sizes)
            repacked = pack_padded_sequence(out, sorted_lengths, enforce_sorted=True)
            out = PackedSequence(repacked.data, input.batch_sizes, input.sorted_indices, input.unsorted_indices)
            return out, hidden
        if self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(0 if self.batch_first else 1)
            hidden = tuple(h.squeeze(1) for h in hidden) if is_lstm else hidden.squeeze(1)
        return out, hidden

    def _initial_hidden(self, hx: Any, batch: int, data: Tensor, batched: bool, is_lstm: bool, directions: int):
        rows = self.num_layers * directions
        if hx is None:
            real = self.proj_size if getattr(self, "proj_size", 0) > 0 else self.hidden_size
            h = torch.zeros(rows, batch, real, dtype=data.dtype, device=data.device)
            if is_lstm:
                return (h, torch.zeros(rows, batch, self.hidden_size, dtype=data.dtype, device=data.device))
            return h
        tensors = hx if is_lstm else (hx,)
        want = 3 if batched else 2
        if any(t.dim() != want for t in tensors):
            dims = ", ".join(f"{t.dim()}-D" for t in tensors)
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got ({dims}) tensor(s)")
        if not batched:
            tensors = tuple(t.unsqueeze(1) for t in tensors)
        return tuple(tensors) if is_lstm else tensors[0]


def _lengths_from_batch_sizes(batch_sizes: Tensor) -> Tensor:
    """Per-sequence lengths, in sorted (descending) order, from a PackedSequence's batch sizes."""
    batch = int(batch_sizes[0])
    return (batch_sizes.unsqueeze(0) > torch.arange(batch).unsqueeze(1)).sum(1)


class RNN(_DropIn, nn.RNN):
    """Drop-in for :class:`torch.nn.RNN` (same arguments) with ``backend="auto" | "native" | "loop"``.

    Example:
        >>> rnn = RNN(10, 20, 2, nonlinearity="relu")
        >>> out, h = rnn(torch.randn(5, 3, 10))
    """

    _cell_class = ElmanCell

    def _cell_options(self) -> dict[str, Any]:
        return {"bias": self.bias, "nonlinearity": self.nonlinearity}


class LSTM(_DropIn, nn.LSTM):
    """Drop-in for :class:`torch.nn.LSTM` (same arguments) with ``backend="auto" | "native" | "loop"``.

    Example:
        >>> lstm = LSTM(10, 20, 2, batch_first=True, proj_size=5)
        >>> out, (h, c) = lstm(torch.randn(3, 5, 10))
    """

    _cell_class = LSTMCell

    def _cell_options(self) -> dict[str, Any]:
        return {"bias": self.bias, "proj_size": self.proj_size, "forget_bias": None}


class GRU(_DropIn, nn.GRU):
    """Drop-in for :class:`torch.nn.GRU` (same arguments) with ``backend="auto" | "native" | "loop"``.

    Example:
        >>> gru = GRU(10, 20, bidirectional=True)
        >>> out, h = gru(torch.randn(5, 3, 10))
    """

    _cell_class = GRUCell


# ``torch.save(model)`` of a whole module that holds drop-ins, then ``torch.load(..., weights_only=True)``
# (what pytorch/examples do) must find these classes allowed, as nn.LSTM is once the user allows it.
if hasattr(torch.serialization, "add_safe_globals"):
    torch.serialization.add_safe_globals([RNN, LSTM, GRU])
