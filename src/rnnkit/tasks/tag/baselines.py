"""Baselines of ``rnnkit tag``, run on the same splits as the network.

* :class:`MostFrequentTag`: each word's most frequent training tag; unknown words get the most
  frequent tag overall.
* :class:`FeatureCRF`: a linear-chain CRF on hand-made features (CRFsuite through
  ``sklearn-crfsuite``, L-BFGS with L1 + L2 penalties): the word, its lowercase form, prefixes
  and suffixes up to 3 characters, its shape (``Xxxx``, ``dd``), case and digit flags, and the
  same for the neighbours within two tokens plus the neighbour bigrams — the usual feature set of
  the CoNLL-era taggers (and the sklearn-crfsuite tutorial).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence

from rnnkit.optional import require


class MostFrequentTag:
    """The most frequent training tag of each word (the most frequent tag overall for unknown words)."""

    def fit(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> MostFrequentTag:
        counts: dict[str, Counter] = defaultdict(Counter)
        overall: Counter = Counter()
        for words, row in zip(sentences, tags, strict=True):
            for word, tag in zip(words, row, strict=True):
                counts[word][tag] += 1
                overall[tag] += 1
        self.table_ = {w: c.most_common(1)[0][0] for w, c in counts.items()}
        self.default_ = overall.most_common(1)[0][0]
        return self

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        return [[self.table_.get(w, self.default_) for w in words] for words in sentences]


def _shape(word: str) -> str:
    out = []
    for c in word:
        kind = "X" if c.isupper() else "x" if c.islower() else "d" if c.isdigit() else c
        if not out or out[-1] != kind:
            out.append(kind)
    return "".join(out)


def word_features(words: Sequence[str], i: int) -> dict[str, object]:
    """CRFsuite features of token ``i``: the word, affixes, shape, flags and its neighbours'."""
    word = words[i]
    features: dict[str, object] = {
        "bias": 1.0, "w": word, "lower": word.lower(), "shape": _shape(word), "upper": word.isupper(),
        "title": word.istitle(), "digit": word.isdigit(), "len": min(len(word), 8),
    }
    for k in (1, 2, 3):
        if len(word) >= k:
            features[f"pre{k}"] = word[:k]
            features[f"suf{k}"] = word[-k:]
    for offset in (-2, -1, 1, 2):
        j = i + offset
        if 0 <= j < len(words):
            other = words[j]
            features[f"{offset}:lower"] = other.lower()
            features[f"{offset}:title"] = other.istitle()
            features[f"{offset}:suf3"] = other[-3:]
        else:
            features[f"{offset}:edge"] = True
    if i > 0:
        features["-1|0"] = words[i - 1].lower() + "|" + word.lower()
    if i + 1 < len(words):
        features["0|+1"] = word.lower() + "|" + words[i + 1].lower()
    return features


class FeatureCRF:
    """A feature-based linear-chain CRF (CRFsuite via ``sklearn-crfsuite``).

    Args:
        c1, c2: L1 and L2 penalties.
        max_iterations: L-BFGS iterations.
    """

    def __init__(self, *, c1: float = 0.1, c2: float = 0.1, max_iterations: int = 100) -> None:
        self.c1, self.c2, self.max_iterations = c1, c2, max_iterations

    def fit(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> FeatureCRF:
        crfsuite = require("sklearn_crfsuite", "tag", package="sklearn-crfsuite")
        start = time.perf_counter()
        self.model_ = crfsuite.CRF(algorithm="lbfgs", c1=self.c1, c2=self.c2, max_iterations=self.max_iterations,
                                   all_possible_transitions=True)
        kept = [i for i, s in enumerate(sentences) if s]
        self.model_.fit([[word_features(sentences[i], j) for j in range(len(sentences[i]))] for i in kept],
                        [list(tags[i]) for i in kept])
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        out: list[list[str]] = []
        for words in sentences:
            out.append(list(self.model_.predict_single([word_features(words, j) for j in range(len(words))]))
                       if words else [])
        return out


__all__ = ["FeatureCRF", "MostFrequentTag", "word_features"]
