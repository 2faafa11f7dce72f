"""ONNX export: ``torch.onnx.export`` (the dynamo exporter) with rnnkit's recurrent layers as loops in the graph.

Under export, :class:`rnnkit.Recurrent` runs on the graph backend (:mod:`rnnkit.backends.graph`):
standard Elman/LSTM/GRU layers become ONNX ``RNN``/``LSTM``/``GRU`` operators, every other cell one
ONNX ``Scan`` per layer and direction; batch and time stay dynamic and lengths are an input handled
inside the graph (no pack/pad). :func:`export_module` exports any module built on them and checks
it in onnxruntime against PyTorch at other sizes than the example's; :func:`to_onnx` does that for
a ``Recurrent`` stack with named inputs ``x``, ``lengths`` (and optionally the initial state).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.backends.graph import portable_export
from rnnkit.cells.base import State, state_tensors
from rnnkit.layers.recurrent import Recurrent
from rnnkit.optional import require


class ExportError(ValueError):
    """A model (or one of its cells) cannot be exported; the message names what and why."""


@dataclass
class ExportResult:
    """What :func:`export_module` wrote and how it was checked.

    Attributes:
        path: the ``.onnx`` file.
        inputs: input names, in order.
        outputs: output names, in order.
        max_abs_diff: per output, the largest ``|onnxruntime - PyTorch|`` on the check inputs (float32),
            or empty when not checked.
        checked_shapes: the shapes of the check inputs (different from the export example's).
        operators: how many nodes of each ONNX operator type the top-level graph holds.
    """

    path: Path
    inputs: list[str]
    outputs: list[str]
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    checked_shapes: dict[str, list[int]] = field(default_factory=dict)
    operators: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {"path": str(self.path), "inputs": self.inputs, "outputs": self.outputs,
                "max_abs_diff": self.max_abs_diff, "checked_shapes": self.checked_shapes,
                "operators": self.operators}


def _cells_of(module: nn.Module) -> list[str]:
    from rnnkit.cells.base import RecurrentCell

    return sorted({type(m).__name__ for m in module.modules() if isinstance(m, RecurrentCell)})


def check_exportable(module: nn.Module) -> None:
    """Refuse what cannot be exported, naming the cell and why (before tracing, for a clear message).

    Raises:
        ExportError: a cell with complex parameters (ONNX has no complex tensors), a spatial cell.
    """
    from rnnkit.cells.base import RecurrentCell

    for name, sub in module.named_modules():
        if not isinstance(sub, RecurrentCell):
            continue
        kind = type(sub).__name__
        if any(p.is_complex() for p in sub.parameters()):
            raise ExportError(f"{name or 'model'}: {kind} has complex parameters, and ONNX has no complex tensors")


def export_module(
    module: nn.Module,
    path: str | Path,
    args: Sequence[Tensor],
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_shapes: Sequence[dict[int, Any] | None],
    check_args: Sequence[Tensor] | None = None,
    opset: int | None = None,
) -> ExportResult:
    """Export ``module(*args)`` to ONNX with dynamic axes, and check it in onnxruntime.

    Args:
        module: the module (put in evaluation mode for the export, its mode restored after).
        path: the ``.onnx`` file to write (folders are created).
        args: example inputs, one tensor per input.
        input_names: a name per input.
        output_names: a name per output tensor (the module's outputs flattened in order).
        dynamic_shapes: per input, ``{axis: torch.export.Dim}`` of its dynamic axes (or ``None``).
        check_args: inputs of other sizes on which onnxruntime is compared with PyTorch
            (``None``: not checked).
        opset: the ONNX opset (default: the exporter's).

    Returns:
        An :class:`ExportResult`.

    Raises:
        ExportError: when tracing or translating fails; the message names the model's cells.

    Example:
        >>> layer = rnnkit.Recurrent("gru", 3, 4)                               # doctest: +SKIP
        >>> B, T = torch.export.Dim("batch"), torch.export.Dim("time")          # doctest: +SKIP
        >>> export_module(layer, "gru.onnx", (torch.randn(2, 5, 3),), input_names=["x"],
        ...               output_names=["y", "h"], dynamic_shapes=[{0: B, 1: T}])  # doctest: +SKIP
    """
    require("onnxscript", "export")
    require("onnx", "export")
    from rnnkit.export.onnx_ops import translation_table

    check_exportable(module)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = module.training
    module.eval()
    try:
        with portable_export(), torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            logging.getLogger("torch.onnx").setLevel(logging.ERROR)
            try:
                program = torch.onnx.export(
                    module, tuple(args), input_names=list(input_names), output_names=list(output_names),
                    dynamic_shapes=tuple(dynamic_shapes), dynamo=True, verbose=False, opset_version=opset,
                    custom_translation_table=translation_table(), optimize=True,
                )
            except Exception as error:  # the exporters raise many types; say which model and cells
                cells = ", ".join(_cells_of(module)) or "no rnnkit cells"
                raise ExportError(
                    f"model: {type(module).__name__} (cells: {cells}) could not be exported to ONNX: "
                    f"{_why(error)}"
                ) from error
            program.save(str(path))
        result = ExportResult(path, list(input_names), list(output_names))
        for node in program.model_proto.graph.node:
            result.operators[node.op_type] = result.operators.get(node.op_type, 0) + 1
        if check_args is not None:
            result.max_abs_diff = compare(module, path, check_args, input_names, output_names)
            result.checked_shapes = {n: list(a.shape) for n, a in zip(input_names, check_args, strict=True)}
    finally:
        module.train(was_training)
    return result


def _why(error: BaseException) -> str:
    """The exporter's own summary of a failure (its exception line and the user code that caused it)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    step = next((line for line in lines if line.startswith("Failed to")), "").replace(" Next steps:", "")
    summary = next((line for line in lines if line.startswith("<class ")), lines[0] if lines else type(error).__name__)
    cause = next((line for line in lines if line.startswith("Caused by:")), "")
    return " ".join(part for part in (step, summary, cause) if part)


def _flatten(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _flatten(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _flatten(item)]
    raise TypeError(f"outputs: expected tensors, tuples or dicts of tensors, got {type(value).__name__}")


def load_session(path: str | Path, *, threads: int = 1) -> Any:
    """An onnxruntime CPU session of an exported file, ``threads`` intra-op threads.

    Example:
        >>> session = load_session("gru.onnx")                                # doctest: +SKIP
    """
    ort = require("onnxruntime", "export")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only (not the notes about unused initialisers)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_session(path_or_session: Any, inputs: dict[str, Any], *, threads: int = 1) -> list[Any]:
    """Run an exported file (or a :func:`load_session`) on ``{name: tensor or array}``; returns numpy outputs.

    Example:
        >>> y, h = run_session("gru.onnx", {"x": torch.randn(3, 9, 3)})     # doctest: +SKIP
    """
    session = (load_session(path_or_session, threads=threads) if isinstance(path_or_session, (str, Path))
               else path_or_session)
    feed = {name: (value.detach().cpu().numpy() if isinstance(value, Tensor) else value)
            for name, value in inputs.items()}
    return session.run(None, feed)


def compare(module: nn.Module, path: str | Path, args: Sequence[Tensor], input_names: Sequence[str],
            output_names: Sequence[str]) -> dict[str, float]:
    """Largest ``|onnxruntime - PyTorch|`` per output on ``args`` (the module in evaluation mode)."""
    with torch.no_grad():
        expected = _flatten(module(*args))
    got = run_session(path, dict(zip(input_names, args, strict=True)))
    if len(got) != len(expected):
        raise ExportError(f"outputs: the ONNX file has {len(got)} outputs, PyTorch returned {len(expected)}")
    return {name: float((torch.as_tensor(g).double() - e.double()).abs().max()) if e.numel() else 0.0
            for name, g, e in zip(output_names, got, expected, strict=True)}


class RecurrentGraph(nn.Module):
    """A :class:`rnnkit.Recurrent` with plain tensor inputs and outputs, as exported by :func:`to_onnx`.

    ``forward(x, lengths[, state tensors...]) -> (output, final state tensors...)``.
    """

    def __init__(self, layer: Recurrent, *, with_state: bool) -> None:
        super().__init__()
        self.layer = layer
        self.with_state = with_state

    def forward(self, x: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        initial: State | None = None
        if self.with_state:
            state_type = self.layer.first_cell.state_type
            initial = state[0] if state_type is None else state_type(*state)
        out, final = self.layer(x, initial, lengths=lengths)
        return (out, *state_tensors(final))


def to_onnx(
    model: Recurrent | nn.RNNBase,
    path: str | Path,
    *,
    with_state: bool = False,
    example_batch: int = 2,
    example_steps: int = 6,
    check: bool = True,
    opset: int | None = None,
) -> ExportResult:
    """Export a :class:`rnnkit.Recurrent` stack to ONNX with dynamic batch and time axes and a lengths input.

    The file's inputs are ``x`` (``(B, T, I)``, or ``(T, B, I)`` for ``batch_first=False``), ``lengths``
    (int64 ``(B,)``) and, with ``with_state``, the initial state tensors (``h0``, ``c0``, ... stacked
    ``(L * D, B, ...)``); its outputs ``output`` (zero past each sequence's end) and the final state
    (``h``, ``c``, ...: each sequence's state after its last real step). Standard Elman/LSTM/GRU
    layers are ONNX ``RNN``/``LSTM``/``GRU`` operators, every other cell an ONNX ``Scan``.

    Args:
        model: the stack (exported in evaluation mode); a ``torch.nn.RNN``/``LSTM``/``GRU`` (or an rnnkit
            drop-in) is exported as the :meth:`Recurrent.from_torch` copy of it.
        path: the ``.onnx`` file to write.
        with_state: add the initial state as inputs (for streaming or encoder-decoder use).
        example_batch: the example's batch size (any works; the axis stays dynamic).
        example_steps: the example's sequence length (any above 1 works).
        check: compare onnxruntime with PyTorch at batch ``example_batch + 3`` and
            ``2 * example_steps + 1`` steps with random lengths; the result holds the differences.
        opset: the ONNX opset (default: the exporter's).

    Returns:
        An :class:`ExportResult`.

    Raises:
        ExportError: ``model`` is not a ``Recurrent``, or a cell cannot be exported (named, with the reason).

    Example:
        >>> layer = rnnkit.Recurrent("layernorm_lstm", 8, 16, num_layers=2, bidirectional=True)
        >>> result = to_onnx(layer, "stack.onnx")                          # doctest: +SKIP
        >>> result.max_abs_diff                                            # doctest: +SKIP
        {'output': 2.9e-07, 'h': 1.8e-07, 'c': 4.2e-07}
    """
    if isinstance(model, nn.RNNBase) and not isinstance(model, Recurrent):
        # torch.nn.LSTM/GRU/RNN and rnnkit's drop-ins: the same function as a Recurrent (weights copied).
        model = Recurrent.from_torch(model)
    if not isinstance(model, Recurrent):
        raise ExportError(
            f"model: expected an rnnkit.Recurrent (or a torch.nn.RNN/LSTM/GRU), got {type(model).__name__}"
        )
    if model.feature_axes != 1:
        raise ExportError(
            f"model: {type(model.first_cell).__name__} is a spatial cell (image steps); to_onnx exports vector cells"
        )
    cell = model.first_cell
    names = list(cell.state_type._fields) if cell.state_type is not None else ["h"]
    batch_dim = 0 if model.batch_first else 1
    dims = (torch.export.Dim("batch"), torch.export.Dim("time"))

    def inputs(batch: int, steps: int, generator: torch.Generator) -> list[Tensor]:
        shape = (batch, steps) if model.batch_first else (steps, batch)
        dtype = next(model.parameters()).dtype
        x = torch.randn(*shape, model.input_size, generator=generator, dtype=dtype)
        lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
        lengths[0] = steps
        args = [x, lengths]
        if with_state:
            zeros = state_tensors(model.initial_state(batch, dtype=dtype))
            args += [torch.randn(t.shape, generator=generator, dtype=dtype) for t in zeros]
        return args

    generator = torch.Generator().manual_seed(0)
    example = inputs(example_batch, example_steps, generator)
    check_args = inputs(example_batch + 3, 2 * example_steps + 1, generator) if check else None
    x_axes = {batch_dim: dims[0], 1 - batch_dim: dims[1]}
    dynamic: list[Any] = [x_axes, {0: dims[0]}]
    input_names = ["x", "lengths"]
    if with_state:
        dynamic.append(tuple({1: dims[0]} for _ in names))  # forward's *state: one nested entry
        input_names += [f"{n}0" for n in names]
    return export_module(
        RecurrentGraph(model, with_state=with_state), path, example, input_names=input_names,
        output_names=["output", *names], dynamic_shapes=dynamic, check_args=check_args, opset=opset,
    )


def app_manifest(app: str, results: list[ExportResult], *, notes: list[str], extra: dict | None = None) -> dict:
    """The manifest an application's export writes beside its graphs (``<out>.json``)."""
    return {"app": app, "format": "onnx", "graphs": [r.to_dict() for r in results], "notes": notes, **(extra or {})}
