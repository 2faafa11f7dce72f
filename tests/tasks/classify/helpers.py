"""Tiny data for the classify tests: sentences whose label a few words decide."""

from __future__ import annotations

import random

POSITIVE = ["good", "great", "fine", "lovely"]
NEGATIVE = ["bad", "awful", "dull", "boring"]
FILLER = ["the", "film", "was", "a", "story", "and", "plot", "very", "quite"]


def sentences(n: int, *, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` short sentences, half 'pos' (a positive word among fillers) and half 'neg'."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.choices(FILLER, k=rng.randint(2, 6))
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label == "pos" else NEGATIVE))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


TINY = dict(hidden_size=8, embedding_dim=8, batch_size=8, max_epochs=12, lr=0.02, patience=None, dropout=0.0,
            embedding_dropout=0.0, val_fraction=0.0)
