"""CTC decoding: greedy (best path) and prefix beam search with an optional lexicon and word n-gram LM.

The prefix beam search is Hannun et al. 2014 ("First-Pass Large Vocabulary Continuous Speech
Recognition using Bi-Directional Recurrent DNNs", algorithm 1) in log space. Each prefix keeps two
acoustic probabilities: ending in a blank and ending in a label. They are exact sums over the CTC
alignments of the prefix, so with an unbounded beam and no language model the search returns every
labelling with its exact probability (the tests check this against enumerating all alignments).
A word lexicon prunes prefixes whose words are not in it (or not a prefix of one); a word n-gram
model adds ``alpha * log P(words) + beta * words`` to the ranking, never to the acoustic sums.

``pyctcdecode`` would do the same with KenLM; it needs KenLM's compiled module for the language
model, which does not install here, so the search is written out and tested instead.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from torch import Tensor

NEG_INF = -math.inf


def _logsumexp(*values: float) -> float:
    top = max(values)
    if top == NEG_INF:
        return NEG_INF
    return top + math.log(sum(math.exp(v - top) for v in values))


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance between two sequences (substitutions, insertions, deletions cost 1)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def collapse(path: Iterable[int], blank: int = 0) -> list[int]:
    """CTC's many-to-one map: merge repeated labels, then drop blanks."""
    out, last = [], None
    for label in path:
        if label != last and label != blank:
            out.append(int(label))
        last = label
    return out


def greedy_decode(log_probs: Tensor, lengths: Tensor | None = None, blank: int = 0) -> list[list[int]]:
    """Best-path decoding of ``(B, T, V)`` log-probabilities (or ``(T, V)`` for one utterance).

    Returns:
        One label list per utterance.

    Example:
        >>> greedy_decode(torch.log(torch.tensor([[.1, .9], [.1, .9], [.9, .1], [.1, .9]])))
        [[1, 1]]
    """
    if log_probs.dim() == 2:
        log_probs = log_probs.unsqueeze(0)
    best = log_probs.argmax(dim=-1)
    lengths = lengths.tolist() if lengths is not None else [log_probs.shape[1]] * log_probs.shape[0]
    return [collapse(best[b, :n].tolist(), blank) for b, n in enumerate(lengths)]


class WordNgramLM:
    """A word n-gram model with add-k smoothing, interpolated down to unigrams (natural log).

    ``P(w | h) = lam * (c(h, w) + k) / (c(h) + k V) + (1 - lam) * P(w | h[1:])``, with ``<s>``
    and ``</s>`` around each sentence and unknown words given the add-k mass of an unseen word.

    Args:
        sentences: training text, one sentence per item, words split on spaces.
        order: n (2: bigrams).
        k: add-k constant.
        interpolation: ``lam``.

    Example:
        >>> lm = WordNgramLM(["ace of spades", "two of hearts"])
        >>> lm.log_prob("of", ("ace",)) > lm.log_prob("hearts", ("ace",))
        True
    """

    def __init__(self, sentences: Iterable[str], *, order: int = 2, k: float = 0.1, interpolation: float = 0.8):
        if order < 1:
            raise ValueError(f"order: expected at least 1, got {order}")
        self.order, self.k, self.interpolation = order, k, interpolation
        self.counts: list[Counter] = [Counter() for _ in range(order)]
        self.context_counts: list[Counter] = [Counter() for _ in range(order)]
        vocabulary = set()
        for sentence in sentences:
            words = ["<s>"] * (order - 1) + sentence.split() + ["</s>"]
            vocabulary.update(words)
            for n in range(order):
                for i in range(order - 1, len(words)):
                    history = tuple(words[i - n:i])
                    self.counts[n][(history, words[i])] += 1
                    self.context_counts[n][history] += 1
        self.vocabulary = vocabulary
        self.size = len(vocabulary) + 1

    def log_prob(self, word: str, history: Sequence[str]) -> float:
        """``log P(word | history)`` (the last ``order - 1`` words of ``history`` are used)."""
        history = (["<s>"] * self.order + list(history))[-(self.order - 1):] if self.order > 1 else []
        prob = 1.0 / self.size
        for n in range(self.order):
            h = tuple(history[len(history) - n:]) if n else ()
            estimate = (self.counts[n][(h, word)] + self.k) / (self.context_counts[n][h] + self.k * self.size)
            prob = estimate if n == 0 else self.interpolation * estimate + (1 - self.interpolation) * prob
        return math.log(prob)

    def to_json(self) -> dict:
        """The counts, to save with a model (rebuilt exactly by :meth:`from_json`)."""
        return {"order": self.order, "k": self.k, "interpolation": self.interpolation,
                "counts": [[[list(h), w, c] for (h, w), c in counter.items()] for counter in self.counts],
                "vocabulary": sorted(self.vocabulary)}

    @classmethod
    def from_json(cls, data: dict) -> WordNgramLM:
        lm = cls([], order=data["order"], k=data["k"], interpolation=data["interpolation"])
        for n, rows in enumerate(data["counts"]):
            for h, w, c in rows:
                lm.counts[n][(tuple(h), w)] = c
                lm.context_counts[n][tuple(h)] += c
        lm.vocabulary = set(data["vocabulary"])
        lm.size = len(lm.vocabulary) + 1
        return lm


@dataclass
class _Prefix:
    blank: float = NEG_INF  # log P(prefix, last alignment step is a blank)
    label: float = NEG_INF  # log P(prefix, last alignment step is its last label)

    @property
    def total(self) -> float:
        return _logsumexp(self.blank, self.label)


def prefix_beam_search(
    log_probs: Tensor | np.ndarray,
    *,
    beam_width: int = 16,
    blank: int = 0,
    characters: str | None = None,
    lexicon: Iterable[str] | None = None,
    lm: WordNgramLM | None = None,
    alpha: float = 0.5,
    beta: float = 1.0,
    prune: float | None = -12.0,
) -> list[tuple[list[int], float]]:
    """CTC prefix beam search over one utterance's ``(T, V)`` log-probabilities.

    Args:
        log_probs: per-frame label log-probabilities (label ``blank`` is CTC's blank).
        beam_width: prefixes kept after each frame.
        characters: label ``i`` is ``characters[i - 1]`` (needed with ``lexicon`` or ``lm``; words
            are separated by ``" "``).
        lexicon: allowed words; a prefix survives only while its last word is a prefix of one and
            its earlier words are in it, and a hypothesis must end on a whole word.
        lm: word language model; the ranking score is ``log P_acoustic + alpha * log P_lm + beta *
            words``.
        prune: skip labels whose frame log-probability is below this (``None``: keep all).

    Returns:
        ``[(labels, score)]`` best first; ``score`` is the acoustic log-probability of the
        labelling (summed over its alignments) plus the LM terms when ``lm`` is given.

    Example:
        >>> lp = torch.log(torch.tensor([[.4, .6], [.4, .6]]))
        >>> labels, score = prefix_beam_search(lp)[0]
        >>> labels, round(math.exp(score), 2)  # P("a") = .6*.6 + .4*.6 + .6*.4
        ([1], 0.84)
    """
    lp = log_probs.detach().cpu().double().numpy() if isinstance(log_probs, Tensor) else np.asarray(log_probs, float)
    if lp.ndim != 2:
        raise ValueError(f"log_probs: expected (time, labels), got shape {lp.shape}")
    if (lexicon is not None or lm is not None) and characters is None:
        raise ValueError("characters: needed to read words when a lexicon or a language model is given")
    space = characters.index(" ") + 1 if characters is not None and " " in characters else None
    words = set(lexicon) if lexicon is not None else None
    stems = {w[:i] for w in words for i in range(len(w) + 1)} if words is not None else None

    def split(prefix: tuple[int, ...]) -> tuple[list[str], str]:
        text = "".join(characters[i - 1] for i in prefix)
        *done, current = text.split(" ")
        return done, current

    def allowed(prefix: tuple[int, ...]) -> bool:
        if stems is None:
            return True
        done, current = split(prefix)
        return current in stems and all(w in words for w in done) and "" not in done

    def language(prefix: tuple[int, ...], final: bool) -> float:
        if lm is None:
            return 0.0
        done, current = split(prefix)
        sentence = [w for w in done if w] + ([current] if final and current else [])
        score = sum(lm.log_prob(w, sentence[:i]) for i, w in enumerate(sentence))
        if final:
            score += lm.log_prob("</s>", sentence)
        return alpha * score + beta * len(sentence)

    beams: dict[tuple[int, ...], _Prefix] = {(): _Prefix(blank=0.0)}
    lm_cache: dict[tuple[tuple[int, ...], bool], float] = {}

    def rank(prefix: tuple[int, ...], entry: _Prefix, final: bool = False) -> float:
        key = (prefix, final)
        if key not in lm_cache:
            lm_cache[key] = language(prefix, final)
        return entry.total + lm_cache[key]

    for frame in lp:
        labels = [c for c in range(len(frame)) if prune is None or frame[c] >= prune or c == blank]
        following: dict[tuple[int, ...], _Prefix] = defaultdict(_Prefix)
        for prefix, entry in beams.items():
            for c in labels:
                p = frame[c]
                if c == blank:
                    target = following[prefix]
                    target.blank = _logsumexp(target.blank, entry.blank + p, entry.label + p)
                    continue
                if prefix and prefix[-1] == c:
                    # The frame repeats the last label: it merges into it (always allowed: the prefix does
                    # not change), or after a blank it starts a new, doubled label.
                    same = following[prefix]
                    same.label = _logsumexp(same.label, entry.label + p)
                    extend = entry.blank + p
                else:
                    extend = _logsumexp(entry.blank + p, entry.label + p)
                extended = (*prefix, c)
                if c == space and (not prefix or prefix[-1] == space):
                    continue  # no leading or doubled spaces
                if not allowed(extended):
                    continue
                target = following[extended]
                target.label = _logsumexp(target.label, extend)
        alive = [(k, v) for k, v in following.items() if v.total > NEG_INF]  # impossible prefixes go
        ordered = sorted(alive, key=lambda item: rank(*item), reverse=True)
        beams = dict(ordered[:beam_width]) if beam_width else dict(ordered)

    results = []
    for prefix, entry in beams.items():
        final = prefix[:-1] if prefix and prefix[-1] == space else prefix
        if words is not None:
            _, current = split(final)
            if not current or current not in words:
                continue
        results.append((list(final), rank(prefix, entry, final=True)))
    merged: dict[tuple[int, ...], float] = {}
    for labels, score in results:  # "a" and "a " are one transcript
        merged[tuple(labels)] = _logsumexp(merged.get(tuple(labels), NEG_INF), score)
    return sorted(((list(k), v) for k, v in merged.items()), key=lambda item: item[1], reverse=True)


__all__ = ["WordNgramLM", "collapse", "edit_distance", "greedy_decode", "prefix_beam_search"]
