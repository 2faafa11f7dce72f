"""Token streams: tokenising, the vocabulary, contiguous batching and BPTT windows."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.streams import (
    UNKNOWN_CHAR,
    CorpusError,
    StreamBatches,
    StreamTokenizer,
    batchify,
    bptt_windows,
    concatenated_windows,
    evaluation_batch,
    split_tokens,
)


def test_word_tokens_follow_the_ptb_layout():
    assert split_tokens(" the cat \n\n sat down\n", "word") == ["the", "cat", "<eos>", "sat", "down", "<eos>"]
    assert split_tokens("ab\nc", "char") == ["a", "b", "\n", "c"]


def test_char_vocabulary_round_trip_and_unknowns():
    tok = StreamTokenizer("char").fit("abracadabra\n")
    assert tok.tokens == ["<unk>", "\n", "a", "b", "c", "d", "r"]
    ids = tok.encode("cab\n")
    assert ids.tolist() == [4, 2, 3, 1]
    assert tok.decode(ids) == "cab\n"
    ids = tok.encode("cxz")
    assert ids.tolist() == [4, 0, 0] and tok.last_unknown == 2
    assert tok.decode(ids) == "c" + UNKNOWN_CHAR * 2


def test_word_vocabulary_limits_and_decoding():
    tok = StreamTokenizer("word", max_vocab=3).fit("a a a b b c\na b\n")
    assert tok.tokens == ["<unk>", "a", "b"]  # the two most frequent (a: 4, b: 3; <eos>: 2, c: 1)
    tok = StreamTokenizer("word").fit("the cat sat\nthe dog\n")
    text = tok.decode(tok.encode("the cat\nthe bird\n"))
    assert text == "the cat\nthe <unk>\n"
    assert tok.characters("the cat\n") == len("the cat\n")


def test_tokenizer_json_round_trip():
    tok = StreamTokenizer("word").fit("x y z\n")
    again = StreamTokenizer.from_json(tok.to_json())
    assert again.tokens == tok.tokens and again.encode("z q").tolist() == tok.encode("z q").tolist()


def test_bpe_round_trip():
    pytest.importorskip("tokenizers")
    text = "low lower lowest newer newest wider\n" * 30
    tok = StreamTokenizer("bpe", bpe_vocab_size=300).fit(text)
    ids = tok.encode("lower newest\n")
    assert tok.decode(ids) == "lower newest\n"
    assert ids.numel() < len("lower newest\n")  # merges happened
    again = StreamTokenizer.from_json(tok.to_json())
    assert again.encode("lower newest\n").tolist() == ids.tolist()


def test_batchify_lays_out_contiguous_rows():
    rows = batchify(torch.arange(23), 4)
    assert rows.tolist() == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19]]


def test_stream_batch_targets_are_the_next_token_and_windows_tile():
    data = StreamBatches(torch.arange(100), batch_size=4, bptt=7)
    batch = next(iter(data))
    assert batch["inputs"][1].tolist() == list(range(25, 49))
    assert batch["targets"][1].tolist() == list(range(26, 50))
    assert batch["windows"][0] == (0, 7) and batch["windows"][-1] == (21, 24)
    joined = concatenated_windows(batch, 1, 3)
    assert joined["inputs"].tolist() == batch["inputs"][:, 7:21].tolist() and joined["windows"] == ((0, 14),)


def test_variable_windows_follow_the_awd_rule():
    generator = torch.Generator().manual_seed(0)
    windows = bptt_windows(100_000, 70, variable=True, generator=generator)
    lengths = torch.tensor([b - a for a, b in windows[:-1]], dtype=torch.float64)
    assert [a for a, _ in windows[1:]] == [b for _, b in windows[:-1]] and windows[-1][1] == 100_000
    assert lengths.min() >= 5
    short = (lengths < 52).double().mean()  # base 35 with probability 0.05 (N(35, 5) < 52 almost surely)
    assert 0.03 < float(short) < 0.07
    assert abs(float(lengths[lengths >= 52].mean()) - 70) < 0.3
    assert abs(float(lengths[lengths >= 52].std()) - 5) < 0.3


def test_bad_corpora_are_clear_errors():
    with pytest.raises(CorpusError, match="empty"):
        StreamTokenizer("char").fit("  \n ")
    with pytest.raises(CorpusError, match="shorter than one BPTT window"):
        StreamBatches(torch.arange(50), batch_size=4, bptt=20)
    with pytest.raises(CorpusError, match="at least 2"):
        evaluation_batch(torch.arange(3), 2, 10)
    with pytest.raises(ValueError, match="level"):
        StreamTokenizer("sentence")
