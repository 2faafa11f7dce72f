"""Long-range task data: the generators checked by hand, the baselines' formulas, the MNIST split."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from rnnkit.data.longrange import (
    ADDING_BASELINE_MSE,
    COPY_BLANK,
    COPY_DELIMITER,
    OnlineBatches,
    adding_problem,
    copy_memory,
    copy_memory_baseline,
    pixel_permutation,
    sequential_mnist,
)


@pytest.fixture(scope="module")
def mnist_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("rnnkit-cache")


def test_adding_target_is_the_sum_of_the_two_marked_values_one_in_each_half():
    x, y = adding_problem(64, 11, generator=torch.Generator().manual_seed(3))
    assert x.shape == (64, 11, 2) and y.shape == (64, 1)
    values, markers = x[..., 0], x[..., 1]
    assert 0 <= values.min() and values.max() < 1
    for b in range(64):
        marked = [t for t in range(11) if markers[b, t] == 1]
        assert set(markers[b].tolist()) <= {0.0, 1.0} and len(marked) == 2
        assert marked[0] < 11 // 2 <= marked[1]  # one in [0, 5), one in [5, 11)
        assert y[b, 0].item() == pytest.approx(values[b, marked[0]].item() + values[b, marked[1]].item(), abs=1e-6)


def test_adding_baseline_is_the_mse_of_always_answering_one():
    assert ADDING_BASELINE_MSE == pytest.approx(2 / 12)  # Var(U(0,1) + U(0,1))
    _, y = adding_problem(100_000, 4, generator=torch.Generator().manual_seed(0))
    assert F.mse_loss(torch.ones_like(y), y).item() == pytest.approx(1 / 6, abs=3e-3)


def test_copy_memory_layout_by_hand():
    x, y = copy_memory(5, 7, copy_length=3, generator=torch.Generator().manual_seed(1))
    assert x.shape == (5, 13, 10) and y.shape == (5, 13) and y.dtype == torch.long
    tokens = x.argmax(-1)
    assert torch.equal(x.sum(-1), torch.ones(5, 13))  # one-hot
    for b in range(5):
        symbols = tokens[b, :3]
        assert all(1 <= s <= 8 for s in symbols.tolist())
        # 3 symbols, 6 blanks, the delimiter at step T + 3 - 1 = 9, then 3 blanks.
        assert tokens[b, 3:9].tolist() == [COPY_BLANK] * 6 and tokens[b, 9] == COPY_DELIMITER
        assert tokens[b, 10:].tolist() == [COPY_BLANK] * 3
        assert y[b, :10].tolist() == [COPY_BLANK] * 10 and torch.equal(y[b, 10:], symbols)


def test_copy_baseline_formula_equals_the_memoryless_strategy_cross_entropy():
    blanks = 30
    assert copy_memory_baseline(blanks) == pytest.approx(10 * math.log(8) / (blanks + 20))
    _, y = copy_memory(50, blanks, generator=torch.Generator().manual_seed(0))
    # Certain of a blank for T + 10 steps, then uniform over the 8 data symbols.
    logits = torch.full((50, blanks + 20, 10), -1e9)
    logits[:, : blanks + 10, COPY_BLANK] = 0.0
    logits[:, blanks + 10 :, 1:9] = 0.0
    assert F.cross_entropy(logits.reshape(-1, 10), y.reshape(-1)).item() == pytest.approx(
        copy_memory_baseline(blanks), rel=1e-6)


def test_pixel_permutation_is_a_fixed_bijection():
    torch.manual_seed(123)
    first = pixel_permutation(0)
    torch.manual_seed(456)  # the global RNG does not matter
    assert torch.equal(first, pixel_permutation(0))
    assert torch.equal(first.sort().values, torch.arange(784))
    assert not torch.equal(first, torch.arange(784)) and not torch.equal(first, pixel_permutation(1))


def test_sequential_mnist_uses_4000_real_digits_to_train_and_1000_to_test(mnist_cache):
    train, test = sequential_mnist(cache_dir=mnist_cache)
    permuted_train, _ = sequential_mnist(permute=True, cache_dir=mnist_cache)
    assert len(train) == 4000 and len(test) == 1000
    x, label = train[0]
    assert x.shape == (784, 1) and 0 <= x.min() and x.max() == 1.0 and label.dtype == torch.long
    assert torch.bincount(test.tensors[1]).tolist() == [100] * 10
    order = pixel_permutation(0)
    assert torch.equal(permuted_train.tensors[0][:, :, 0], train.tensors[0][:, order, 0])
    assert torch.equal(permuted_train.tensors[1], train.tensors[1])


def test_online_batches_are_fresh_every_epoch_and_reproducible():
    def make(batch, generator):
        return adding_problem(batch, 6, generator=generator)

    stream = OnlineBatches(make, 4, 3, seed=7)
    first, second = list(stream), list(stream)
    assert len(stream) == 3 and len(first) == 3
    assert not torch.equal(first[0][0], second[0][0])
    assert torch.equal(first[0][0], next(iter(OnlineBatches(make, 4, 3, seed=7)))[0])
