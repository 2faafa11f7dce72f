"""Word, character and tag vocabularies for tagging, and padded batches of tagged sentences.

Padding goes through the shared :func:`rnnkit.data.collate.pad_sequences`. A batch is a dict of
right-padded tensors (the layout :class:`rnnkit.models.tagger.SequenceTagger`
reads): ``words (B, T)``, ``chars (B, T, C)``, ``char_lengths (B, T)`` (0 on padding), ``lengths
(B,)``, ``bigrams (B, T)`` when a bigram vocabulary is given (the id of each token joined with
the next, :func:`bigram_key`) and, when tags are known, ``tags (B, T)``. :class:`SentenceBatches` groups sentences of
similar length (fewer padded steps) and reshuffles the groups each epoch from torch's global
random state, so :class:`rnnkit.Trainer` can resume it exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from rnnkit.data.collate import pad_sequences

PAD_TOKEN, UNKNOWN_TOKEN = "<pad>", "<unk>"

#: What follows the last token of a sentence in its last bigram.
END_TOKEN = "</s>"


@dataclass
class Vocabulary:
    """Strings <-> ids; ids 0 and 1 are padding and unknown (for words and characters).

    Attributes:
        items: the strings in id order.
    """

    items: list[str] = field(default_factory=lambda: [PAD_TOKEN, UNKNOWN_TOKEN])

    def __post_init__(self) -> None:
        self.index = {item: i for i, item in enumerate(self.items)}

    @classmethod
    def build(cls, counts: Counter, *, min_count: int = 1, specials: bool = True) -> Vocabulary:
        """Items seen at least ``min_count`` times, most frequent first (ties alphabetical)."""
        kept = sorted((item for item, n in counts.items() if n >= min_count), key=lambda s: (-counts[s], s))
        return cls(([PAD_TOKEN, UNKNOWN_TOKEN] if specials else []) + kept)

    def __len__(self) -> int:
        return len(self.items)

    def id(self, item: str) -> int:
        """The id of ``item`` (1, the unknown id, when absent)."""
        return self.index.get(item, 1)


def word_key(word: str, lowercase: bool) -> str:
    """The form a word is looked up under (digits mapped to 0 so numbers share embeddings)."""
    word = "".join("0" if c.isdigit() else c for c in word)
    return word.lower() if lowercase else word


def bigram_key(sentence: Sequence[str], i: int, lowercase: bool = False) -> str:
    """The bigram at token ``i``: its key joined by a space with the next token's (or ``</s>``).

    The character-bigram feature of Zhang & Yang (2018), section 3.1: for Chinese, where each token
    is one character, ``e(c_i c_{i+1})`` tells the network which word the character starts.

    Example:
        >>> [bigram_key(["北", "京", "人"], i) for i in range(3)]
        ['北 京', '京 人', '人 </s>']
    """
    following = word_key(sentence[i + 1], lowercase) if i + 1 < len(sentence) else END_TOKEN
    return f"{word_key(sentence[i], lowercase)} {following}"


def encode_batch(
    sentences: Sequence[Sequence[str]],
    words: Vocabulary,
    chars: Vocabulary | None,
    tags: Sequence[Sequence[str]] | None = None,
    tag_vocab: Vocabulary | None = None,
    *,
    lowercase: bool = False,
    max_chars: int = 20,
    bigrams: Vocabulary | None = None,
) -> dict[str, torch.Tensor]:
    """Pad a list of sentences (and their tags) into one batch.

    Args:
        sentences: the tokens of each sentence (each at least one token).
        words, chars: the vocabularies (``chars`` None: no character tensors).
        tags, tag_vocab: the gold tags and their vocabulary (both or neither).
        lowercase: look words up lowercased.
        max_chars: characters kept per word (its first ``max_chars``).
        bigrams: the bigram vocabulary (None: no ``bigrams`` tensor).

    Returns:
        The batch dict described in the module docstring.
    """
    if not sentences or min(len(s) for s in sentences) < 1:
        raise ValueError("sentences: every sentence needs at least one token")
    word_ids = [[words.id(word_key(w, lowercase)) for w in sentence] for sentence in sentences]
    out: dict[str, torch.Tensor] = {}
    out["words"], out["lengths"] = pad_sequences(word_ids, dtype=torch.long)
    if chars is not None:
        width = max(min(max(len(w) for s in sentences for w in s), max_chars), 1)
        matrices, char_lengths = [], []
        for sentence in sentences:
            rows = [[chars.id(c) for c in word[:width]] or [1] for word in sentence]
            matrices.append([row + [0] * (width - len(row)) for row in rows])  # (T_i, width)
            char_lengths.append([len(row) for row in rows])
        out["chars"], _ = pad_sequences(matrices, dtype=torch.long)
        out["char_lengths"], _ = pad_sequences(char_lengths, dtype=torch.long)
    if bigrams is not None:
        out["bigrams"], _ = pad_sequences([[bigrams.id(bigram_key(s, i, lowercase)) for i in range(len(s))]
                                           for s in sentences], dtype=torch.long)
    if tags is not None:
        if tag_vocab is None:
            raise ValueError("tag_vocab: needed with tags")
        out["tags"], _ = pad_sequences([[tag_vocab.index[t] for t in row] for row in tags], dtype=torch.long)
    return out


class SentenceBatches:
    """Batches of similar-length sentences, regrouped and reshuffled each epoch.

    Args:
        sentences, tags: the data.
        encode: ``encode(sentences, tags) -> batch`` (a partial :func:`encode_batch`).
        batch_size: sentences per batch.
        shuffle: shuffle within length buckets and the batch order (torch's global RNG).
    """

    def __init__(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]] | None, encode,
                 *, batch_size: int, shuffle: bool = True) -> None:
        self.sentences, self.tags = list(sentences), (list(tags) if tags is not None else None)
        self.encode, self.batch_size, self.shuffle = encode, batch_size, shuffle

    def __len__(self) -> int:
        return -(-len(self.sentences) // self.batch_size)

    def _groups(self) -> list[list[int]]:
        n = len(self.sentences)
        order = torch.randperm(n).tolist() if self.shuffle else list(range(n))
        # Sort chunks of 50 batches by length: nearby lengths together, still random across chunks.
        span = self.batch_size * 50
        grouped: list[int] = []
        for start in range(0, n, span):
            grouped += sorted(order[start:start + span], key=lambda i: len(self.sentences[i]))
        batches = [grouped[i:i + self.batch_size] for i in range(0, n, self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches)).tolist()]
        return batches

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for group in self._groups():
            yield self.encode([self.sentences[i] for i in group],
                              [self.tags[i] for i in group] if self.tags is not None else None)


def count_bigrams(sentences: Iterable[Sequence[str]], lowercase: bool) -> Counter:
    """Counts of every :func:`bigram_key` in ``sentences``."""
    return Counter(bigram_key(s, i, lowercase) for s in sentences for i in range(len(s)))


def count_items(sentences: Iterable[Sequence[str]], lowercase: bool) -> tuple[Counter, Counter]:
    """(word counts under :func:`word_key`, character counts) of ``sentences``."""
    words: Counter = Counter()
    chars: Counter = Counter()
    for sentence in sentences:
        for word in sentence:
            words[word_key(word, lowercase)] += 1
            chars.update(word)
    return words, chars


__all__ = ["END_TOKEN", "PAD_TOKEN", "UNKNOWN_TOKEN", "SentenceBatches", "Vocabulary", "bigram_key", "count_bigrams",
           "count_items", "encode_batch", "word_key"]
