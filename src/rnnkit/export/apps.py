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

from rnnkit.cells.base import state_tensors
from rnnkit.export.onnx import ExportError, app_manifest, export_module
from rnnkit.export.speech import export_recognizer
from rnnkit.export.translation import export_translator


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
    return app_manifest(
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
    return app_manifest(
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


class LanguageModelStep(nn.Module):
    """One step of a language model: ``forward(token (B,), state tensors...) -> (logits (B, V), state tensors...)``.

    The state is each layer's tensors in order (``h0, c0, h1, c1, ...`` for LSTM layers), each ``(1, B, H)``.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.layouts = [layer.first_cell.state_type for layer in network.layers]

    def forward(self, token: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        states, index = [], 0
        for layout in self.layouts:
            width = 1 if layout is None else len(layout._fields)
            part = state[index:index + width]
            states.append(part[0] if layout is None else layout(*part))
            index += width
        logits, finals = self.network.step(token, states)
        return (logits, *(t for final in finals for t in state_tensors(final)))


def export_language_model(estimator: Any, out: Path) -> dict:
    """Export a language model's single step with its state in and out (generation drives the loop).

    Inputs ``token`` int64 ``(B,)`` and the state tensors (``state_<layer>_<name>``, ``(1, B, H)``,
    zeros to start); outputs ``logits`` ``(B, V)`` and the next state under ``next_<layer>_<name>``.
    The batch is dynamic. The tokenizer (``tokenizer.json`` in the saved model) and the sampling
    (temperature, top-k/top-p) stay outside the graph, in Python.
    """
    network = estimator.network
    if network is None:
        raise ExportError("model: the language model is not fitted")
    step = LanguageModelStep(network)
    names = []
    for k, layer in enumerate(network.layers):
        layout = layer.first_cell.state_type
        names += [f"{k}_{n}" for n in (layout._fields if layout is not None else ("h",))]
    generator = torch.Generator().manual_seed(0)

    def inputs(batch: int) -> list[Tensor]:
        states = [t for layer in network.layers for t in state_tensors(layer.initial_state(batch))]
        return [torch.randint(0, network.vocab_size, (batch,), generator=generator),
                *(torch.randn(t.shape, generator=generator) for t in states)]

    b = torch.export.Dim("batch")
    result = export_module(
        step, out, inputs(2), input_names=["token", *(f"state_{n}" for n in names)],
        output_names=["logits", *(f"next_{n}" for n in names)],
        dynamic_shapes=[{0: b}, tuple({1: b} for _ in names)], check_args=inputs(5),
    )
    return app_manifest(
        "lm", [result],
        notes=["one step: feed each output next_* back as state_* (zeros for the first token)",
               "the tokenizer (tokenizer.json) and the sampling (temperature, top-k) stay in Python"],
        extra={"vocab_size": network.vocab_size},
    )


class TaggerEmissions(nn.Module):
    """A tagger's emission scores: ``forward(words, lengths[, chars, char_lengths]) -> emissions (B, T, K)``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, words: Tensor, lengths: Tensor, *chars: Tensor) -> Tensor:
        batch = {"words": words, "lengths": lengths}
        if chars:
            batch["chars"], batch["char_lengths"] = chars
        return self.network.emissions(batch)


def export_tagger(estimator: Any, out: Path) -> dict:
    """Export a tagger's emission scores; the Viterbi decoding stays outside the graph.

    Inputs ``words`` int64 ``(B, T)``, ``lengths`` ``(B,)`` and, for a character-aware tagger,
    ``chars`` ``(B, T, C)`` and ``char_lengths`` ``(B, T)`` (ids from the saved vocabularies, as
    ``rnnkit.data.tag_batches.encode_batch`` makes them); output ``emissions`` ``(B, T, K)``. For a
    CRF tagger the manifest holds the CRF's scores (``transitions``, ``start``, ``end``, with the
    scheme's forbidden moves already penalised): Viterbi over them, e.g. with
    ``estimator.network.crf.decode(emissions, lengths)``, gives the tags; without a CRF, the
    arg-max of each position.
    """
    network = estimator.network
    if network is None:
        raise ExportError("model: the tagger is not fitted")
    words_vocab = len(estimator.words_)
    with_chars = network.chars is not None
    generator = torch.Generator().manual_seed(0)

    def inputs(batch: int, steps: int, width: int) -> list[Tensor]:
        lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
        lengths[0] = steps
        real = torch.arange(steps)[None, :] < lengths[:, None]
        words = torch.randint(2, words_vocab, (batch, steps), generator=generator) * real
        args = [words, lengths]
        if with_chars:
            char_lengths = torch.randint(1, width + 1, (batch, steps), generator=generator) * real
            chars = torch.randint(2, len(estimator.chars_), (batch, steps, width), generator=generator)
            chars = chars * (torch.arange(width)[None, None, :] < char_lengths[..., None])
            args += [chars, char_lengths]
        return args

    b, t, c = torch.export.Dim("batch"), torch.export.Dim("time"), torch.export.Dim("chars")
    dynamic: list[Any] = [{0: b, 1: t}, {0: b}]
    names = ["words", "lengths"]
    if with_chars:
        dynamic.append(({0: b, 1: t, 2: c}, {0: b, 1: t}))
        names += ["chars", "char_lengths"]
    result = export_module(
        TaggerEmissions(network), out, inputs(2, 5, 4), input_names=names, output_names=["emissions"],
        dynamic_shapes=dynamic, check_args=inputs(4, 9, 6),
    )
    extra: dict[str, Any] = {"tags": list(estimator.tags_.items)}
    if network.crf is not None:
        transitions, start, end = (s.detach() for s in network.crf._scores())
        extra["crf"] = {"transitions": transitions.tolist(), "start": start.tolist(), "end": end.tolist()}
    return app_manifest(
        "tag", [result],
        notes=["inputs: rnnkit.data.tag_batches.encode_batch(sentences, words, chars) with the saved vocabularies",
               "decoding outside the graph: Viterbi over emissions with the manifest's crf scores "
               "(estimator.network.crf.decode), else the arg-max per token"],
        extra=extra,
    )


EXPORTERS: dict[str, Callable[..., dict]] = {
    "forecast": export_forecaster,
    "classify": export_classifier,
    "lm": export_language_model,
    "tag": export_tagger,
    "transcribe": export_recognizer,
    "translate": export_translator,
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
