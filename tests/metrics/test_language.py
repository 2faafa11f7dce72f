"""Perplexity and bits per character from summed log-likelihoods."""

from __future__ import annotations

import math

import pytest

from rnnkit.metrics.language import language_scores, scored_positions


def test_scores_of_a_uniform_model():
    # A uniform model over 50 tokens: perplexity 50, log2(50) bits per token.
    scores = language_scores(100 * math.log(50), 100, characters=400)
    assert scores["perplexity"] == pytest.approx(50)
    assert scores["bits_per_token"] == pytest.approx(math.log2(50))
    assert scores["bpc"] == pytest.approx(100 * math.log2(50) / 400)


def test_scored_positions_match_the_row_layout():
    assert scored_positions(11, 2).tolist() == [1, 2, 3, 4, 6, 7, 8, 9]
    with pytest.raises(ValueError, match="length"):
        scored_positions(3, 2)



def test_bad_arguments():
    with pytest.raises(ValueError, match="tokens"):
        language_scores(1.0, 0)
    with pytest.raises(ValueError, match="nll"):
        language_scores(float("inf"), 3)
