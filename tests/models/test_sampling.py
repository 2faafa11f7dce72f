"""Sampling filters against their definitions: temperature, top-k, top-p, greedy."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.models.sampling import filter_logits, next_token_probabilities, sample_next


def nucleus_by_brute_force(probs: list[float], p: float) -> set[int]:
    """The smallest set of tokens whose probability reaches p (Holtzman et al. 2020); among sets of
    that size, the most probable one."""
    for size in range(1, len(probs) + 1):
        best = max(itertools.combinations(range(len(probs)), size), key=lambda s: sum(probs[i] for i in s))
        if sum(probs[i] for i in best) >= p - 1e-12:
            return set(best)
    return set(range(len(probs)))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8, 0.95, 1.0])
def test_top_p_keeps_the_nucleus(seed, p):
    logits = torch.randn(7, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2
    kept = set(torch.nonzero(torch.isfinite(filter_logits(logits, top_p=p))).flatten().tolist())
    assert kept == nucleus_by_brute_force(torch.softmax(logits, -1).tolist(), p)


@pytest.mark.parametrize("k", [1, 3, 7, 10])
def test_top_k_keeps_the_k_most_probable(k):
    logits = torch.tensor([[0.1, 2.0, -1.0, 0.5, 3.0, -2.0, 1.0]])
    kept = torch.isfinite(filter_logits(logits, top_k=k))[0]
    expected = set(torch.argsort(logits[0], descending=True)[: min(k, 7)].tolist())
    assert set(torch.nonzero(kept).flatten().tolist()) == expected


def test_temperature_divides_the_logits_before_the_softmax():
    logits = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    probs = torch.softmax(logits, -1)
    for t in (0.5, 1.0, 2.0):
        expected = probs ** (1 / t) / (probs ** (1 / t)).sum()  # p_i^(1/T), renormalised
        torch.testing.assert_close(next_token_probabilities(logits, temperature=t), expected)
    # Filters act on the tempered distribution, then renormalise.
    tempered = next_token_probabilities(logits, temperature=0.5, top_k=2)
    assert tempered[2] == 0 and float(tempered.sum()) == pytest.approx(1.0)


def test_temperature_zero_is_greedy():
    logits = torch.tensor([[0.1, 2.0, 1.9], [3.0, 3.0, -1.0]])
    assert sample_next(logits, temperature=0).tolist() == [1, 0]  # ties: the first


def test_samples_follow_the_filtered_distribution_and_a_seed_reproduces_them():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.15, 0.1]]))
    draws = torch.stack([sample_next(logits, top_p=0.8, generator=g)
                         for g in [torch.Generator().manual_seed(0)] for _ in range(4000)]).flatten()
    freq = torch.bincount(draws, minlength=4).double() / draws.numel()
    expected = torch.tensor([0.5, 0.25, 0.15, 0.0]) / 0.9
    assert (freq - expected).abs().max() < 0.03 and freq[3] == 0
    a = sample_next(logits.expand(50, 4), generator=torch.Generator().manual_seed(5))
    b = sample_next(logits.expand(50, 4), generator=torch.Generator().manual_seed(5))
    assert a.tolist() == b.tolist()


@pytest.mark.parametrize("options, match", [
    ({"temperature": -0.1}, "temperature"), ({"temperature": float("nan")}, "temperature"),
    ({"top_p": 0.0}, "top_p"), ({"top_p": 1.5}, "top_p"), ({"top_k": 0}, "top_k"),
])
def test_bad_sampling_settings(options, match):
    with pytest.raises(ValueError, match=match):
        sample_next(torch.zeros(1, 3), **options)
