"""WER and CER through jiwer, counted by hand."""

import pytest

pytest.importorskip("jiwer")

from rnnkit.metrics.speech import character_error_rate, error_rates, word_error_rate


def test_rates_are_corpus_level_edit_counts():
    # one substitution in 3 words + one insertion against 1 word: 2 errors / 4 reference words
    assert word_error_rate(["four of clubs", "ten"], ["for of clubs", "ten ten"]) == pytest.approx(0.5)
    assert character_error_rate(["four"], ["for"]) == pytest.approx(0.25)
    assert error_rates(["Seven of Hearts."], ["seven of hearts"]) == {"wer": 0.0, "cer": 0.0}


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="hypotheses: expected 2"):
        word_error_rate(["a", "b"], ["a"])
    with pytest.raises(TypeError, match="lists of strings"):
        word_error_rate("a b", "a b")
    with pytest.raises(ValueError, match="every reference is empty"):
        character_error_rate([""], ["x"])
