"""Shared tiny data and one tiny fitted translator for the translation tests."""

from __future__ import annotations

import random

import pytest

WORDS = {"the": "el", "house": "casa", "dog": "perro", "big": "grande", "red": "rojo", "cat": "gato",
         "sees": "ve", "has": "tiene", "a": "un"}


def toy_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """A word-for-word toy language pair: learnable in a few dozen steps."""
    rng = random.Random(seed)
    english = list(WORDS)
    pairs = []
    for _ in range(n):
        words = rng.choices(english, k=rng.randint(2, 5))
        pairs.append((" ".join(words), " ".join(WORDS[w] for w in words)))
    return pairs


@pytest.fixture(autouse=True)
def _pytorch_kernels_only(monkeypatch):
    # Tiny models: PyTorch's own kernels are fast enough, and no test waits on the shared CPU-kernel
    # build lock (the suite-wide conftest runs everything on one torch thread).
    monkeypatch.setenv("RNNKIT_NO_KERNELS", "1")


TINY = dict(vocab_size=100, embed_size=24, hidden_size=32, batch_size=16, lr=0.02, dropout=0.0, label_smoothing=0.0,
            max_src_len=12, max_tgt_len=12, beam=3, max_len_a=1.0, max_len_b=3)


def fit_tiny(max_steps: int, pairs: list[tuple[str, str]], val_pairs=None):
    """A tiny translator fitted on PyTorch's own kernels (for module-scoped fixtures, which the
    function-scoped ``monkeypatch`` cannot serve)."""
    from rnnkit.tasks.translate.estimator import Translator

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RNNKIT_NO_KERNELS", "1")
        return Translator(max_steps=max_steps, **TINY).fit(pairs, val_pairs)


@pytest.fixture(scope="module")
def fitted():
    return fit_tiny(150, toy_pairs(400), toy_pairs(20, seed=1))
