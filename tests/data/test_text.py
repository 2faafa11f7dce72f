"""Text tables: CSV/TSV/JSONL columns, and the errors that name the file, line and columns."""

from __future__ import annotations

import json

import pytest

from rnnkit.data.text import TextDataError, read_columns, read_text_labels


def test_csv_tsv_jsonl_read_the_same_rows(tmp_path):
    rows = [("a fine film, really", "pos"), ('he said "dull"', "neg"), ("ok\nthen", "pos")]
    import csv

    with open(tmp_path / "d.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", "label"])
        for i, (t, lab) in enumerate(rows):
            writer.writerow([i, t, lab])
    with open(tmp_path / "d.tsv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["label", "text"])
        for t, lab in rows:
            writer.writerow([lab, t])
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps({"text": t, "label": lab}) for t, lab in rows) + "\n\n")
    for name in ("d.csv", "d.tsv", "d.jsonl"):
        data = read_text_labels(tmp_path / name)
        assert data.texts == [t for t, _ in rows], name
        assert data.labels == ["pos", "neg", "pos"], name
    assert read_text_labels(tmp_path / "d.csv").lines == [2, 3, 4]  # the row's first line
    (tmp_path / "m.csv").write_text('text,label\n"two\nlines",a\n\nnext,b\n')
    assert read_text_labels(tmp_path / "m.csv").lines == [2, 5]
    assert read_text_labels(tmp_path / "d.jsonl", label_col=None).labels is None


def test_missing_column_lists_the_columns_there_are(tmp_path):
    (tmp_path / "d.csv").write_text("sentence,polarity\nfine,pos\n")
    with pytest.raises(TextDataError, match=r"no column 'text', 'label'; the columns are 'sentence', 'polarity'"):
        read_text_labels(tmp_path / "d.csv")
    (tmp_path / "d.jsonl").write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n')
    with pytest.raises(TextDataError, match=r"line 2.*no column 'label'; the columns are 'text'"):
        read_text_labels(tmp_path / "d.jsonl")


def test_non_utf8_names_the_line_or_is_replaced(tmp_path):
    (tmp_path / "d.tsv").write_bytes(b"text\tlabel\nfine\tpos\ncaf\xe9 noir\tneg\n")
    with pytest.raises(TextDataError, match=r"line 3, column 4: byte 0xe9 is not valid UTF-8"):
        read_text_labels(tmp_path / "d.tsv")
    data = read_text_labels(tmp_path / "d.tsv", errors="replace")
    assert data.texts == ["fine", "caf\ufffd noir"]


def test_empty_values_and_other_bad_files(tmp_path):
    (tmp_path / "d.csv").write_text("text,label\nfine,pos\n  ,neg\n,pos\n")
    with pytest.raises(TextDataError, match=r"column 'text' is empty on line\(s\) 3, 4"):
        read_text_labels(tmp_path / "d.csv")
    assert read_text_labels(tmp_path / "d.csv", allow_empty_text=True).texts == ["fine", "  ", ""]
    (tmp_path / "e.csv").write_text("text,label\nfine,\n")
    with pytest.raises(TextDataError, match=r"column 'label' is empty on line\(s\) 2"):
        read_text_labels(tmp_path / "e.csv")
    (tmp_path / "short.csv").write_text("text,label\nfine\n")
    with pytest.raises(TextDataError, match=r"line 2 has 1 field"):
        read_text_labels(tmp_path / "short.csv")
    (tmp_path / "bad.jsonl").write_text('{"text": "a", "label": "x"}\n[1, 2]\n')
    with pytest.raises(TextDataError, match=r"line 2: expected a JSON object, got list"):
        read_text_labels(tmp_path / "bad.jsonl")
    with pytest.raises(TextDataError, match=r"cannot tell the format"):
        read_columns(tmp_path / "d.csv.gz", ["text"])  # not a file either, but the suffix is checked first
    with pytest.raises(TextDataError, match=r"no such file"):
        read_columns(tmp_path / "missing.csv", ["text"])
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TextDataError, match=r"the file is empty"):
        read_columns(tmp_path / "empty.csv", ["text"])


def test_word_vectors_fill_known_words_and_name_bad_lines(tmp_path):
    from rnnkit.data.vectors import read_word_vectors

    vocab = {"[PAD]": 0, "[UNK]": 1, "fine": 2, "film": 3, "dull": 4}
    (tmp_path / "v.txt").write_text("2 3\nFine 1 2 3\nfilm 4 5 6\nfine 9 9 9\nother 0 0 1\n")
    matrix, coverage = read_word_vectors(tmp_path / "v.txt", vocab)
    assert matrix.shape == (5, 3) and matrix[0].abs().sum() == 0
    assert matrix[2].tolist() == [1, 2, 3] and matrix[3].tolist() == [4, 5, 6]  # first vector wins
    assert coverage == pytest.approx(2 / 3)
    (tmp_path / "bad.txt").write_text("fine 1 2 3\nfilm 4 5\n")
    with pytest.raises(ValueError, match="line 2 has 2 values, the first vector has 3"):
        read_word_vectors(tmp_path / "bad.txt", vocab)
