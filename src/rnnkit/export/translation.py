"""ONNX export of a saved translator (``rnnkit translate``): the encoder and one decoder step as two
graphs; :class:`OnnxTranslator` lets rnnkit's beam search drive them over onnxruntime. The subword
tokenizers stay outside. Dispatched by :func:`rnnkit.export.apps.export_saved_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.cells.base import state_tensors
from rnnkit.export.onnx import ExportError, app_manifest, export_module


class TranslatorEncoder(nn.Module):
    """``forward(src (B, S), src_lengths (B,)) -> (outputs, keys, mask, initial decoder state tensors...)``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, ...]:
        memory = self.network.encode(src, src_lengths)
        keys = memory.keys if memory.keys is not None else memory.outputs[..., :0]
        return (memory.outputs, keys, memory.mask, *state_tensors(memory.state))


class TranslatorDecoderStep(nn.Module):
    """One decoder step: ``forward(tokens (N,), feed (N, H), outputs, keys, mask, state tensors...)
    -> (log_probs (N, V), next feed, attention (N, S), next state tensors...)``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.layout = network.decoder.first_cell.state_type

    def forward(self, tokens: Tensor, feed: Tensor, outputs: Tensor, keys: Tensor, mask: Tensor,
                *state: Tensor) -> tuple[Tensor, ...]:
        from rnnkit.models.seq2seq import DecoderState, Memory

        rnn = state[0] if self.layout is None else self.layout(*state)
        keys_or_none = keys if self.network.attention is not None else None
        memory = Memory(outputs, keys_or_none, mask, mask.sum(1), rnn)
        log_probs, next_state, weights = self.network.step(tokens, DecoderState(rnn, feed), memory)
        attention = weights if weights is not None else mask.to(outputs.dtype)
        return (log_probs, next_state.feed, attention, *state_tensors(next_state.rnn))


class OnnxTranslator:
    """A translator's encoder and decoder step over onnxruntime, with ``Seq2Seq``'s decoding interface
    (``encode``, ``start``, ``step``, ``bos_id``, ``eos_id``, ``pad_id``), so that rnnkit's beam search,
    greedy and sampling decoders (:mod:`rnnkit.models.decoding`) drive it from Python unchanged.

    Example:
        >>> onnx_model = OnnxTranslator("model.encoder.onnx", "model.decoder.onnx", manifest)   # doctest: +SKIP
        >>> hyps = rnnkit.models.decoding.beam_search(onnx_model, src, lengths, beam_size=5)   # doctest: +SKIP
    """

    def __init__(self, encoder: str | Path, decoder: str | Path, manifest: dict) -> None:
        from rnnkit.export.onnx import load_session

        self.encoder, self.decoder = load_session(encoder), load_session(decoder)
        self.bos_id, self.eos_id, self.pad_id = manifest["bos_id"], manifest["eos_id"], manifest["pad_id"]
        self.hidden_size = manifest["hidden_size"]
        self.state_names = manifest["state_names"]

    def encode(self, src: Tensor, src_lengths: Tensor):
        from rnnkit.models.seq2seq import Memory

        outputs, keys, mask, *state = (torch.as_tensor(a) for a in self.encoder.run(
            None, {"src": src.numpy(), "src_lengths": torch.as_tensor(src_lengths).numpy()}))
        return Memory(outputs, keys, mask, torch.as_tensor(src_lengths), tuple(state))

    def start(self, memory):
        from rnnkit.models.seq2seq import DecoderState

        return DecoderState(memory.state, memory.outputs.new_zeros(memory.outputs.shape[0], self.hidden_size))

    def step(self, tokens: Tensor, state, memory):
        from rnnkit.models.seq2seq import DecoderState

        feed = {"tokens": tokens.numpy(), "feed": state.feed.numpy(), "outputs": memory.outputs.numpy(),
                "keys": memory.keys.numpy(), "mask": memory.mask.numpy(),
                **{f"state_{n}": t.numpy() for n, t in zip(self.state_names, state.rnn, strict=True)}}
        log_probs, next_feed, attention, *rnn = (torch.as_tensor(a) for a in self.decoder.run(None, feed))
        return log_probs, DecoderState(tuple(rnn), next_feed), attention


def export_translator(estimator: Any, out: Path) -> dict:
    """Export a translator as two graphs: the encoder (``<out stem>.encoder.onnx``) and one decoder
    step (``<out stem>.decoder.onnx``).

    Encoder: ``src`` int64 ``(B, S)`` and ``src_lengths`` in; ``outputs``, attention ``keys``, ``mask``
    and the bridged initial decoder state out. Decoder step: the previous ``tokens`` ``(N,)``, the
    fed-back attentional vector ``feed`` ``(N, H)`` (zeros at the start), the encoder's outputs for
    the same ``N`` rows and the state in; ``log_probs`` ``(N, V)``, the next ``feed``, the
    ``attention`` weights and the next state out. Batch, source and hypothesis counts are dynamic.
    The search (beam, greedy, sampling, constraints) stays in Python: :class:`OnnxTranslator` gives
    the sessions the network's decoding interface, so :mod:`rnnkit.models.decoding` drives them;
    the subword tokenizers (``src_tokenizer.json``, ``tgt_tokenizer.json``) stay outside too.
    """
    network = estimator.network
    if network is None:
        raise ExportError("model: the translator is not fitted")
    generator = torch.Generator().manual_seed(0)
    vocab_src, vocab_tgt = network.src_embed.num_embeddings, network.tgt_embed.num_embeddings

    def source(batch: int, steps: int) -> list[Tensor]:
        lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
        lengths[0] = steps
        src = torch.randint(4, vocab_src, (batch, steps), generator=generator)
        return [src.masked_fill(torch.arange(steps)[None] >= lengths[:, None], network.pad_id), lengths]

    layout = network.decoder.first_cell.state_type
    state_names = list(layout._fields) if layout is not None else ["h"]
    b, s = torch.export.Dim("batch"), torch.export.Dim("source")
    encoder_out = out.with_name(out.stem + ".encoder.onnx")
    encoder = export_module(
        TranslatorEncoder(network), encoder_out, source(2, 6), input_names=["src", "src_lengths"],
        output_names=["outputs", "keys", "mask", *(f"state_{n}" for n in state_names)],
        dynamic_shapes=[{0: b, 1: s}, {0: b}], check_args=source(3, 11),
    )

    def step_inputs(batch: int, steps: int) -> list[Tensor]:
        src, lengths = source(batch, steps)
        with torch.no_grad():
            memory = network.encode(src, lengths)
        keys = memory.keys if memory.keys is not None else memory.outputs[..., :0]
        tokens = torch.randint(4, vocab_tgt, (batch,), generator=generator)
        feed = torch.randn(batch, network.hidden_size, generator=generator)
        return [tokens, feed, memory.outputs, keys, memory.mask, *state_tensors(memory.state)]

    decoder = export_module(
        TranslatorDecoderStep(network), out.with_name(out.stem + ".decoder.onnx"), step_inputs(2, 6),
        input_names=["tokens", "feed", "outputs", "keys", "mask", *(f"state_{n}" for n in state_names)],
        output_names=["log_probs", "next_feed", "attention", *(f"next_state_{n}" for n in state_names)],
        dynamic_shapes=[{0: b}, {0: b}, {0: b, 1: s}, {0: b, 1: s}, {0: b, 1: s},
                        tuple({1: b} for _ in state_names)],
        check_args=step_inputs(5, 9),
    )
    return app_manifest(
        "translate", [encoder, decoder],
        notes=["beam search in Python over the two sessions: rnnkit.export.apps.OnnxTranslator + "
               "rnnkit.models.decoding.beam_search", "the subword tokenizers stay outside the graphs"],
        extra={"bos_id": network.bos_id, "eos_id": network.eos_id, "pad_id": network.pad_id,
               "hidden_size": network.hidden_size, "state_names": state_names},
    )
