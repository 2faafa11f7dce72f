"""A tiny learnable named-entity corpus for the tagging tests (IOB2)."""

from __future__ import annotations

import random

NAMES = [["Anna"], ["Peter", "Blackburn"], ["Maria", "Lopez"], ["John"], ["Ayse", "Yilmaz"], ["Li", "Wei"]]
PLACES = [["Paris"], ["New", "York"], ["Ankara"], ["Berlin"], ["Rio", "de", "Janeiro"]]
TEMPLATES = [
    ["{P}", "visited", "{L}", "."],
    ["{P}", "lives", "in", "{L}", "."],
    ["In", "{L}", ",", "{P}", "met", "{P}", "."],
    ["the", "mayor", "of", "{L}", "called", "{P}"],
]


def toy_corpus(n: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    rng = random.Random(seed)
    sentences, tags = [], []
    for _ in range(n):
        tokens, row = [], []
        for slot in rng.choice(TEMPLATES):
            if slot in ("{P}", "{L}"):
                words = rng.choice(NAMES if slot == "{P}" else PLACES)
                kind = "PER" if slot == "{P}" else "LOC"
                tokens += words
                row += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
            else:
                tokens.append(slot)
                row.append("O")
        sentences.append(tokens)
        tags.append(row)
    return sentences, tags


TINY = dict(word_dim=16, char_dim=8, char_hidden=8, hidden_size=16, batch_size=8, lr=1e-2, max_epochs=8)
