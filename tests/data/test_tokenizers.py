"""Tokenizers: word/BPE/char training, encode/decode round trips, pad/unk ids, JSON round trip."""

from __future__ import annotations

import pytest

pytest.importorskip("tokenizers")

from rnnkit.data.tokenizers import Tokenizer

TEXTS = ["A fine film, truly fine.", "A dull film.", "Café au lait is fine", "this café"]


def test_word_level_normalises_splits_and_marks_unknown_words():
    tok = Tokenizer.train(TEXTS, kind="word")
    assert (tok.pad_id, tok.unk_id) == (0, 1)
    assert tok.tokens("A FINE, dull film!") == ["a", "fine", ",", "dull", "film", "[UNK]"]
    assert tok.spans("A FINE, dull film!") == ["A", "FINE", ",", "dull", "film", "!"]
    ids = tok.encode("a fine zebra")
    assert ids[2] == tok.unk_id and ids[0] != tok.unk_id and ids[1] != tok.unk_id
    assert tok.decode([*ids, tok.pad_id, tok.pad_id]) == "a fine [UNK]"
    assert tok.decode(tok.encode("Café au lait")) == "café au lait"
    assert tok.encode("") == []
    # the most frequent token gets the first id after the specials
    assert tok.id_to_token(2) == "fine"


def test_min_frequency_and_vocab_size_limit_the_vocabulary():
    tok = Tokenizer.train(TEXTS, kind="word", min_frequency=2)
    assert sorted(tok.backend.get_vocab()) == sorted(["[PAD]", "[UNK]", "a", "fine", "film", ".", "café"])
    assert Tokenizer.train(TEXTS, kind="word", vocab_size=4).vocab_size == 4


def test_char_and_bpe_round_trip_exactly():
    char = Tokenizer.train(TEXTS, kind="char")
    text = "A fine café au lait"
    assert char.tokens(text) == list(text)
    assert char.decode(char.encode(text)) == text
    assert char.encode("z")[0] == char.unk_id
    bpe = Tokenizer.train(TEXTS * 3, kind="bpe", vocab_size=60)
    assert bpe.decode(bpe.encode("a fine dull film")) == "a fine dull film"
    assert len(bpe.encode("filmfine")) >= 2  # an unseen word is made of subwords, not one [UNK]


def test_json_round_trip_gives_the_same_ids_and_special_tokens():
    for kind in ("word", "bpe", "char"):
        tok = Tokenizer.train(TEXTS, kind=kind, special_tokens=["<s>", "</s>"])
        again = Tokenizer.from_json(tok.to_json())
        assert again.kind == kind
        assert again.encode("A fine, unknown film") == tok.encode("A fine, unknown film")
        assert (again.special_id("<s>"), again.special_id("</s>")) == (2, 3)
    with pytest.raises(ValueError, match="not a saved rnnkit tokenizer"):
        Tokenizer.from_json("{}")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="kind: expected one of word, bpe, char, got 'words'"):
        Tokenizer.train(TEXTS, kind="words")
    with pytest.raises(ValueError, match="texts: expected at least one non-empty text"):
        Tokenizer.train(["", "  "])
    with pytest.raises(ValueError, match="vocab_size"):
        Tokenizer.train(TEXTS, vocab_size=2)
    with pytest.raises(TypeError, match="text: expected a str, got float"):
        Tokenizer.train(TEXTS).encode(float("nan"))
