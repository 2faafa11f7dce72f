"""read_sequences: numeric sequences from JSONL, values and each bad line named."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.sequences import read_sequences
from rnnkit.data.text import TextDataError


def test_sequences_of_steps_and_channels_in_file_order(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"id": 1, "sequence": [[1, 2.5], [3, -4]]}\n\n{"sequence": [[0.5, 0]], "label": "x"}\n')
    sequences, lines = read_sequences(path)
    assert [s.tolist() for s in sequences] == [[[1.0, 2.5], [3.0, -4.0]], [[0.5, 0.0]]]
    assert lines == [1, 3]
    path.write_text('{"x": [1, 2, 3]}\n{"x": [4]}\n')  # one channel: a number per step
    sequences, _ = read_sequences(path, "x")
    assert [s.shape for s in sequences] == [(3, 1), (1, 1)] and sequences[0][:, 0].tolist() == [1.0, 2.0, 3.0]
    assert sequences[0].dtype == np.float64


@pytest.mark.parametrize(("content", "message"), [
    ('{"sequence": [[1, 2]]}\n{"values": [[1, 2]]}\n', "line 2: no column 'sequence'; the keys are 'values'"),
    ('{"sequence": [[1, 2], [3]]}\n', r"line 1, column 'sequence': every step needs the same number of channels "
                                     r"\(at least one\), got \[1, 2\]"),
    ('{"sequence": [[1, NaN]]}\n', r"line 1, column 'sequence': step 0, channel 1 is nan \(NaN or infinite\)"),
    ('{"sequence": [[1, "a"]]}\n', "step 0, channel 1: expected a number, got \"a\""),
    ('{"sequence": []}\n', "line 1, column 'sequence': expected a non-empty list of steps"),
    ('{"sequence": [[1, 2]]}\n{"sequence": [[1, 2, 3]]}\n', "line 2: 3 channel\\(s\\), but line 1 has 2"),
    ('[[1, 2]]\n', "line 1: expected a JSON object, got list"),
    ('{"sequence": [[1, 2]\n', "line 1 is not valid JSON"),
    ('\n\n', "no sequences"),
])
def test_bad_lines_are_named(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(TextDataError, match=message):
        read_sequences(path)


def test_missing_file_and_bad_bytes(tmp_path):
    with pytest.raises(TextDataError, match="no such file"):
        read_sequences(tmp_path / "none.jsonl")
    (tmp_path / "b.jsonl").write_bytes(b'{"sequence": [1]}\n{"sequence": [2], "n": "\xff"}\n')
    with pytest.raises(TextDataError, match="line 2"):
        read_sequences(tmp_path / "b.jsonl")
