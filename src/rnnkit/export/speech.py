"""ONNX export of a saved speech recogniser (``rnnkit transcribe``): the offline graph (features in,
CTC log-probabilities out) and one streaming step with the recurrent state as input and output,
driven chunk by chunk from Python by :class:`OnnxCTCStreamer`. Decoding (greedy or beam) stays in
Python. Dispatched by :func:`rnnkit.export.apps.export_saved_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.cells.base import state_tensors
from rnnkit.export.onnx import ExportError, app_manifest, export_module


class RecognizerOffline(nn.Module):
    """A CTC recogniser over whole utterances: ``(features (B, T, n_mels), lengths) -> (log_probs, output_lengths)``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.network(features, lengths)


class RecognizerStreamStep(nn.Module):
    """The recurrent part of a streaming CTC recogniser: front-end frames and state in, log-probs and state out.

    ``forward(frames (B, n, F), state tensors (L, B, H)...) -> (log_probs (B, n, V), next state tensors...)``.
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.layout = network.crnn.recurrent.first_cell.state_type

    def forward(self, frames: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        initial = state[0] if self.layout is None else self.layout(*state)
        out, final = self.network.crnn.recurrent(frames, initial)
        return (torch.log_softmax(self.network.head(out), dim=-1), *state_tensors(final))


class OnnxCTCStreamer:
    """:class:`rnnkit.models.ctc.CTCStreamer` with its recurrent step run by onnxruntime (an exported stream step).

    The front end's window bookkeeping stays in Python (PyTorch); each chunk's recurrent stack and
    head run in the exported graph, the state passed in and out as arrays.

    Example:
        >>> stream = OnnxCTCStreamer(recognizer.network, "speech.stream.onnx")   # doctest: +SKIP
        >>> parts = [stream.push(chunk) for chunk in chunks] + [stream.finish()]   # doctest: +SKIP
    """

    def __init__(self, network: nn.Module, path: str | Path) -> None:
        from rnnkit.export.onnx import load_session, run_session
        from rnnkit.models.ctc import CTCStreamer

        self._run = run_session
        self.session = load_session(path)
        self.streamer = CTCStreamer(network)
        self.streamer.recurrent_step = self._step  # the one step that changes
        layer = network.crnn.recurrent
        self.state = [t.numpy() for t in state_tensors(layer.initial_state(1))]

    def _step(self, chunk: Tensor) -> Tensor:
        names = ["frames", *(f"state_{i}" for i in range(len(self.state)))]
        log_probs, *self.state = self._run(self.session, dict(zip(names, [chunk.float(), *self.state], strict=True)))
        return torch.as_tensor(log_probs[0])

    def push(self, frames: Tensor) -> Tensor:
        """Log-probabilities of the output frames that ``frames`` ``(n, n_mels)`` complete."""
        return self.streamer.push(frames)

    def finish(self) -> Tensor:
        """The remaining output frames."""
        return self.streamer.finish()


def export_recognizer(estimator: Any, out: Path) -> dict:
    """Export a speech recogniser: the offline graph and, for a unidirectional model, the stream step.

    ``<out>.onnx``: ``features`` ``(B, T, n_mels)`` (normalised log-mel features, as
    ``SpeechRecognizer`` computes them) and ``lengths`` in; CTC ``log_probs`` ``(B, T', V)`` and
    ``output_lengths`` out. ``<out stem>.stream.onnx``: the recurrent stack and head over front-end
    frames with the state in and out (``state_0``...) for streaming; :class:`OnnxCTCStreamer` drives
    it (the front end's windowing stays in Python). Audio loading, log-mel features, their
    normalisation and the CTC beam search (lexicon, language model) stay outside the graphs.
    """
    network = estimator.network
    if network is None:
        raise ExportError("model: the recogniser is not fitted")
    generator = torch.Generator().manual_seed(0)

    def offline(batch: int, steps: int) -> list[Tensor]:
        lengths = torch.randint(steps // 2, steps + 1, (batch,), generator=generator)
        lengths[0] = steps
        return [torch.randn(batch, steps, network.n_mels, generator=generator), lengths]

    b, t = torch.export.Dim("batch"), torch.export.Dim("time")
    results = [export_module(
        RecognizerOffline(network), out, offline(2, 24), input_names=["features", "lengths"],
        output_names=["log_probs", "output_lengths"], dynamic_shapes=[{0: b, 1: t}, {0: b}],
        check_args=offline(3, 41),
    )]
    notes = ["features: the recogniser's normalised log-mel features; the CTC beam search stays in Python"]
    if not network.bidirectional:
        layer = network.crnn.recurrent
        width = network.crnn.front_end.output_size

        def stream(batch: int, steps: int) -> list[Tensor]:
            states = [torch.randn(s.shape, generator=generator) for s in state_tensors(layer.initial_state(batch))]
            return [torch.randn(batch, steps, width, generator=generator), *states]

        count = len(state_tensors(layer.initial_state(1)))
        results.append(export_module(
            RecognizerStreamStep(network), out.with_name(out.stem + ".stream.onnx"), stream(2, 3),
            input_names=["frames", *(f"state_{i}" for i in range(count))],
            output_names=["log_probs", *(f"next_state_{i}" for i in range(count))],
            dynamic_shapes=[{0: b, 1: t}, tuple({1: b} for _ in range(count))], check_args=stream(3, 7),
        ))
        notes.append("streaming: rnnkit.export.apps.OnnxCTCStreamer(network, '<out>.stream.onnx') runs the stream "
                     "step over onnxruntime, the front end's windowing in Python")
    return app_manifest("transcribe", results, notes=notes, extra={"alphabet_size": network.vocab_size})
