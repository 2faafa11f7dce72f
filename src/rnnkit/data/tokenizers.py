"""Tokenizers for every text application: a thin wrapper over Hugging Face ``tokenizers``.

Three kinds, each trained on the texts given (the training split only):

* ``"word"``: Unicode NFKC normalisation, optional lower-casing, words and punctuation split apart
  (``\\w+|[^\\w\\s]+``), a word-level vocabulary of the most frequent tokens;
* ``"bpe"``: the same normalisation and split, then byte-pair-encoding subwords (``</w>`` marks a
  word's end, so :meth:`Tokenizer.decode` restores the spaces);
* ``"char"``: one token per character, spaces included, no lower-casing unless asked.

Id 0 is the padding token ``[PAD]`` and id 1 the unknown token ``[UNK]``; further special tokens
(``<s>``, ``</s>``) follow. A tokenizer saves to one JSON string (Hugging Face's own format,
readable by ``tokenizers.Tokenizer.from_str``) which an estimator writes as ``tokenizer.json``
through :meth:`rnnkit.Saveable.extra_files`.

Example:
    >>> tok = Tokenizer.train(["A fine film.", "a dull film"], kind="word")
    >>> tok.tokens("A FINE, dull film")
    ['a', 'fine', ',', 'dull', 'film']
    >>> tok.decode(tok.encode("a fine film"))
    'a fine film'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from rnnkit.optional import require

PAD = "[PAD]"
UNK = "[UNK]"
KINDS = ("word", "bpe", "char")


def _hf():
    return require("tokenizers", "text")


class Tokenizer:
    """A trained tokenizer: text to ids and back, with padding and unknown ids.

    Build one with :meth:`train` (or :meth:`from_json` for a saved one), not with the constructor.

    Args:
        backend: a ``tokenizers.Tokenizer`` whose vocabulary starts with ``[PAD]``, ``[UNK]``.
        kind: ``"word"``, ``"bpe"`` or ``"char"``.

    Attributes:
        pad_id: the padding id (0).
        unk_id: the unknown-token id (1).
    """

    def __init__(self, backend, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        self.backend = backend
        self.kind = kind
        self.pad_id = backend.token_to_id(PAD)
        self.unk_id = backend.token_to_id(UNK)
        if self.pad_id != 0 or self.unk_id != 1:
            raise ValueError(f"backend: expected {PAD} at id 0 and {UNK} at id 1, got {self.pad_id} and {self.unk_id}")

    # ------------------------------------------------------------------------------------- build
    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        *,
        kind: str = "word",
        vocab_size: int = 30_000,
        min_frequency: int = 1,
        lowercase: bool | None = None,
        special_tokens: Sequence[str] = (),
    ) -> Tokenizer:
        """A tokenizer trained on ``texts``.

        Args:
            texts: the training texts (the training split only).
            kind: ``"word"``, ``"bpe"`` or ``"char"`` (see the module docstring).
            vocab_size: the largest vocabulary, special tokens included.
            min_frequency: tokens seen fewer times become ``[UNK]`` (word and char kinds) or are not
                merged (BPE).
            lowercase: lower-case before splitting; default ``True`` for word and BPE, ``False``
                for characters.
            special_tokens: more special tokens after ``[PAD]`` and ``[UNK]`` (ids 2, 3, ...).

        Returns:
            The trained :class:`Tokenizer`.

        Raises:
            ValueError: an unknown kind, a vocabulary smaller than the special tokens, or no text.

        Example:
            >>> tok = Tokenizer.train(["abc", "abd"], kind="char")
            >>> tok.encode("abz")
            [2, 3, 1]
        """
        hf = _hf()
        if kind not in KINDS:
            raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        specials = [PAD, UNK, *[s for s in special_tokens if s not in (PAD, UNK)]]
        if vocab_size <= len(specials):
            raise ValueError(f"vocab_size: expected more than the {len(specials)} special tokens, got {vocab_size}")
        if min_frequency < 1:
            raise ValueError(f"min_frequency: expected >= 1, got {min_frequency}")
        texts = [str(t) for t in texts]
        if not any(t.strip() for t in texts):
            raise ValueError("texts: expected at least one non-empty text to train the tokenizer on, got none")
        lowercase = (kind != "char") if lowercase is None else lowercase
        if kind == "bpe":
            backend = hf.Tokenizer(hf.models.BPE(unk_token=UNK, end_of_word_suffix="</w>"))
            trainer = hf.trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                             special_tokens=specials, end_of_word_suffix="</w>",
                                             show_progress=False)
            backend.decoder = hf.decoders.BPEDecoder(suffix="</w>")
        else:
            backend = hf.Tokenizer(hf.models.WordLevel(unk_token=UNK))
            trainer = hf.trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                                   special_tokens=specials, show_progress=False)
            if kind == "char":
                backend.decoder = hf.decoders.Fuse()
        normalizers = [hf.normalizers.NFKC()] + ([hf.normalizers.Lowercase()] if lowercase else [])
        backend.normalizer = hf.normalizers.Sequence(normalizers)
        if kind == "char":
            backend.pre_tokenizer = hf.pre_tokenizers.Split(hf.Regex("(?m)."), behavior="isolated")
        else:
            backend.pre_tokenizer = hf.pre_tokenizers.Whitespace()
        backend.train_from_iterator(texts, trainer=trainer)
        return cls(backend, kind)

    # ----------------------------------------------------------------------------------- convert
    @property
    def vocab_size(self) -> int:
        """The number of ids, special tokens included."""
        return self.backend.get_vocab_size()

    def special_id(self, token: str) -> int:
        """The id of a special token given to :meth:`train` (``"<s>"``); a ``KeyError`` if absent."""
        index = self.backend.token_to_id(token)
        if index is None:
            raise KeyError(f"token: {token!r} is not in the vocabulary")
        return index

    def tokens(self, text: str) -> list[str]:
        """The vocabulary tokens of ``text`` (normalised; unknown ones as ``[UNK]``)."""
        return self.backend.encode(text, add_special_tokens=False).tokens

    def spans(self, text: str) -> list[str]:
        """The piece of the original ``text`` behind each token (for showing weights per token)."""
        return [text[start:end] for start, end in self.backend.encode(text, add_special_tokens=False).offsets]

    def encode(self, text: str) -> list[int]:
        """The ids of ``text`` (unknown tokens get :attr:`unk_id`); an empty text gives ``[]``."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`encode` of each text (in parallel, by the Rust library)."""
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise TypeError(f"texts: expected strings, item {bad[0]} is a {type(texts[bad[0]]).__name__}")
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids``; padding ids are dropped, unknown ones shown as ``[UNK]``.

        Word-level text comes back normalised (lower-cased, one space between tokens).
        """
        ids = [int(i) for i in ids if int(i) != self.pad_id]
        return self.backend.decode(ids, skip_special_tokens=False)

    def id_to_token(self, index: int) -> str:
        """The token of one id."""
        token = self.backend.id_to_token(int(index))
        if token is None:
            raise IndexError(f"index: expected an id in [0, {self.vocab_size}), got {index}")
        return token

    # ------------------------------------------------------------------------------------ save
    def to_json(self) -> str:
        """The tokenizer as a JSON string (Hugging Face's format plus ``rnnkit_kind``)."""
        data = json.loads(self.backend.to_str())
        data["rnnkit_kind"] = self.kind
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Tokenizer:
        """A tokenizer from :meth:`to_json`'s string.

        Raises:
            ValueError: the text is not a saved tokenizer.
        """
        hf = _hf()
        try:
            data = json.loads(text)
            kind = data.pop("rnnkit_kind")
            backend = hf.Tokenizer.from_str(json.dumps(data))
        except Exception as error:  # json, a missing key, or tokenizers' own (a plain Exception)
            raise ValueError(f"text: not a saved rnnkit tokenizer ({error})") from None
        return cls(backend, kind)

    def __repr__(self) -> str:
        return f"Tokenizer(kind={self.kind!r}, vocab_size={self.vocab_size})"


__all__ = ["KINDS", "PAD", "UNK", "Tokenizer"]
