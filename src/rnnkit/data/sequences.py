"""Numeric multivariate sequences from a JSONL file: one sequence (steps × channels) per line.

The format read by ``rnnkit classify predict --data FILE.jsonl`` for a model trained on numeric
sequences. Each non-blank line is a JSON object whose column (default ``"sequence"``) holds the
sequence as a list of steps, each step a list of channel values (``[[0.1, 2.0], [0.3, 1.8]]``: two
steps of two channels) or, for one channel, a number (``[0.1, 0.3, 0.2]``). Other keys of the
object (an id, a label) are ignored. Sequences may differ in length but not in channels; values
must be finite numbers (JSON ``NaN``/``Infinity``, which Python's reader accepts, are errors).

Example line::

    {"id": "a7", "sequence": [[1.86, -0.21, 0.26], [1.89, -0.19, 0.24]]}
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from rnnkit.data.text import TextDataError, decode_lines


def _steps(value: object, *, where: str) -> np.ndarray:
    """``value`` (a JSON list) as a ``(T, F)`` float64 array, or a TextDataError naming ``where``."""
    if not isinstance(value, list) or not value:
        raise TextDataError(f"{where}: expected a non-empty list of steps, got {json.dumps(value)[:40]}")
    rows = [step if isinstance(step, list) else [step] for step in value]
    widths = {len(r) for r in rows}
    if len(widths) != 1 or 0 in widths:
        raise TextDataError(f"{where}: every step needs the same number of channels (at least one), got "
                            f"{sorted(widths)}")
    for t, row in enumerate(rows):
        for f, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TextDataError(f"{where}: step {t}, channel {f}: expected a number, got {json.dumps(v)[:20]}")
            if not math.isfinite(v):
                raise TextDataError(f"{where}: step {t}, channel {f} is {v} (NaN or infinite); fill or drop it")
    return np.asarray(rows, dtype=np.float64)


def read_sequences(path: str | os.PathLike, column: str = "sequence") -> tuple[list[np.ndarray], list[int]]:
    """The sequences of a JSONL file (see the module docstring for the format).

    Args:
        path: the file.
        column: the key holding each line's sequence.

    Returns:
        ``(sequences, lines)``: ``(T_i, F)`` float64 arrays in file order and the 1-based line of
        each.

    Raises:
        TextDataError: a missing file, bytes that are not UTF-8, a line that is not a JSON object,
            an object without ``column`` (the keys it has are listed), a sequence that is empty,
            ragged, not numeric or not finite, or sequences with different channel counts; each
            names the line.

    Example:
        >>> seqs, lines = read_sequences("series.jsonl")  # doctest: +SKIP
        >>> seqs[0].shape, lines[0]  # doctest: +SKIP
        ((20, 12), 1)
    """
    path_str = str(path)
    if not Path(path).is_file():
        raise TextDataError(f"path: no such file {path_str!r}")
    text = decode_lines(Path(path).read_bytes(), path=path_str)
    sequences: list[np.ndarray] = []
    lines: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path_str}: line {number}"
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as error:
            raise TextDataError(f"{where} is not valid JSON: {error.msg}") from None
        if not isinstance(record, dict):
            raise TextDataError(f"{where}: expected a JSON object, got {type(record).__name__}")
        if column not in record:
            raise TextDataError(f"{where}: no column {column!r}; the keys are "
                                f"{', '.join(repr(k) for k in record) or '(none)'}")
        array = _steps(record[column], where=f"{where}, column {column!r}")
        if sequences and array.shape[1] != sequences[0].shape[1]:
            raise TextDataError(f"{where}: {array.shape[1]} channel(s), but line {lines[0]} has "
                                f"{sequences[0].shape[1]}")
        sequences.append(array)
        lines.append(number)
    if not sequences:
        raise TextDataError(f"{path_str}: no sequences (expected one JSON object per line)")
    return sequences, lines


__all__ = ["read_sequences"]
