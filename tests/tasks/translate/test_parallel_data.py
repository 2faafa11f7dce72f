"""Parallel-data readers and batches: values, and each bad input's error or documented behaviour."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.parallel import BucketedPairs, ParallelDataError, read_parallel, read_tsv


def test_aligned_files_and_tsv_give_the_same_pairs(tmp_path):
    (tmp_path / "a.en").write_text("the house\n a dog \n")
    (tmp_path / "a.es").write_text("la casa\nun perro\n")
    (tmp_path / "a.tsv").write_text("the house\tla casa\na dog\tun perro\n")
    expected = [("the house", "la casa"), ("a dog", "un perro")]
    assert read_parallel(tmp_path / "a.en", tmp_path / "a.es") == expected
    assert read_tsv(tmp_path / "a.tsv") == expected


def test_different_line_counts_name_both_counts(tmp_path):
    (tmp_path / "a.en").write_text("one\ntwo\nthree\n")
    (tmp_path / "a.es").write_text("uno\ndos\n")
    with pytest.raises(ParallelDataError, match=r"got 3 in .*a\.en and 2 in .*a\.es"):
        read_parallel(tmp_path / "a.en", tmp_path / "a.es")


def test_empty_lines_are_dropped_with_a_warning(tmp_path):
    (tmp_path / "a.en").write_text("one\n\nthree\nfour\n")
    (tmp_path / "a.es").write_text("uno\ndos\n\ncuatro\n")
    with pytest.warns(UserWarning, match=r"dropped 2 pair\(s\) with an empty side \(line 2, 3\)"):
        assert read_parallel(tmp_path / "a.en", tmp_path / "a.es") == [("one", "uno"), ("four", "cuatro")]


def test_bad_tsv_lines_and_missing_files(tmp_path):
    (tmp_path / "bad.tsv").write_text("a\tb\nno tab here\n")
    with pytest.raises(ParallelDataError, match="line 2: expected 2 tab-separated fields"):
        read_tsv(tmp_path / "bad.tsv")
    with pytest.raises(ParallelDataError, match="no such file"):
        read_tsv(tmp_path / "missing.tsv")
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(ParallelDataError, match="is empty"):
        read_tsv(tmp_path / "empty.tsv")


def test_bucketed_batches_hold_every_pair_once_with_bos_and_eos():
    pairs = [([5 + i] * (1 + i % 4), [9] * (1 + i % 3)) for i in range(10)]
    batches = BucketedPairs(pairs, batch_size=3, pad_id=0, bos_id=1, eos_id=2)
    torch.manual_seed(0)
    seen = []
    for batch in batches:
        for row in range(batch["src"].shape[0]):
            n = int(batch["src_lengths"][row])
            src = batch["src"][row]
            assert torch.all(src[n:] == 0) and torch.all(src[:n] == src[0])
            seen.append(int(src[0]))
            tgt_len = int((batch["tgt_out"][row] != 0).sum())
            assert batch["tgt_in"][row, 0] == 1 and batch["tgt_out"][row, tgt_len - 1] == 2
            assert torch.equal(batch["tgt_in"][row, 1:tgt_len], batch["tgt_out"][row, : tgt_len - 1])
    assert sorted(seen) == list(range(5, 15)) and len(batches) == 4
    with pytest.raises(ValueError, match="source 0 has no token"):
        BucketedPairs([([], [3])], batch_size=2, pad_id=0, bos_id=1, eos_id=2)
