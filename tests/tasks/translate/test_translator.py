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


def test_long_training_pairs_are_truncated_with_a_warning_that_counts_them():
    pairs = toy_pairs(40)
    long = ("the dog " * 12).strip(), ("el perro " * 12).strip()  # 24 words, above max_src_len=12 subwords
    translator = rnnkit.Translator(max_steps=2, **TINY)
    with pytest.warns(UserWarning, match=r"pairs: truncated 2 of 42 pairs to max_src_len=12 / max_tgt_len=12"):
        translator.fit([*pairs, long, long])
    assert translator.truncated_ == 2
    with pytest.warns(UserWarning, match="truncated 1 of 1"):
        encoded = translator._encode_pairs([long], "check")
    assert [len(src) for src, _ in encoded] == [12] and [len(tgt) for _, tgt in encoded] == [12]


def test_an_empty_sentence_is_translated_as_one_unknown_token(fitted):
    import torch

    from rnnkit.models.decoding import greedy_decode

    unk = fitted.src_tokenizer_.unk_id
    expected = greedy_decode(fitted.network, torch.tensor([[unk]]), torch.tensor([1]), max_len_a=fitted.max_len_a,
                             max_len_b=fitted.max_len_b)[0]
    got = fitted.hypotheses([""], beam=1)[0][0]
    assert got.tokens == expected.tokens
    assert fitted.translate([""], beam=1) == [fitted.tgt_tokenizer_.decode(expected.tokens)]


def test_separate_vocabularies_train_one_tokenizer_per_side_and_round_trip(tmp_path):
    translator = rnnkit.Translator(max_steps=3, joint_vocab=False, **TINY).fit(toy_pairs(60))
    src, tgt = translator.src_tokenizer_, translator.tgt_tokenizer_
    assert src is not tgt
    assert "▁perro" not in src.backend.get_vocab() and "▁perro" in tgt.backend.get_vocab()
    assert "▁dog" in src.backend.get_vocab() and "▁dog" not in tgt.backend.get_vocab()
    translator.save(tmp_path / "model")
    assert (tmp_path / "model" / "tokenizer_tgt.json").is_file()
    loaded = rnnkit.load(tmp_path / "model")
    assert loaded.translate(["the red dog"], beam=2) == translator.translate(["the red dog"], beam=2)
