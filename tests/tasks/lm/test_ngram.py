"""The Kneser–Ney baseline against a dictionary transcription of Chen & Goodman's formulas."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest

from rnnkit.tasks.lm.baselines import KneserNeyLM, _discounts


def reference_kn(train: list[int], order: int, V: int):
    """p(w | history) written out with Counters, one order at a time (slow, obviously right)."""
    grams = [Counter() for _ in range(order + 1)]  # grams[n][tuple of n tokens] = raw count
    for n in range(1, order + 1):
        for i in range(n - 1, len(train)):
            grams[n][tuple(train[i - n + 1:i + 1])] += 1
    tables = {}
    for n in range(1, order + 1):
        if n == order:
            counts = dict(grams[n])
        else:  # continuation: distinct left extensions
            counts = defaultdict(int)
            for gram in grams[n + 1]:
                counts[gram[1:]] += 1
            counts = {g: counts.get(g, 0) for g in grams[n]}
        d = _discounts(np.array(list(counts.values())))
        totals, backoff = defaultdict(float), defaultdict(float)
        for gram, c in counts.items():
            totals[gram[:-1]] += c
            if c > 0:
                backoff[gram[:-1]] += d[min(c, 3) - 1]
        tables[n] = (counts, d, totals, backoff)

    def prob(w: int, history: tuple[int, ...]) -> float:
        p = 1.0 / V
        for n in range(1, order + 1):
            if len(history) < n - 1:
                break
            h = history[len(history) - (n - 1):] if n > 1 else ()
            counts, d, totals, backoff = tables[n]
            if totals.get(h, 0) == 0:
                continue
            c = counts.get((*h, w), 0)
            discount = d[min(c, 3) - 1] if c > 0 else 0.0
            p = max(c - discount, 0) / totals[h] + backoff[h] / totals[h] * p
        return p

    return prob


@pytest.fixture
def corpus():
    rng = np.random.default_rng(0)
    # A little Markov chain so that counts of 1..4+ all occur.
    train = [0]
    for _ in range(400):
        train.append(int((train[-1] * 3 + rng.integers(0, 3)) % 7))
    test = [int(v) for v in rng.integers(0, 8, size=60)]  # id 7 never occurs in training
    return train, test


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_log_probs_equal_the_reference(corpus, order):
    train, test = corpus
    lm = KneserNeyLM(order, vocab_size=8).fit(np.array(train))
    prob = reference_kn(train, order, 8)
    expected = [math.log(prob(w, tuple(test[max(0, j - order + 1):j]))) for j, w in enumerate(test)]
    np.testing.assert_allclose(lm.log_probs(np.array(test)), expected, rtol=1e-10)


@pytest.mark.parametrize("order", [2, 3, 5])
def test_every_distribution_sums_to_one(corpus, order):
    train, test = corpus
    lm = KneserNeyLM(order, vocab_size=8).fit(np.array(train))
    for j in (0, 1, 5, 17, 40):  # seen, unseen and short histories
        history = test[max(0, j - order + 1):j]
        total = sum(math.exp(lm.log_probs(np.array([*history, w]))[-1]) for w in range(8))
        assert total == pytest.approx(1.0, abs=1e-12)


def test_unseen_token_gets_positive_probability_and_nll_is_summed(corpus):
    train, test = corpus
    lm = KneserNeyLM(3, vocab_size=8).fit(np.array(train))
    logp = lm.log_probs(np.array(test))
    assert np.isfinite(logp).all()
    nll, n = lm.stream_nll(np.array(test), positions=np.array([3, 4]))
    assert n == 2 and nll == pytest.approx(-(logp[3] + logp[4]))


def test_bad_inputs():
    with pytest.raises(ValueError, match="order"):
        KneserNeyLM(0, vocab_size=3)
    with pytest.raises(ValueError, match=r"ids: expected ids in \[0, 3\)"):
        KneserNeyLM(2, vocab_size=3).fit(np.array([0, 5]))
    with pytest.raises(ValueError, match="non-empty"):
        KneserNeyLM(2, vocab_size=3).fit(np.array([], dtype=np.int64))
    with pytest.raises(RuntimeError, match="fit"):
        KneserNeyLM(2, vocab_size=3).log_probs(np.array([0]))
