"""Vocabularies and padded tagging batches."""

from __future__ import annotations

import torch

from rnnkit.data.tag_batches import SentenceBatches, Vocabulary, bigram_key, count_bigrams, count_items, encode_batch


def test_encode_batch_values():
    sentences = [["Ali", "geldi", "."], ["Ev"]]
    words, chars = count_items(sentences, lowercase=True)
    wv, cv = Vocabulary.build(words), Vocabulary.build(chars)
    tv = Vocabulary(["O", "B-PER"])
    batch = encode_batch(sentences, wv, cv, [["B-PER", "O", "O"], ["O"]], tv, lowercase=True, max_chars=4)
    assert batch["lengths"].tolist() == [3, 1]
    assert batch["words"][1].tolist() == [wv.id("ev"), 0, 0]
    assert batch["tags"].tolist() == [[1, 0, 0], [0, 0, 0]]
    assert batch["chars"].shape == (2, 3, 4)  # 'geldi' cut to 4 characters
    assert batch["char_lengths"].tolist() == [[3, 4, 1], [2, 0, 0]]
    assert batch["chars"][0, 0, :3].tolist() == [cv.id("A"), cv.id("l"), cv.id("i")]
    assert wv.id("never-seen") == 1 and wv.id("0") == 1  # unknown word
    years = Vocabulary.build(count_items([["2001"]], False)[0])  # digits map to 0: "0000"
    assert encode_batch([["1996"]], years, None)["words"].tolist() == [[2]]


def test_batches_cover_every_sentence_once_per_epoch():
    sentences = [["w"] * n for n in range(1, 24)]
    batches = SentenceBatches(sentences, None, lambda s, t: encode_batch(s, Vocabulary(), None), batch_size=5)
    torch.manual_seed(0)
    lengths = sorted(n for b in batches for n in b["lengths"].tolist())
    assert lengths == list(range(1, 24)) and len(batches) == 5


def test_bigrams_join_each_token_with_the_next():
    sentences = [["北", "京", "人"], ["5", "月"]]
    assert [bigram_key(sentences[0], i) for i in range(3)] == ["北 京", "京 人", "人 </s>"]
    assert bigram_key(sentences[1], 0) == "0 月"  # digits map to 0, as for words
    counts = count_bigrams([*sentences, ["北", "京"]], lowercase=False)
    assert counts["北 京"] == 2 and counts["京 </s>"] == 1
    bigrams = Vocabulary.build(counts, min_count=2)  # only "北 京" is seen twice
    assert bigrams.items == ["<pad>", "<unk>", "北 京"]
    words = Vocabulary.build(count_items(sentences, False)[0])
    batch = encode_batch(sentences, words, None, bigrams=bigrams)
    assert batch["bigrams"].tolist() == [[2, 1, 1], [1, 1, 0]]  # unknown 1, padding 0
    assert "bigrams" not in encode_batch(sentences, words, None)
