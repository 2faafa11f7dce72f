"""Export of rnnkit models: ONNX with dynamic batch and time axes and lengths inside the graph.

:func:`to_onnx` exports a :class:`rnnkit.Recurrent` stack, :func:`export_module` any module built
on them, :func:`export_saved_model` an application's saved model (``rnnkit export --model DIR``).
See ``docs/export.md``.
"""

from rnnkit.export.onnx import (
    ExportError,
    ExportResult,
    RecurrentGraph,
    export_module,
    load_session,
    run_session,
    to_onnx,
)

__all__ = ["ExportError", "ExportResult", "RecurrentGraph", "export_module", "load_session", "run_session", "to_onnx"]
