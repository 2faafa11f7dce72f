"""A recurrent language model with the AWD-LSTM regularisers (Merity et al. 2018).

``tokens -> embedding (embedding dropout) -> locked dropout -> [rnnkit layer (DropConnect on
W_hh) -> locked dropout] x L -> linear decoder (optionally tied to the embedding) -> logits``.

Each layer is its own single-layer :class:`rnnkit.Recurrent` of any cell, so locked dropout can sit
between layers and, with weight tying, the last layer can have the embedding's width (as the
AWD-LSTM does). The model follows the Trainer's truncated-BPTT protocol over the contiguous
stream batches of :mod:`rnnkit.data.streams`: ``training_step(batch, state) -> (loss, state)``
per window, ``sequence_length``/``time_slice`` counted in windows (train with
``tbptt_steps=1``), and ``validation_step`` runs the whole held-out stream with the state carried.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.checks import check_positive_int
from rnnkit.data.streams import concatenated_windows
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.regularizers import DropConnect
from rnnkit.layers.sequence_dropout import EmbeddingDropout, LockedDropout
from rnnkit.models.sampling import check_sampling, sample_next

State = list[Any]


class RecurrentLanguageModel(nn.Module):
    r"""Embedding, a stack of recurrent layers and a softmax over the vocabulary.

    Args:
        vocab_size: tokens ``V``.
        embedding_size: embedding width ``E``.
        hidden_size: width ``H`` of every layer (the last one has width ``E`` with ``tie_weights``).
        num_layers: stacked layers ``L``.
        cell: any rnnkit cell name or class (``"lstm"``, ``"gru"``, ``"layernorm_lstm"``, ...).
        tie_weights: share the embedding matrix with the decoder (Press & Wolf 2017; Inan et al. 2017).
        embedding_dropout: probability of dropping a whole word's embedding (AWD ``dropoute``).
        input_dropout: locked dropout on the embeddings (``dropouti``).
        hidden_dropout: locked dropout between layers (``dropouth``).
        output_dropout: locked dropout on the last layer's output (``dropout``).
        weight_dropout: DropConnect on each layer's recurrent weights ``W_hh`` (``wdrop``); runs
            on PyTorch's fused kernels.
        activation_regularization: AR, ``alpha * mean(dropped output^2)`` added to the training loss.
        temporal_activation_regularization: TAR, ``beta * mean((h_t - h_{t-1})^2)`` of the
            undropped output.
        **cell_options: passed to each layer's cell.

    Shape:
        ``tokens``: ``(B, T)`` int64; logits ``(B, T, V)``; state: a list with each layer's state.

    Example:
        >>> lm = RecurrentLanguageModel(50, embedding_size=16, hidden_size=32, num_layers=2)
        >>> logits, state = lm(torch.randint(50, (4, 10)))
        >>> logits.shape
        torch.Size([4, 10, 50])
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        embedding_size: int = 400,
        hidden_size: int = 1150,
        num_layers: int = 3,
        cell: str | type = "lstm",
        tie_weights: bool = True,
        embedding_dropout: float = 0.0,
        input_dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        output_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        activation_regularization: float = 0.0,
        temporal_activation_regularization: float = 0.0,
        **cell_options: Any,
    ) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("embedding_size", embedding_size),
                            ("hidden_size", hidden_size), ("num_layers", num_layers)):
            check_positive_int(name, value)
        if vocab_size < 2:
            raise ValueError(f"vocab_size: expected at least 2 tokens, got {vocab_size}")
        self.vocab_size = vocab_size
        self.tie_weights = tie_weights
        self.embedding = EmbeddingDropout(vocab_size, embedding_size, p=embedding_dropout)
        self.input_drop = LockedDropout(input_dropout)
        self.hidden_drop = LockedDropout(hidden_dropout)
        self.output_drop = LockedDropout(output_dropout)
        regularizers = [DropConnect(weight_dropout)] if weight_dropout > 0 else []
        sizes = [embedding_size] + [hidden_size] * (num_layers - 1) + [embedding_size if tie_weights else hidden_size]
        self.layers = nn.ModuleList(
            Recurrent(cell, sizes[i], sizes[i + 1], regularizers=regularizers, **cell_options)
            for i in range(num_layers)
        )
        self.decoder = nn.Linear(sizes[-1], vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight
        self.alpha = float(activation_regularization)
        self.beta = float(temporal_activation_regularization)
        self._init_weights()

    def _init_weights(self) -> None:
        # As the AWD-LSTM: small uniform embeddings, a zero decoder bias.
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    # ----------------------------------------------------------------------------- forward
    def run(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, Tensor, State]:
        """``(dropped output, undropped last-layer output, state)`` of the stack over ``tokens``."""
        if tokens.dim() != 2:
            raise ValueError(f"tokens: expected (batch, time) token ids, got shape {tuple(tokens.shape)}")
        if state is not None and len(state) != len(self.layers):
            raise ValueError(f"state: expected one state per layer ({len(self.layers)}), got {len(state)}")
        x = self.input_drop(self.embedding(tokens))
        finals = []
        raw = x
        for index, layer in enumerate(self.layers):
            raw, final = layer(x, None if state is None else state[index])
            finals.append(final)
            x = self.hidden_drop(raw) if index < len(self.layers) - 1 else self.output_drop(raw)
        return x, raw, finals

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Logits ``(B, T, V)`` of the next token at every position, and the state after the last."""
        out, _, state = self.run(tokens, state)
        return self.decoder(out), state

    def step(self, token: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One token per row ``(B,)`` -> next-token logits ``(B, V)``, through each layer's
        :meth:`rnnkit.Recurrent.step` (streaming; equals :meth:`forward` in evaluation mode)."""
        if token.dim() != 1:
            raise ValueError(f"token: expected (batch,) token ids, got shape {tuple(token.shape)}")
        x = self.input_drop(self.embedding(token.unsqueeze(1))).squeeze(1)
        finals = []
        for index, layer in enumerate(self.layers):
            x, final = layer.step(x, None if state is None else state[index])
            finals.append(final)
            drop = self.hidden_drop if index < len(self.layers) - 1 else self.output_drop
            x = drop(x.unsqueeze(1)).squeeze(1)
        return self.decoder(x), finals

    # ----------------------------------------------------------------- Trainer protocol (TBPTT)
    def sequence_length(self, batch: dict[str, Any]) -> int:
        """Windows in a stream batch (the Trainer's time axis, with ``tbptt_steps=1``)."""
        return len(batch["windows"])

    def time_slice(self, batch: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
        """Windows ``start .. stop-1`` of a stream batch."""
        return concatenated_windows(batch, start, stop)

    def training_step(self, batch: dict[str, Any], state: State | None = None) -> tuple[dict[str, Tensor], State]:
        """Mean cross-entropy of one window (plus AR/TAR) and the state after it."""
        if len(batch["windows"]) != 1:  # a whole stream: train on it as one window
            batch = concatenated_windows(batch, 0, len(batch["windows"]))
        out, raw, state = self.run(batch["inputs"], state)
        nll = F.cross_entropy(self.decoder(out).flatten(0, 1), batch["targets"].flatten())
        loss = nll
        if self.alpha:
            loss = loss + self.alpha * out.pow(2).mean()
        if self.beta and raw.shape[1] > 1:
            loss = loss + self.beta * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
        return {"loss": loss, "nll": nll.detach()}, state

    def validation_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """Mean cross-entropy (nats per token) over the whole stream, the state carried across windows."""
        total, count = self.stream_nll(batch)
        return {"loss": total / count}

    @torch.no_grad()
    def stream_nll(self, batch: dict[str, Any], state: State | None = None) -> tuple[float, int]:
        """Summed negative log-likelihood (nats) of every target of a stream batch and their number,
        reading the windows in order with the state carried (in the module's current mode)."""
        total, count = 0.0, 0
        for start, stop in batch["windows"]:
            logits, state = self(batch["inputs"][:, start:stop], state)
            targets = batch["targets"][:, start:stop]
            total += float(F.cross_entropy(logits.flatten(0, 1).double(), targets.flatten(), reduction="sum"))
            count += targets.numel()
        return total, count

    # ------------------------------------------------------------------------- generation
    @torch.no_grad()
    def stream_tokens(self, prompt: Sequence[int] | Tensor, max_tokens: int, *, temperature: float = 1.0,
                      top_k: int | None = None, top_p: float | None = None,
                      generator: torch.Generator | None = None, state: State | None = None,
                      ) -> Iterator[tuple[int, State]]:
        """Prime with ``prompt`` (at least one id), then sample ``max_tokens`` ids one at a time.

        Yields ``(token, state)`` after each sampled token: the state that has *not* yet read it,
        so ``stream_tokens([token], ..., state=state)`` continues the same text. Runs in
        evaluation mode (no dropout); see :mod:`rnnkit.models.sampling` for the filters.
        """
        check_sampling(temperature, top_k, top_p)
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
            raise ValueError(f"max_tokens: expected a non-negative integer, got {max_tokens!r}")
        prompt = torch.as_tensor(prompt, dtype=torch.int64).flatten()
        if prompt.numel() == 0:
            raise ValueError("prompt: expected at least one token id to start from, got none")
        if int(prompt.min()) < 0 or int(prompt.max()) >= self.vocab_size:
            raise ValueError(f"prompt: token ids must lie in [0, {self.vocab_size}), got {prompt.tolist()[:10]}")
        was_training = self.training
        self.eval()
        device = self.embedding.weight.device
        try:
            logits, state = self(prompt.to(device).unsqueeze(0), state)
            logits = logits[:, -1]
            for _ in range(max_tokens):
                token = sample_next(logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
                yield int(token), state
                logits, state = self.step(token, state)
        finally:
            self.train(was_training)

    def generate(self, prompt: Sequence[int] | Tensor, max_tokens: int, **options: Any) -> list[int]:
        """The ``max_tokens`` ids :meth:`stream_tokens` samples after ``prompt``."""
        return [token for token, _ in self.stream_tokens(prompt, max_tokens, **options)]


__all__ = ["RecurrentLanguageModel"]
