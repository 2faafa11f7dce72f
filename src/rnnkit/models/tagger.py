"""The sequence-tagging network of Lample et al. (2016): word embeddings + character features per
word -> a bidirectional recurrent stack -> a CRF (or softmax) output layer.

Section 4 of the paper: each word's character embeddings run through a bidirectional LSTM and
the last forward and first backward outputs are concatenated with the word's embedding; the
sentence's word vectors run through a bidirectional LSTM, whose outputs a linear layer turns into
tag scores; a linear-chain CRF over the tags (section 2.2) scores whole sequences. Here any rnnkit
cell can replace the LSTMs, and a character CNN (Ma & Hovy 2016) can replace the character BiLSTM.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.layers import Recurrent
from rnnkit.models.crf import CRF

#: The id of padding in the word and character vocabularies; ``UNKNOWN`` is the unknown word/char.
PAD, UNKNOWN = 0, 1


class CharacterEncoder(nn.Module):
    """One vector per word from its characters: a bidirectional recurrent layer or a CNN.

    Args:
        num_chars: character vocabulary size (with padding 0 and unknown 1).
        char_dim: character embedding size.
        hidden_size: per direction (``"rnn"``) or the number of filters (``"cnn"``).
        kind: ``"rnn"`` (last forward + first backward output) or ``"cnn"`` (width-3 filters, max over time).
        cell: the recurrent cell for ``"rnn"``.

    Shape:
        chars ``(N, C)`` with ``lengths (N,)`` (each at least 1) -> ``(N, output_size)``.
    """

    def __init__(self, num_chars: int, char_dim: int, hidden_size: int, *, kind: str = "rnn",
                 cell: str = "lstm") -> None:
        super().__init__()
        if kind not in ("rnn", "cnn"):
            raise ValueError(f"kind: expected 'rnn' or 'cnn', got {kind!r}")
        self.kind = kind
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=PAD)
        if kind == "rnn":
            self.rnn = Recurrent(cell, char_dim, hidden_size, bidirectional=True)
            self.output_size = 2 * hidden_size
        else:
            self.conv = nn.Conv1d(char_dim, hidden_size, kernel_size=3, padding=1)
            self.output_size = hidden_size

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        x = self.embedding(chars)
        if self.kind == "cnn":
            h = self.conv(x.transpose(1, 2))  # (N, F, C)
            real = torch.arange(chars.shape[1], device=chars.device)[None, :] < lengths[:, None]
            return h.masked_fill(~real.unsqueeze(1), float("-inf")).amax(dim=2)
        out, _ = self.rnn(x, lengths=lengths)
        n = torch.arange(chars.shape[0], device=chars.device)
        forward_last = out[n, lengths - 1, : self.hidden_size]
        backward_first = out[:, 0, self.hidden_size:]
        return torch.cat([forward_last, backward_first], dim=1)


class SequenceTagger(nn.Module):
    """Word + character features -> bidirectional recurrent stack -> CRF or softmax tag scores.

    Args:
        num_words: word vocabulary size (padding 0, unknown 1).
        num_chars: character vocabulary size (padding 0, unknown 1); 0 for no character features.
        num_tags: the tags.
        word_dim, char_dim, char_hidden: embedding and character-encoder sizes.
        hidden_size: per direction of the sentence-level stack.
        num_layers: layers of the sentence-level stack.
        cell: any rnnkit cell name (``"lstm"``, ``"gru"``, ...), for both recurrent parts.
        char_encoder: ``"rnn"`` or ``"cnn"``.
        dropout: on the word vectors and the stack's output (and between layers).
        head: ``"crf"`` or ``"softmax"``.
        allowed, allowed_start, allowed_end: CRF transition constraints (see :class:`CRF`).
        word_dropout: in training, the probability of replacing a word id by ``UNKNOWN`` (so the
            unknown word's embedding is learnt); the same for bigram ids.
        num_bigrams: bigram vocabulary size (padding 0, unknown 1); 0 (default) for no bigram
            embeddings. With them each token's vector also holds the embedding of the token joined
            with the next (Zhang & Yang 2018, section 3.1, "char + bichar").
        bigram_dim: the bigram embedding size.

    Batch (a dict): ``words (B, T)``, ``chars (B, T, C)``, ``char_lengths (B, T)`` (0 on padding),
    ``lengths (B,)``, ``bigrams (B, T)`` when ``num_bigrams > 0``, and for training ``tags (B, T)``.

    Example:
        >>> net = SequenceTagger(100, 30, 5, hidden_size=16)
        >>> batch = {"words": torch.randint(2, 100, (2, 4)), "chars": torch.randint(2, 30, (2, 4, 6)),
        ...          "char_lengths": torch.full((2, 4), 6), "lengths": torch.tensor([4, 2])}
        >>> net.decode(batch)  # doctest: +SKIP
    """

    def __init__(self, num_words: int, num_chars: int, num_tags: int, *, word_dim: int = 64, char_dim: int = 24,
                 char_hidden: int = 24, hidden_size: int = 128, num_layers: int = 1, cell: str = "lstm",
                 char_encoder: str = "rnn", dropout: float = 0.3, head: str = "crf",
                 allowed: Tensor | None = None, allowed_start: Tensor | None = None,
                 allowed_end: Tensor | None = None, word_dropout: float = 0.05, num_bigrams: int = 0,
                 bigram_dim: int = 50) -> None:
        super().__init__()
        if head not in ("crf", "softmax"):
            raise ValueError(f"head: expected 'crf' or 'softmax', got {head!r}")
        self.head = head
        self.word_dropout = word_dropout
        self.words = nn.Embedding(num_words, word_dim, padding_idx=PAD)
        self.chars = CharacterEncoder(num_chars, char_dim, char_hidden, kind=char_encoder, cell=cell) \
            if num_chars else None
        self.bigrams = nn.Embedding(num_bigrams, bigram_dim, padding_idx=PAD) if num_bigrams else None
        features = word_dim + (self.chars.output_size if self.chars is not None else 0) \
            + (bigram_dim if self.bigrams is not None else 0)
        self.dropout = nn.Dropout(dropout)
        self.rnn = Recurrent(cell, features, hidden_size, num_layers=num_layers, bidirectional=True,
                             dropout=dropout if num_layers > 1 else 0.0)
        self.output = nn.Linear(2 * hidden_size, num_tags)
        self.crf = CRF(num_tags, allowed=allowed, allowed_start=allowed_start, allowed_end=allowed_end) \
            if head == "crf" else None

    def emissions(self, batch: dict[str, Tensor]) -> Tensor:
        """Tag scores before the CRF: ``(B, T, K)``."""
        words, lengths = batch["words"], batch["lengths"]
        words = self._drop_ids(words)
        parts = [self.words(words)]
        if self.bigrams is not None:
            if "bigrams" not in batch:
                raise KeyError("batch: this tagger has bigram embeddings; the batch needs 'bigrams' (B, T)")
            parts.append(self.bigrams(self._drop_ids(batch["bigrams"])))
        if self.chars is not None:
            chars, char_lengths = batch["chars"], batch["char_lengths"]
            real = char_lengths > 0
            if torch.compiler.is_exporting():
                # A graph holds no data-dependent shapes: encode every position (padding as one
                # character) and zero the padding's features, the same numbers as below.
                flat = self.chars(chars.flatten(0, 1), char_lengths.flatten().clamp(min=1))
                features = flat.view(*words.shape, flat.shape[1]) * real.unsqueeze(-1)
            else:
                encoded = self.chars(chars[real], char_lengths[real])
                features = encoded.new_zeros(*words.shape, encoded.shape[1])
                features[real] = encoded
            parts.append(features)
        x = self.dropout(torch.cat(parts, dim=2))
        out, _ = self.rnn(x, lengths=lengths)
        return self.output(self.dropout(out))

    def _drop_ids(self, ids: Tensor) -> Tensor:
        """In training, each real id becomes ``UNKNOWN`` with probability ``word_dropout``."""
        if not self.training or self.word_dropout <= 0:
            return ids
        drop = (torch.rand(ids.shape, device=ids.device) < self.word_dropout) & (ids != PAD)
        return ids.masked_fill(drop, UNKNOWN)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Mean per-token negative log-likelihood (CRF) or cross-entropy (softmax)."""
        scores = self.emissions(batch)
        tags, lengths = batch["tags"], batch["lengths"]
        if self.crf is not None:
            return self.crf(scores, tags, lengths, reduction="token_mean")
        real = torch.arange(tags.shape[1], device=tags.device)[None, :] < lengths[:, None]
        return nn.functional.cross_entropy(scores[real], tags[real])

    def training_step(self, batch: dict[str, Tensor]) -> Tensor:
        return self.loss(batch)

    @torch.no_grad()
    def validation_step(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        loss = self.loss(batch)
        predicted = self.decode(batch)
        tags, lengths = batch["tags"], batch["lengths"]
        right = sum(int((torch.tensor(p, device=tags.device) == tags[i, : len(p)]).sum())
                    for i, p in enumerate(predicted))
        return {"loss": loss, "accuracy": right / max(int(lengths.sum()), 1)}

    @torch.no_grad()
    def decode(self, batch: dict[str, Tensor]) -> list[list[int]]:
        """The predicted tag ids of each sentence (Viterbi under the constraints, or the argmax)."""
        scores = self.emissions(batch)
        lengths = batch["lengths"]
        if self.crf is not None:
            return self.crf.decode(scores, lengths)
        best = scores.argmax(dim=2).tolist()
        return [row[:n] for row, n in zip(best, lengths.tolist(), strict=True)]


__all__ = ["PAD", "UNKNOWN", "CharacterEncoder", "SequenceTagger"]
