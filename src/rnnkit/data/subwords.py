"""Subwords for translation: BPE whose output detokenises exactly (Hugging Face ``tokenizers``).

:class:`rnnkit.data.tokenizers.Tokenizer` (kind ``"bpe"``) splits punctuation from words and joins
the pieces with spaces on decoding, which suits classification but would print ``"God , and"``.
Translation output must be text again, so :func:`train_subword_tokenizer` builds the same wrapper
over a BPE model with SentencePiece-style word boundaries (``▁`` marks a space; the ``Metaspace``
pre-tokenizer and decoder): ``decode(encode(text)) == text`` for text whose characters were seen
in training (after NFKC normalisation and whitespace collapsing). Characters never seen become
``[UNK]`` (documented behaviour; :meth:`Tokenizer.decode` shows them as ``[UNK]``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rnnkit.data.tokenizers import PAD, UNK, Tokenizer
from rnnkit.optional import require

BOS = "<s>"
EOS = "</s>"


def train_subword_tokenizer(texts: Iterable[str], *, vocab_size: int = 8000, min_frequency: int = 2,
                            lowercase: bool = False, special_tokens: Sequence[str] = (BOS, EOS),
                            extra: str = "translate") -> Tokenizer:
    """A BPE :class:`~rnnkit.data.tokenizers.Tokenizer` that detokenises exactly, trained on ``texts``.

    Args:
        texts: the training texts (the training split only; both languages for a joint vocabulary).
        vocab_size: the largest vocabulary, special tokens included.
        min_frequency: pairs seen fewer times are not merged.
        lowercase: lower-case before encoding (decoding then gives lower-cased text).
        special_tokens: after ``[PAD]`` (id 0) and ``[UNK]`` (id 1): ``<s>`` (2) and ``</s>`` (3).
        extra: the rnnkit extra named if ``tokenizers`` is missing.

    Returns:
        A trained :class:`~rnnkit.data.tokenizers.Tokenizer` of kind ``"bpe"``.

    Raises:
        ValueError: no non-empty text, or a vocabulary not larger than the special tokens.

    Example:
        >>> tok = train_subword_tokenizer(["the cat sat, the cat ran."] * 5, vocab_size=60)
        >>> tok.decode(tok.encode("the cat ran, the cat sat."))
        'the cat ran, the cat sat.'
    """
    hf = require("tokenizers", extra)
    specials = [PAD, UNK, *[s for s in special_tokens if s not in (PAD, UNK)]]
    if vocab_size <= len(specials):
        raise ValueError(f"vocab_size: expected more than the {len(specials)} special tokens, got {vocab_size}")
    texts = [str(t) for t in texts]
    if not any(t.strip() for t in texts):
        raise ValueError("texts: expected at least one non-empty text to train the subwords on, got none")
    backend = hf.Tokenizer(hf.models.BPE(unk_token=UNK))
    normalizers = [hf.normalizers.NFKC(), hf.normalizers.Replace(hf.Regex(r"\s+"), " "), hf.normalizers.Strip()]
    backend.normalizer = hf.normalizers.Sequence(normalizers + ([hf.normalizers.Lowercase()] if lowercase else []))
    backend.pre_tokenizer = hf.pre_tokenizers.Metaspace()
    backend.decoder = hf.decoders.Metaspace()
    trainer = hf.trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials,
                                     show_progress=False)
    backend.train_from_iterator(texts, trainer=trainer)
    return Tokenizer(backend, "bpe")


__all__ = ["BOS", "EOS", "train_subword_tokenizer"]
