"""Pretrained word vectors in the word2vec / GloVe text format, matched to a tokenizer's vocabulary.

The format is one word per line followed by its numbers, separated by spaces; word2vec's files
start with a ``count dimension`` header line, GloVe's do not (both are accepted).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor


def read_word_vectors(
    path: str | os.PathLike, vocabulary: dict[str, int], *, lowercase: bool = True, scale: float = 0.1, seed: int = 0
) -> tuple[Tensor, float]:
    """An embedding matrix for ``vocabulary`` with rows from a word2vec/GloVe text file.

    Args:
        path: the vectors file (UTF-8 text).
        vocabulary: ``{token: id}`` (``Tokenizer.backend.get_vocab()``); ids ``0..V-1``.
        lowercase: look words up lower-cased (as the word tokenizer normalises them); the first
            vector of a word wins.
        scale: words without a vector get ``N(0, scale^2)`` rows; the padding row (id 0) is zero.
        seed: the seed of those random rows.

    Returns:
        ``(matrix, coverage)``: a ``(V, D)`` float tensor and the fraction of non-special
        vocabulary entries that had a vector.

    Raises:
        ValueError: a line whose number of values differs from the first one's (named by line),
            a value that is not a number, or a file with no vectors.

    Example:
        >>> matrix, coverage = read_word_vectors("glove.6B.100d.txt", tok.backend.get_vocab())  # doctest: +SKIP
    """
    size = max(vocabulary.values()) + 1 if vocabulary else 0
    rows: dict[int, list[float]] = {}
    dim = None
    with open(Path(path), encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header: count dimension
            if len(parts) < 2:
                continue
            word, values = parts[0], parts[1:]
            if dim is None:
                dim = len(values)
            elif len(values) != dim:
                raise ValueError(f"{path}: line {number} has {len(values)} values, the first vector has {dim}")
            key = word.lower() if lowercase else word
            index = vocabulary.get(key)
            if index is None or index in rows:
                continue
            try:
                rows[index] = [float(v) for v in values]
            except ValueError:
                raise ValueError(f"{path}: line {number}: the values of {word!r} are not all numbers") from None
    if dim is None:
        raise ValueError(f"{path}: no vectors found (expected lines 'word v1 v2 ...')")
    generator = torch.Generator().manual_seed(seed)
    matrix = torch.randn(size, dim, generator=generator) * scale
    for index, values in rows.items():
        matrix[index] = torch.tensor(values)
    matrix[0] = 0.0
    specials = sum(1 for token in vocabulary if token.startswith("[") and token.endswith("]"))
    coverage = len([i for i in rows if i >= specials]) / max(size - specials, 1)
    return matrix, coverage


__all__ = ["read_word_vectors"]
