"""Encoder-decoder with attention for translation (Sutskever et al. 2014; Bahdanau et al. 2015; Luong et al. 2015).

Encoder: source embeddings -> a bidirectional :class:`rnnkit.Recurrent` stack of any cell, each
direction ``hidden_size // 2`` wide (so the concatenated outputs are ``hidden_size``, as in
OpenNMT's ``brnn``); variable lengths are handled by the driver (``lengths=``).

Bridge: the decoder's initial state is ``tanh(W [h_fwd; h_bwd])`` of the top encoder layer's final
states, one linear map per state tensor (``h`` and ``c`` for an LSTM), for every decoder layer.

Decoder, one step (Luong et al. 2015, §3 with input feeding, §3.3)::

    x_t      = [embed(y_{t-1}); h~_{t-1}]           input feeding (h~_0 = 0)
    o_t, s_t = decoder_rnn.step(x_t, s_{t-1})       any rnnkit cell, num_layers
    c_t, a_t = attention(o_t, encoder outputs)      additive / general / dot, masked by lengths
    h~_t     = tanh(W_c [c_t; o_t])                 the attentional vector
    p(y_t)   = softmax(E_tgt P h~_t + b)            tied output embeddings (P: H -> E when E != H)

Without attention (``attention="none"``) ``h~_t = o_t`` and nothing is fed back: the plain
encoder-decoder baseline. Training is teacher forcing with label-smoothed cross-entropy
(Szegedy et al. 2016) over the real target tokens.

The decoding interface (used by :mod:`rnnkit.models.decoding`): :meth:`Seq2Seq.encode` ->
:class:`Memory`, :meth:`Seq2Seq.start` -> :class:`DecoderState`, :meth:`Seq2Seq.step` -> log
probabilities, and :meth:`Memory.select` / :meth:`DecoderState.select` to reorder hypotheses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells import map_state, state_tensors
from rnnkit.layers import Recurrent
from rnnkit.models.attention import ATTENTION_KINDS, Attention


@dataclass
class Memory:
    """What the decoder reads from the encoder, for ``N`` rows (sentences or hypotheses).

    Attributes:
        outputs: encoder outputs ``(N, S, H)``, zero past each length.
        keys: their prepared attention keys ``(N, S, K)`` (None without attention).
        mask: ``(N, S)``, True at real source positions.
        lengths: ``(N,)`` source lengths.
        state: the bridged initial decoder state (each tensor ``(L, N, ...)``).
    """

    outputs: Tensor
    keys: Tensor | None
    mask: Tensor
    lengths: Tensor
    state: Any

    def select(self, index: Tensor) -> Memory:
        """The rows ``index`` (e.g. each sentence repeated ``beam`` times)."""
        return Memory(self.outputs.index_select(0, index),
                      None if self.keys is None else self.keys.index_select(0, index),
                      self.mask.index_select(0, index), self.lengths.index_select(0, index),
                      map_state(lambda t: t.index_select(1, index), self.state))


class DecoderState(NamedTuple):
    """The decoder's recurrent state (tensors ``(L, N, ...)``) and the fed-back attentional vector ``(N, H)``."""

    rnn: Any
    feed: Tensor

    def select(self, index: Tensor) -> DecoderState:
        """The rows ``index`` (hypotheses reordered by the beam)."""
        return DecoderState(map_state(lambda t: t.index_select(1, index), self.rnn), self.feed.index_select(0, index))


class Seq2Seq(nn.Module):
    """A bidirectional recurrent encoder and an attentional recurrent decoder.

    Args:
        src_vocab_size: source vocabulary size.
        tgt_vocab_size: target vocabulary size.
        embed_size: embedding size ``E``.
        hidden_size: decoder state and attentional vector size ``H`` (the encoder uses ``H // 2``
            per direction; must be even).
        cell: any rnnkit cell (name or class) for encoder and decoder.
        encoder_layers, decoder_layers: stack depths.
        attention: ``"general"``, ``"dot"``, ``"additive"`` or ``"none"``.
        input_feeding: feed ``h~_{t-1}`` into the next decoder step (ignored without attention).
        dropout: on embeddings, between layers and on the attentional vector.
        tie_embeddings: the output layer shares the target embedding matrix (Press & Wolf 2017).
        share_embeddings: source and target share one embedding (joint vocabulary; sizes must match).
        label_smoothing: the cross-entropy's smoothing.
        pad_id, bos_id, eos_id: special token ids (the same in both vocabularies).

    Shape:
        ``src`` ``(B, S)`` long, right-padded; ``src_lengths`` ``(B,)``; ``tgt_in``/``tgt_out``
        ``(B, T)``; ``forward`` returns logits ``(B, T, V_tgt)`` and attention ``(B, T, S)``.

    Example:
        >>> model = Seq2Seq(20, 20, embed_size=8, hidden_size=8)
        >>> src = torch.tensor([[5, 6, 7], [8, 9, 0]])
        >>> logits, attn = model(src, torch.tensor([3, 2]), torch.tensor([[1, 5], [1, 6]]))
        >>> logits.shape, float(attn[1, :, 2].abs().sum())
        (torch.Size([2, 2, 20]), 0.0)
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, *, embed_size: int = 256, hidden_size: int = 256,
                 cell: str | type = "lstm", encoder_layers: int = 1, decoder_layers: int = 1,
                 attention: str = "general", input_feeding: bool = True, dropout: float = 0.1,
                 tie_embeddings: bool = True, share_embeddings: bool = False, label_smoothing: float = 0.1,
                 pad_id: int = 0, bos_id: int = 1, eos_id: int = 2) -> None:
        super().__init__()
        if hidden_size < 2 or hidden_size % 2:
            raise ValueError(f"hidden_size: expected an even number >= 2 (each encoder direction has half), "
                             f"got {hidden_size!r}")
        if attention not in (*ATTENTION_KINDS, "none"):
            raise ValueError(f"attention: expected one of {[*ATTENTION_KINDS, 'none']}, got {attention!r}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing: expected a value in [0, 1), got {label_smoothing!r}")
        if share_embeddings and src_vocab_size != tgt_vocab_size:
            raise ValueError(f"share_embeddings: needs one joint vocabulary, got sizes {src_vocab_size} and "
                             f"{tgt_vocab_size}")
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.label_smoothing = label_smoothing
        self.attention_kind = attention
        self.input_feeding = input_feeding and attention != "none"
        self.hidden_size = hidden_size
        self.tgt_vocab_size = tgt_vocab_size
        self.src_embed = nn.Embedding(src_vocab_size, embed_size, padding_idx=pad_id)
        self.tgt_embed = self.src_embed if share_embeddings else nn.Embedding(tgt_vocab_size, embed_size,
                                                                              padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.encoder = Recurrent(cell, embed_size, hidden_size // 2, num_layers=encoder_layers, bidirectional=True,
                                 dropout=dropout if encoder_layers > 1 else 0.0)
        feed = hidden_size if self.input_feeding else 0
        self.decoder = Recurrent(cell, embed_size + feed, hidden_size, num_layers=decoder_layers,
                                 dropout=dropout if decoder_layers > 1 else 0.0)
        memory_size, query_size = self.encoder.output_size, self.decoder.output_size
        # Bridge: one map per state tensor, from the top encoder layer's two directions to every decoder layer.
        enc_shapes = [t.shape for t in state_tensors(self.encoder.initial_state(1))]
        dec_shapes = [t.shape for t in state_tensors(self.decoder.initial_state(1))]
        if len(enc_shapes) != len(dec_shapes) or any(len(s) != 3 for s in enc_shapes + dec_shapes):
            raise ValueError(f"cell: {cell!r} has a state layout the bridge does not support "
                             f"(encoder {enc_shapes}, decoder {dec_shapes})")
        self.bridge = nn.ModuleList(nn.Linear(2 * e[-1], d[0] * d[-1]) for e, d in zip(enc_shapes, dec_shapes,
                                                                                        strict=True))
        if attention != "none":
            self.attention = Attention(attention, query_size, memory_size)
            self.combine = nn.Linear(memory_size + query_size, hidden_size, bias=False)
            out_size = hidden_size
        else:
            self.attention = None
            out_size = query_size
        self.pre_output = nn.Linear(out_size, embed_size, bias=False) if tie_embeddings and out_size != embed_size \
            else None
        self.output = nn.Linear(embed_size if tie_embeddings else out_size, tgt_vocab_size)
        if tie_embeddings:
            self.output.weight = self.tgt_embed.weight

    # ------------------------------------------------------------------------------ decoding interface

    def encode(self, src: Tensor, src_lengths: Tensor) -> Memory:
        """Run the encoder and the bridge.

        Args:
            src: ``(B, S)`` token ids, right-padded.
            src_lengths: ``(B,)`` real lengths (each >= 1).

        Returns:
            A :class:`Memory` for the ``B`` sentences.
        """
        lengths = torch.as_tensor(src_lengths, dtype=torch.long, device=src.device)
        if src.dim() != 2 or lengths.shape != (src.shape[0],):
            raise ValueError(f"src and src_lengths: expected (B, S) and (B,), got {tuple(src.shape)} and "
                             f"{tuple(lengths.shape)}")
        if not torch.compiler.is_exporting() and (bool((lengths < 1).any()) or bool((lengths > src.shape[1]).any())):
            raise ValueError(f"src_lengths: expected values in [1, {src.shape[1]}], got {lengths.tolist()}")
        outputs, final = self.encoder(self.dropout(self.src_embed(src)), lengths=lengths)
        mask = torch.arange(src.shape[1], device=src.device).unsqueeze(0) < lengths.unsqueeze(1)
        batch = src.shape[0]
        layers = [t.shape[0] for t in state_tensors(self.decoder.initial_state(1))]

        def bridged(tensors: list[Tensor]) -> list[Tensor]:
            out = []
            for linear, tensor, n_layers in zip(self.bridge, tensors, layers, strict=True):
                top = torch.cat([tensor[-2], tensor[-1]], dim=-1)  # forward and backward of the top layer
                out.append(torch.tanh(linear(top)).view(batch, n_layers, -1).transpose(0, 1).contiguous())
            return out

        init = self.decoder.initial_state(batch, dtype=outputs.dtype, device=src.device)
        values = iter(bridged(state_tensors(final)))
        state = map_state(lambda _t: next(values), init)
        keys = None if self.attention is None else self.attention.prepare(outputs)
        return Memory(outputs, keys, mask, lengths, state)

    def start(self, memory: Memory) -> DecoderState:
        """The decoder state before the first target token."""
        n = memory.outputs.shape[0]
        return DecoderState(memory.state, memory.outputs.new_zeros(n, self.hidden_size))

    def _step_hidden(self, tokens: Tensor, state: DecoderState, memory: Memory
                     ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """One decoder step up to the attentional vector ``h~_t`` (before dropout and the output layer)."""
        x = self.dropout(self.tgt_embed(tokens))
        if self.input_feeding:
            x = torch.cat([x, state.feed], dim=-1)
        out, rnn = self.decoder.step(x, state.rnn)
        weights = None
        if self.attention is not None:
            context, weights = self.attention(out, memory.keys, memory.outputs, memory.mask)
            out = torch.tanh(self.combine(torch.cat([context, out], dim=-1)))
        feed = out if self.input_feeding else state.feed
        return out, DecoderState(rnn, feed), weights

    def _logits(self, hidden: Tensor) -> Tensor:
        hidden = self.dropout(hidden)
        if self.pre_output is not None:
            hidden = self.pre_output(hidden)
        return self.output(hidden)

    def _step_logits(self, tokens: Tensor, state: DecoderState, memory: Memory
                     ) -> tuple[Tensor, DecoderState, Tensor | None]:
        hidden, state, weights = self._step_hidden(tokens, state, memory)
        return self._logits(hidden), state, weights

    def step(self, tokens: Tensor, state: DecoderState, memory: Memory) -> tuple[Tensor, DecoderState, Tensor | None]:
        """One decoder step for ``N`` rows.

        Args:
            tokens: ``(N,)`` the previous target tokens (``bos_id`` first).
            state: from :meth:`start` or the previous step.
            memory: the encoder's :class:`Memory` for the same ``N`` rows.

        Returns:
            ``(log_probs (N, V), state, attention weights (N, S) or None)``.
        """
        logits, state, weights = self._step_logits(tokens, state, memory)
        return torch.log_softmax(logits.float(), dim=-1), state, weights

    # ------------------------------------------------------------------------------ training

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced logits ``(B, T, V)`` and attention weights ``(B, T, S)`` (None without attention)."""
        memory = self.encode(src, src_lengths)
        state = self.start(memory)
        hidden, weights = [], []
        for t in range(tgt_in.shape[1]):
            step_hidden, state, w = self._step_hidden(tgt_in[:, t], state, memory)
            hidden.append(step_hidden)
            weights.append(w)
        attention = None if self.attention is None else torch.stack(weights, dim=1)
        # The output layer once for all steps: one large product instead of T small ones.
        return self._logits(torch.stack(hidden, dim=1)), attention

    def loss(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """(label-smoothed loss, plain cross-entropy, token accuracy) over the real target tokens."""
        logits, _ = self(batch["src"], batch["src_lengths"], batch["tgt_in"])
        flat, gold = logits.reshape(-1, logits.shape[-1]).float(), batch["tgt_out"].reshape(-1)
        smoothed = F.cross_entropy(flat, gold, ignore_index=self.pad_id, label_smoothing=self.label_smoothing)
        with torch.no_grad():
            plain = F.cross_entropy(flat, gold, ignore_index=self.pad_id)
            real = gold != self.pad_id
            accuracy = (flat.argmax(-1)[real] == gold[real]).float().mean()
        return smoothed, plain, accuracy

    def training_step(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Label-smoothed cross-entropy of one teacher-forced batch (the Trainer's protocol)."""
        loss, plain, accuracy = self.loss(batch)
        return {"loss": loss, "xent": plain.detach(), "accuracy": accuracy}

    def validation_step(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Loss, plain cross-entropy (nats per token) and token accuracy of one batch."""
        loss, plain, accuracy = self.loss(batch)
        return {"loss": loss, "xent": plain, "accuracy": accuracy}


__all__ = ["DecoderState", "Memory", "Seq2Seq"]
