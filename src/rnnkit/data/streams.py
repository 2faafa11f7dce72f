"""Plain-text token streams for language models: tokenising, a vocabulary, contiguous batches.

A language-model corpus is one long stream of tokens. :class:`StreamTokenizer` turns text into
token ids at character, word (Mikolov's PTB layout: the tokens of each line, then ``<eos>``) or
BPE level (the shared :class:`rnnkit.data.tokenizers.Tokenizer` over Hugging Face ``tokenizers``,
case kept, each line's subwords then ``<eos>``; decoded BPE text has single spaces between words
and punctuation). :func:`batchify` lays the stream out as ``B`` parallel
rows, each a contiguous piece of the stream (Zaremba et al. 2014; Merity et al. 2018), so the
state at the end of one window is the right start for the next window of the same row; the
:class:`StreamBatches` view hands the whole layout to :class:`rnnkit.Trainer` as one batch per
epoch, cut into BPTT windows (fixed, or AWD-LSTM's variable lengths) along which the Trainer's
truncated BPTT carries and detaches the state.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

LEVELS = ("char", "word", "bpe")
UNK = "<unk>"
EOS = "<eos>"
#: How an unknown character is printed when decoding a character-level stream.
UNKNOWN_CHAR = "\ufffd"


class CorpusError(ValueError):
    """A corpus that cannot be used: empty, shorter than a window, unreadable."""


def split_tokens(text: str, level: str) -> list[str]:
    """The tokens of ``text`` at ``"char"`` or ``"word"`` level.

    Args:
        text: the corpus.
        level: ``"char"``: every character, newlines included; ``"word"``: the whitespace-separated
            words of each non-empty line followed by ``<eos>`` (the PTB layout of Mikolov et al.).

    Returns:
        The token list.

    Example:
        >>> split_tokens("a b\\nc", "word")
        ['a', 'b', '<eos>', 'c', '<eos>']
    """
    if level == "char":
        return list(text)
    if level == "word":
        tokens: list[str] = []
        for line in text.split("\n"):
            words = line.split()
            if words:
                tokens += words
                tokens.append(EOS)
        return tokens
    raise ValueError(f"level: expected 'char' or 'word' for split_tokens, got {level!r}")


class StreamTokenizer:
    """Text <-> token ids for a language model, fitted on the training text.

    Tokens never seen in training map to ``<unk>`` (one id, always present); :attr:`last_unknown`
    says how many tokens of the last :meth:`encode` did.

    Args:
        level: ``"char"``, ``"word"`` or ``"bpe"``.
        max_vocab: keep at most this many most frequent tokens (char/word; ``None``: all).
        min_count: keep tokens seen at least this often (char/word).
        bpe_vocab_size: BPE merges' target vocabulary size.

    Example:
        >>> tok = StreamTokenizer("char").fit("abracadabra")
        >>> tok.decode(tok.encode("cab"))
        'cab'
    """

    def __init__(self, level: str = "char", *, max_vocab: int | None = None, min_count: int = 1,
                 bpe_vocab_size: int = 2000) -> None:
        if level not in LEVELS:
            raise ValueError(f"level: expected one of {list(LEVELS)}, got {level!r}")
        if max_vocab is not None and max_vocab < 2:
            raise ValueError(f"max_vocab: expected at least 2 (one token and <unk>), got {max_vocab!r}")
        if min_count < 1:
            raise ValueError(f"min_count: expected at least 1, got {min_count!r}")
        self.level = level
        self.max_vocab = max_vocab
        self.min_count = min_count
        self.bpe_vocab_size = bpe_vocab_size
        self.tokens: list[str] = []
        self.index: dict[str, int] = {}
        self._bpe: Any = None
        self.last_unknown = 0

    # ------------------------------------------------------------------------- fitting
    def fit(self, text: str) -> StreamTokenizer:
        """Build the vocabulary (or train the BPE merges) on ``text``; returns ``self``."""
        if not text.strip():
            raise CorpusError("text: the training text is empty (or only whitespace); a language model needs tokens")
        if self.level == "bpe":
            self._fit_bpe(text)
            return self
        counts = Counter(split_tokens(text, self.level))
        counts.pop(UNK, None)
        kept = [t for t, c in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if c >= self.min_count]
        if self.max_vocab is not None:
            kept = kept[: self.max_vocab - 1]
        self.tokens = [UNK, *sorted(kept)]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        return self

    def _fit_bpe(self, text: str) -> None:
        from rnnkit.data.tokenizers import Tokenizer

        lines = [line for line in text.split("\n") if line.strip()]
        self._set_bpe(Tokenizer.train(lines, kind="bpe", vocab_size=self.bpe_vocab_size, lowercase=False,
                                      special_tokens=[EOS]))

    def _set_bpe(self, bpe: Any) -> None:
        self._bpe = bpe
        self.tokens = [bpe.id_to_token(i) for i in range(bpe.vocab_size)]
        self.index = {t: i for i, t in enumerate(self.tokens)}

    # ------------------------------------------------------------------------- use
    @property
    def vocab_size(self) -> int:
        """Number of token ids (``<unk>`` included)."""
        return len(self.tokens)

    @property
    def unk_id(self) -> int:
        """The id of ``<unk>`` (the shared tokenizer's ``[UNK]`` at BPE level)."""
        return self._bpe.unk_id if self.level == "bpe" else self.index[UNK]

    def _check_fitted(self) -> None:
        if not self.tokens:
            raise RuntimeError("StreamTokenizer: call fit(text) first")

    def encode(self, text: str) -> Tensor:
        """Token ids of ``text`` (1-D ``int64``); unknown tokens become ``<unk>`` (counted in
        :attr:`last_unknown`)."""
        self._check_fitted()
        if self.level == "bpe":  # the lines' subwords, each line followed by <eos> (as at word level)
            eos = self.index[EOS]
            lines = [line for line in text.split("\n") if line.strip()]
            ids = [i for encoded in self._bpe.encode_batch(lines) for i in (*encoded, eos)]
            self.last_unknown = sum(1 for i in ids if i == self.unk_id)
            return torch.tensor(ids, dtype=torch.int64)
        unk = self.unk_id
        ids = [self.index.get(t, unk) for t in split_tokens(text, self.level)]
        self.last_unknown = sum(1 for i in ids if i == unk)
        return torch.tensor(ids, dtype=torch.int64)

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """Text of token ids: characters joined, words joined by spaces (``<eos>`` as a newline),
        BPE through its decoder. An unknown character prints as U+FFFD, an unknown word as ``<unk>``."""
        self._check_fitted()
        ids = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        if self.level == "bpe":
            return "".join(self.token_text(i) for i in ids).replace(" \n", "\n")
        if self.level == "char":
            return "".join(self.token_text(i) for i in ids)
        pieces, line_start = [], True
        for i in ids:
            pieces.append(self.token_text(i, first=line_start))
            line_start = pieces[-1] == "\n"
        return "".join(pieces)

    def token_text(self, token_id: int, *, first: bool = False) -> str:
        """How one token prints in a stream of generated text (words get a leading space)."""
        if not 0 <= token_id < len(self.tokens):
            raise ValueError(f"token_id: expected an id in [0, {len(self.tokens)}), got {token_id}")
        token = self.tokens[token_id]
        if self.level == "bpe":  # subwords: "</w>" ends a word
            if token == EOS:
                return "\n"
            if token in ("[UNK]", "[PAD]"):
                return "<unk> "
            return token[:-4] + " " if token.endswith("</w>") else token
        if self.level == "char":
            return UNKNOWN_CHAR if token == UNK else token
        if token == EOS:
            return "\n"
        return token if first else " " + token

    def characters(self, text: str) -> int:
        """Characters a bits-per-character figure divides by: the text's characters (char and BPE
        levels) or, at word level, the characters of the token stream with one space or newline per
        token (as PTB character figures count them)."""
        if self.level == "word":
            return sum(len(t) + 1 for t in split_tokens(text, "word") if t != EOS)
        return len(text)

    # ------------------------------------------------------------------------- saving
    def to_json(self) -> dict[str, Any]:
        """Settings and vocabulary (the BPE model as its ``tokenizer.json`` text)."""
        self._check_fitted()
        state: dict[str, Any] = {"level": self.level, "max_vocab": self.max_vocab, "min_count": self.min_count,
                                 "bpe_vocab_size": self.bpe_vocab_size}
        if self.level == "bpe":
            state["bpe"] = self._bpe.to_json()
        else:
            state["tokens"] = self.tokens
        return state

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> StreamTokenizer:
        """Rebuild from :meth:`to_json`."""
        tokenizer = cls(state["level"], max_vocab=state.get("max_vocab"), min_count=state.get("min_count", 1),
                        bpe_vocab_size=state.get("bpe_vocab_size", 2000))
        if tokenizer.level == "bpe":
            from rnnkit.data.tokenizers import Tokenizer

            tokenizer._set_bpe(Tokenizer.from_json(state["bpe"]))
        else:
            tokenizer.tokens = list(state["tokens"])
            tokenizer.index = {t: i for i, t in enumerate(tokenizer.tokens)}
        return tokenizer

    def dumps(self) -> str:
        """:meth:`to_json` as a JSON string."""
        return json.dumps(self.to_json(), ensure_ascii=False)


# ----------------------------------------------------------------------------- batching
def batchify(ids: Tensor, batch_size: int, *, what: str = "ids") -> Tensor:
    """Lay a token stream out as ``batch_size`` contiguous rows (the tail that does not fill a
    row is dropped): row ``b`` is ``ids[b * L : (b + 1) * L]``.

    Args:
        ids: 1-D token ids.
        batch_size: parallel streams ``B``.
        what: the name used in error messages.

    Returns:
        ``(B, L)`` ids.

    Raises:
        CorpusError: fewer than two tokens per row.

    Example:
        >>> batchify(torch.arange(10), 3)
        tensor([[0, 1, 2],
                [3, 4, 5],
                [6, 7, 8]])
    """
    if not isinstance(ids, Tensor) or ids.dim() != 1:
        raise ValueError(f"{what}: expected a 1-D tensor of token ids, got {getattr(ids, 'shape', type(ids))}")
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    length = ids.numel() // batch_size
    if length < 2:
        raise CorpusError(f"{what}: {ids.numel()} tokens make rows of {length} for batch_size={batch_size}; "
                          "each row needs at least 2 (an input and its next token): use a longer text or a "
                          "smaller batch size")
    return ids[: length * batch_size].view(batch_size, length)


def bptt_windows(steps: int, bptt: int, *, variable: bool = False, generator: torch.Generator | None = None,
                 min_length: int = 5) -> list[tuple[int, int]]:
    """Consecutive ``[start, stop)`` windows covering ``steps`` time steps.

    Fixed windows have ``bptt`` steps (the last one what is left). Variable windows follow
    Merity et al. (2018, Sec. 4.1): each window's base length is ``bptt`` with probability 0.95,
    else ``bptt / 2``; its length is drawn from ``N(base, 5)``, rounded, at least ``min_length``.
    Draws come from ``generator`` (default: torch's global generator, which the Trainer seeds).

    Returns:
        The windows, in order; they tile ``[0, steps)``.
    """
    if bptt < 1:
        raise ValueError(f"bptt: expected a positive integer, got {bptt!r}")
    windows, start = [], 0
    while start < steps:
        length = bptt
        if variable:
            base = bptt if float(torch.rand((), generator=generator)) < 0.95 else bptt / 2
            length = max(min_length, round(float(torch.normal(torch.tensor(float(base)), 5.0, generator=generator))))
        stop = min(start + length, steps)
        windows.append((start, stop))
        start = stop
    return windows


@dataclass
class StreamLayout:
    """A batchified stream: ``inputs`` and ``targets`` ``(B, L - 1)`` (targets = inputs shifted by one)."""

    inputs: Tensor
    targets: Tensor

    @classmethod
    def from_ids(cls, ids: Tensor, batch_size: int, *, what: str = "ids") -> StreamLayout:
        rows = batchify(ids, batch_size, what=what)
        return cls(rows[:, :-1].contiguous(), rows[:, 1:].contiguous())

    @property
    def steps(self) -> int:
        """Time steps per row."""
        return self.inputs.shape[1]

    def batch(self, windows: list[tuple[int, int]]) -> dict[str, Any]:
        """The Trainer batch: ``{"inputs", "targets", "windows"}``."""
        return {"inputs": self.inputs, "targets": self.targets, "windows": tuple(windows)}


class StreamBatches:
    """Training data for :class:`rnnkit.Trainer`: the whole batchified stream as one batch per epoch.

    Each epoch yields ``{"inputs": (B, L-1), "targets": (B, L-1), "windows": ((start, stop), ...)}``
    with fresh windows (variable ones are drawn from torch's global generator, so a resumed run
    redraws the same). A model trained on it defines ``sequence_length(batch)`` (the number of
    windows) and ``time_slice(batch, i, j)`` (windows ``i .. j-1``), and the Trainer runs with
    ``tbptt_steps=1``: one window per update, the state carried to the next and detached.

    Args:
        ids: the training stream (1-D token ids).
        batch_size: parallel streams ``B``.
        bptt: window length (the mean length with ``variable``).
        variable: AWD-LSTM's variable-length windows (see :func:`bptt_windows`).

    Example:
        >>> data = StreamBatches(torch.arange(1000), batch_size=4, bptt=20)
        >>> batch = next(iter(data))
        >>> batch["inputs"].shape, len(batch["windows"])
        (torch.Size([4, 249]), 13)
    """

    def __init__(self, ids: Tensor, batch_size: int, bptt: int, *, variable: bool = False) -> None:
        self.layout = StreamLayout.from_ids(ids, batch_size, what="training stream")
        if self.layout.steps < bptt:
            raise CorpusError(
                f"training stream: {self.layout.steps} steps per row (for batch_size={batch_size}) is shorter "
                f"than one BPTT window (bptt={bptt}); use a longer text, a smaller batch size or a shorter bptt")
        self.batch_size = batch_size
        self.bptt = bptt
        self.variable = variable

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield self.layout.batch(bptt_windows(self.layout.steps, self.bptt, variable=self.variable))

    def tokens_per_epoch(self) -> int:
        """Predicted tokens per epoch (``B * (L - 1)``)."""
        return self.layout.inputs.numel()


def evaluation_batch(ids: Tensor, batch_size: int, bptt: int, *, what: str = "evaluation stream") -> dict[str, Any]:
    """The whole of a held-out stream as one batch with fixed windows (for ``validation_step``)."""
    layout = StreamLayout.from_ids(ids, batch_size, what=what)
    return layout.batch(bptt_windows(layout.steps, bptt))


def concatenated_windows(batch: dict[str, Any], first: int, last: int) -> dict[str, Any]:
    """Windows ``first .. last-1`` of a stream batch, as one batch with a single window."""
    windows = batch["windows"]
    if not 0 <= first < last <= len(windows):
        raise IndexError(f"windows: expected 0 <= first < last <= {len(windows)}, got {first}, {last}")
    start, stop = windows[first][0], windows[last - 1][1]
    return {"inputs": batch["inputs"][:, start:stop], "targets": batch["targets"][:, start:stop],
            "windows": ((0, stop - start),)}


__all__ = ["EOS", "LEVELS", "UNK", "UNKNOWN_CHAR", "CorpusError", "StreamBatches", "StreamLayout", "StreamTokenizer",
           "batchify", "bptt_windows", "concatenated_windows", "evaluation_batch", "split_tokens"]
