"""Translation subwords: BPE output detokenises exactly; unseen characters, sizes and empty input."""

from __future__ import annotations

import pytest

pytest.importorskip("tokenizers")

from rnnkit.data.subwords import train_subword_tokenizer

TEXTS = ["In the beginning, God created the heavens and the earth.", "God said, “Let there be light,” and there was.",
         "Y dijo Dios: Sea la luz: y fué la luz."] * 5


def test_decode_of_encode_is_the_text_with_its_spaces_and_punctuation():
    tok = train_subword_tokenizer(TEXTS, vocab_size=120)
    for text in [*TEXTS[:3], "God said, “the earth.”", "  God   created  "]:
        assert tok.decode(tok.encode(text)) == " ".join(text.split())
    # special ids as the decoder expects them: [PAD] 0, [UNK] 1, <s> 2, </s> 3
    assert [tok.special_id(t) for t in ("[PAD]", "[UNK]", "<s>", "</s>")] == [0, 1, 2, 3]
    # subwords, not words: a small vocabulary splits the long words, and still detokenises exactly
    small = train_subword_tokenizer(TEXTS, vocab_size=60)
    assert len(small.tokens("beginning")) > 1
    assert small.decode(small.encode(TEXTS[0])) == TEXTS[0]


def test_unseen_characters_become_unk_and_lowercase_option():
    tok = train_subword_tokenizer(TEXTS, vocab_size=120)
    ids = tok.encode("God ДОМ")
    assert tok.unk_id in ids and tok.decode(ids).startswith("God ")
    lower = train_subword_tokenizer(TEXTS, vocab_size=120, lowercase=True)
    assert lower.decode(lower.encode("GOD said")) == "god said"


def test_bad_sizes_and_empty_texts_are_errors():
    with pytest.raises(ValueError, match="vocab_size: expected more than the 4 special tokens, got 4"):
        train_subword_tokenizer(TEXTS, vocab_size=4)
    with pytest.raises(ValueError, match="texts: expected at least one non-empty text"):
        train_subword_tokenizer(["", "  "], vocab_size=50)
