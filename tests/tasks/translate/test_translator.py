"""rnnkit.Translator on a toy language: learning, save/load, constraints, decoding options, bad input."""

from __future__ import annotations

import pytest

import rnnkit
from rnnkit.metrics.translation import translation_scores
from tests.tasks.translate.conftest import TINY, toy_pairs


def test_learns_the_toy_language_and_evaluate_is_sacrebleu(fitted):
    test = toy_pairs(30, seed=2)
    scores = fitted.evaluate(test, beam=3)
    outputs = fitted.last_outputs_
    expected = translation_scores(outputs, [t for _, t in test])
    assert scores["BLEU"] == pytest.approx(expected.bleu) and scores["chrF"] == pytest.approx(expected.chrf)
    copy = translation_scores([s for s, _ in test], [t for _, t in test])
    assert scores["chrF"] > 70.0 and scores["BLEU"] > 40.0  # 150 steps learn the word-for-word language
    assert copy.chrf < 20.0 and copy.bleu < 5.0
    assert fitted.signatures_["BLEU"].startswith("nrefs:1|case:mixed")


def test_save_load_translate_round_trip(fitted, tmp_path):
    sentences = ["the big house", "a red cat sees the dog"]
    before = fitted.translate(sentences, beam=3)
    fitted.save(tmp_path / "model")
    loaded = rnnkit.load(tmp_path / "model")
    assert isinstance(loaded, rnnkit.Translator)
    assert loaded.translate(sentences, beam=3) == before
    assert loaded.translate(sentences, beam=1) == fitted.translate(sentences, beam=1)


def test_constraints_are_placed_and_bad_constraints_are_errors(fitted):
    sentences = ["the big house", "a red cat", "the dog has a cat"]
    outputs = fitted.translate(sentences, beam=3, constraints=[["perro"], ["tiene", "casa"], []])
    assert "perro" in outputs[0] and "tiene" in outputs[1] and "casa" in outputs[1]
    with pytest.raises(ValueError, match=r"'日本' cannot be tokenised"):
        fitted.translate(["the house"], constraints=[["日本"]])
    with pytest.raises(ValueError, match="one list of terms per sentence"):
        fitted.translate(["the house", "a dog"], constraints=[["casa"]])
    with pytest.raises(ValueError, match="no subword"):
        fitted.translate(["the house"], constraints=[[""]])


def test_decoding_options(fitted):
    nbest = fitted.translate(["the red dog"], beam=3, n_best=3)
    assert len(nbest) == 1 and len(nbest[0]) == 3 and len(set(nbest[0])) == 3
    first = fitted.translate(["the red dog", "a cat"], method="sample", temperature=1.0)
    assert fitted.translate(["the red dog", "a cat"], method="sample", temperature=1.0) == first
    assert fitted.translate(["the red dog"], method="sample", temperature=1e-4) == fitted.translate(["the red dog"],
                                                                                                    beam=1)
    with pytest.raises(ValueError, match="beam"):
        fitted.translate(["a cat"], beam=0)
    with pytest.raises(TypeError, match="wrap it in a list"):
        fitted.translate("a cat")


def test_long_sentences_unknown_characters_and_empty_lines(fitted):
    long = " ".join(["the dog"] * 10)
    with pytest.warns(UserWarning, match="truncated 1 sentence"):
        assert isinstance(fitted.translate([long])[0], str)
    with pytest.warns(UserWarning, match=r"outside the source vocabulary were read as \[UNK\]"):
        out = fitted.translate(["the ДОМ house"])
    assert isinstance(out[0], str)
    assert isinstance(fitted.translate([""])[0], str)  # an empty line is read as one [UNK]


def test_heatmap_png(fitted, tmp_path):
    path = fitted.attention_heatmap("the big red house", str(tmp_path / "a.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_bad_pairs_and_settings():
    with pytest.raises(TypeError, match=r"pairs\[1\]: expected a \(source, target\) pair"):
        rnnkit.Translator(max_steps=1, **TINY).fit([("a", "b"), ("only one",)])
    with pytest.raises(ValueError, match="vocab_size: expected a positive integer"):
        rnnkit.Translator(vocab_size=0)
    with pytest.raises(RuntimeError, match="call fit"):
        rnnkit.Translator().translate(["a"])
