"""ONNX export of the applications' saved models (``rnnkit export --model DIR --format onnx``).

Each exporter takes a loaded estimator, wraps its network in a module with plain tensor inputs and
outputs (what the ONNX file's inputs and outputs are), exports it with :func:`export_module` and
checks it in onnxruntime against PyTorch at another batch size and sequence length than the
export example's. What stays outside the graph, by design, is said in each exporter's docstring
and in ``docs/export.md``: tokenizers, scaling to and from the data's units, decoding searches.

Every export writes ``<out>.onnx`` (or several files for several graphs) and ``<out>.json``, a
manifest of the files, their inputs and outputs, and the parity measured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.export.onnx import ExportError, ExportResult, export_module


class ForecastGraph(nn.Module):
    """A forecasting network as an exported graph: scaled windows in, mean and quantiles out (scaled units).

    ``forward(past_target (B, C), past_observed (B, C), past_features (B, C, F), future_features (B, H, F))
    -> (mean (B, H), one (B, H) tensor per quantile)``.
    """

    def __init__(self, network: nn.Module, quantiles: tuple[float, ...]) -> None:
        super().__init__()
        self.network = network
        self.quantiles = quantiles

    def forward(self, past_target: Tensor, past_observed: Tensor, past_features: Tensor,
                future_features: Tensor) -> tuple[Tensor, ...]:
        batch = {"past_target": past_target, "past_observed": past_observed, "past_features": past_features,
                 "future_features": future_features}
        result = self.network.forecast(batch, self.quantiles, num_samples=0)
        return (result["mean"], *(result["quantiles"][q] for q in self.quantiles))


def export_forecaster(estimator: Any, out: Path, *, quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)) -> dict:
    """Export a :class:`~rnnkit.tasks.forecast.Forecaster`'s network (direct decoder).

    Inputs are the network's scaled windows, as :meth:`Forecaster.network_inputs` builds them
    (``(y - level) / scale`` over the context, observed flags, calendar and covariate features);
    outputs the mean and each quantile in the same scaled units: the forecast in the data's units
    is ``level + scale * output``. The batch and the context length are dynamic, the horizon is the
    trained one. Not exported: the autoregressive decoder (it draws Monte Carlo sample paths), the
    Student-t quantiles other than the median (also sampled), and the fallback selection (a
    choice between the network and statistical baselines, made in Python).
    """
    cfg = estimator.config
    if cfg.decoder != "direct":
        raise ExportError(
            f"model: the forecaster's decoder is {cfg.decoder!r}; only the direct decoder exports (the "
            "autoregressive one draws Monte Carlo sample paths, which an ONNX graph cannot reproduce)"
        )
    if cfg.likelihood == "student_t" and any(q != 0.5 for q in quantiles):
        raise ExportError(
            f"quantiles: a Student-t forecaster's quantiles other than 0.5 are Monte Carlo estimates; "
            f"got {list(quantiles)}; export with quantiles=(0.5,)"
        )
    history = estimator.history_
    batch = estimator.network_inputs(history, cfg.horizon)
    names = ["past_target", "past_observed", "past_features", "future_features"]
    example = [batch[n].float() for n in names]
    example[1] = example[1].float()
    # Check on more windows than saved series (and a shorter context): each window shifted and rescaled.
    repeat = example[0].shape[0] + 2
    generator = torch.Generator().manual_seed(0)
    check = [t.repeat(repeat, *([1] * (t.dim() - 1)))[:repeat] for t in example]
    check[0] = check[0] + 0.1 * torch.randn(check[0].shape, generator=generator)
    check = [t[:, 3:] if i < 3 else t for i, t in enumerate(check)]
    b, c = torch.export.Dim("batch"), torch.export.Dim("context")
    network = estimator.network.float()
    graph = ForecastGraph(network, tuple(quantiles))
    output_names = ["mean", *(f"q{q:g}" for q in quantiles)]
    result = export_module(
        graph, out, example, input_names=names, output_names=output_names,
        dynamic_shapes=[{0: b, 1: c}, {0: b, 1: c}, {0: b, 1: c}, {0: b}], check_args=check,
    )
    return _manifest(
        "forecast", [result],
        notes=["inputs: Forecaster.network_inputs(history, horizon) gives them, with level and scale per series",
               "forecast in the data's units = level + scale * output (mean and each quantile)",
               "the fallback selection between the network and the statistical baselines is not in the graph"],
        extra={"horizon": cfg.horizon, "quantiles": list(quantiles)},
    )


def export_classifier(estimator: Any, out: Path) -> dict:
    """Export a classifier's network: token ids (or feature vectors) and lengths in, logits out.

    The tokenizer stays outside the graph: ``estimator.encode_for_export(texts)`` (or the estimator's
    own tokenizer) turns texts into ids. Inputs ``inputs`` int64 ``(B, T)`` (feature inputs: float32
    ``(B, T, F)``) and ``lengths`` int64 ``(B,)``, batch and length dynamic; output ``logits``
    ``(B, C)`` (softmax, or a sigmoid per class for multi-label models, gives the probabilities
    ``predict_proba`` returns; ``estimator.classes_`` names the columns).
    """
    network = estimator.network_
    if network is None:
        raise ExportError("model: the classifier is not fitted")
    options = network.get_config()
    generator = torch.Generator().manual_seed(0)

    def inputs(batch: int, steps: int) -> list[Tensor]:
        if options["vocab_size"] is not None:
            x = torch.randint(1, options["vocab_size"], (batch, steps), generator=generator)
        else:
            x = torch.randn(batch, steps, options["input_size"], generator=generator)
        lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
        lengths[0] = steps
        return [x, lengths]

    b, t = torch.export.Dim("batch"), torch.export.Dim("time")
    x_axes = {0: b, 1: t}
    result = export_module(
        _Logits(network), out, inputs(2, 7), input_names=["inputs", "lengths"], output_names=["logits"],
        dynamic_shapes=[x_axes, {0: b}], check_args=inputs(5, 13),
    )
    return _manifest(
        "classify", [result],
        notes=["the tokenizer is outside the graph: ids from the saved model's tokenizer.json (Hugging Face "
               "tokenizers), padded with 0 to the longest text, lengths = the number of ids of each text",
               "probabilities: softmax(logits) (multi-label: sigmoid), columns in the order of classes"],
        extra={"classes": [str(c) for c in getattr(estimator, "classes_", [])],
               "multi_label": bool(options.get("multi_label"))},
    )


class _Logits(nn.Module):
    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        return self.network(inputs, lengths)


def _manifest(app: str, results: list[ExportResult], *, notes: list[str], extra: dict | None = None) -> dict:
    return {"app": app, "format": "onnx", "graphs": [r.to_dict() for r in results], "notes": notes, **(extra or {})}


EXPORTERS: dict[str, Callable[..., dict]] = {
    "forecast": export_forecaster,
    "classify": export_classifier,
}


def export_saved_model(model_dir: str | Path, out: str | Path | None = None, *, format: str = "onnx") -> dict:
    """Export an application's saved model (``runs/<app>/<name>/model``) to ONNX.

    Args:
        model_dir: the saved model's directory (what ``rnnkit <app> train`` wrote as ``model/``).
        out: the ``.onnx`` file to write (default: ``<model_dir>.onnx`` beside the directory); the
            manifest goes beside it as ``.json``.
        format: ``"onnx"`` (the only one).

    Returns:
        The manifest (also written as ``<out>.json``): files, inputs, outputs, parity measured.

    Raises:
        ExportError: ``model_dir`` is not an rnnkit model, its application has no exporter, or the
            model cannot be exported (the message says why).

    Example:
        >>> export_saved_model("runs/forecast/sunspots/model")          # doctest: +SKIP
    """
    from rnnkit.serialization import SerializationError, load
    from rnnkit.tasks.framework.estimator import Estimator

    if format != "onnx":
        raise ExportError(f"format: expected 'onnx', got {format!r}")
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise ExportError(f"model: {model_dir} is not an rnnkit model directory (no config.json inside); give "
                          "the model/ folder a run wrote, e.g. runs/forecast/<name>/model")
    try:
        estimator = load(model_dir)
    except SerializationError as error:
        raise ExportError(f"model: {model_dir} is not a loadable rnnkit model: {error}") from None
    if not isinstance(estimator, Estimator):
        raise ExportError(f"model: {model_dir} holds a {type(estimator).__name__}, not an application's model; "
                          "use rnnkit.export.to_onnx for a Recurrent stack")
    exporter = EXPORTERS.get(estimator.app_name)
    if exporter is None:
        raise ExportError(f"model: rnnkit {estimator.app_name} models have no exporter yet; exportable: "
                          f"{', '.join(sorted(EXPORTERS))}")
    out = Path(out) if out is not None else model_dir.with_name(model_dir.name + ".onnx")
    if out.suffix != ".onnx":
        raise ExportError(f"out: expected a file name ending in .onnx, got {out}")
    manifest = exporter(estimator, out)
    manifest["model"] = str(model_dir)
    out.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
