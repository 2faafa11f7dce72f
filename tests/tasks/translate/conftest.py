"""Shared tiny data and one tiny fitted translator for the translation tests."""

from __future__ import annotations

import random

import pytest
import torch

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
def _small_and_single_threaded(monkeypatch):
    # Tiny models: PyTorch's own kernels are fast enough (no test waits on the shared CPU-kernel build
    # lock), and one thread: on a loaded 2-core machine two threads made these tests ~15x slower.
    monkeypatch.setenv("RNNKIT_NO_KERNELS", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = dict(vocab_size=100, embed_size=24, hidden_size=32, batch_size=16, lr=0.02, dropout=0.0, label_smoothing=0.0,
            max_src_len=12, max_tgt_len=12, beam=3, max_len_a=1.0, max_len_b=3)


@pytest.fixture(scope="module")
def fitted():
    import os

    from rnnkit.tasks.translate.estimator import Translator

    old, threads = os.environ.get("RNNKIT_NO_KERNELS"), torch.get_num_threads()
    os.environ["RNNKIT_NO_KERNELS"] = "1"
    torch.set_num_threads(1)
    try:
        translator = Translator(max_steps=150, **TINY).fit(toy_pairs(400), toy_pairs(20, seed=1))
    finally:
        torch.set_num_threads(threads)
        if old is None:
            os.environ.pop("RNNKIT_NO_KERNELS")
        else:
            os.environ["RNNKIT_NO_KERNELS"] = old
    return translator
