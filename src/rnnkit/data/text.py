"""Text tables as users give them: CSV, TSV or JSONL files with named columns.

One reader for every text application (classification, tagging by sentence, translation pairs,
language-model lines): :func:`read_columns` returns the named columns of a file as lists of
strings, and :func:`read_text_labels` is the common case of one text column and an optional label
column.

Errors name the file and the line: a missing column lists the columns the file has; a byte
sequence that is not UTF-8 is reported with its line number (or, with ``errors="replace"``,
replaced by U+FFFD as documented); a JSONL line that is not a JSON object, a CSV row with too few
fields and an empty value where ``allow_empty=False`` each name their line.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: File formats by suffix (``.txt`` is read as TSV, the most common plain-text table).
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class TextDataError(ValueError):
    """A text file that cannot be used, with a message naming the file, the line and why."""


@dataclass
class TextLabels:
    """Texts and (optionally) their labels, read from a file.

    Attributes:
        texts: one string per row.
        labels: one label string per row, or ``None`` when no label column was asked for.
        lines: the 1-based line number of each row in the file (for error messages).
        path: the file read.
    """

    texts: list[str]
    labels: list[str] | None
    lines: list[int]
    path: str

    def __len__(self) -> int:
        return len(self.texts)


def detect_format(path: str | os.PathLike, format: str | None = None) -> str:
    """The format of ``path``: ``format`` if given, else from the suffix (see :data:`FORMATS`).

    Raises:
        TextDataError: an unknown format or suffix.
    """
    if format is not None:
        if format not in ("csv", "tsv", "jsonl"):
            raise TextDataError(f"format: expected 'csv', 'tsv' or 'jsonl', got {format!r}")
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise TextDataError(
            f"path: cannot tell the format of {str(path)!r} from its suffix {suffix!r}; expected one of "
            f"{', '.join(sorted(FORMATS))} or pass format='csv'|'tsv'|'jsonl'"
        )
    return FORMATS[suffix]


def decode_lines(data: bytes, *, path: str, errors: str = "strict") -> str:
    """``data`` decoded as UTF-8 (a leading BOM removed).

    Args:
        data: the file's bytes.
        path: the file's name, for the error message.
        errors: ``"strict"`` (an error naming the first bad line) or ``"replace"`` (bad bytes become
            U+FFFD).

    Raises:
        TextDataError: with ``errors="strict"``, the line and column of the first invalid byte.
    """
    if errors not in ("strict", "replace"):
        raise TextDataError(f"errors: expected 'strict' or 'replace', got {errors!r}")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise TextDataError(
            f"{path}: line {line}, column {column}: byte {data[error.start]:#04x} is not valid UTF-8; "
            "re-encode the file as UTF-8 or read it with errors='replace' (bad bytes become U+FFFD)"
        ) from None


def _missing(path: str, wanted: Sequence[str], have: Sequence[str], where: str = "") -> TextDataError:
    missing = [c for c in wanted if c not in have]
    return TextDataError(
        f"{path}{where}: no column {', '.join(repr(c) for c in missing)}; the columns are "
        f"{', '.join(repr(c) for c in have) or '(none)'}"
    )


def _read_delimited(text: str, columns: Sequence[str], *, path: str, delimiter: str) -> tuple[dict, list[int]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise TextDataError(f"{path}: the file is empty (expected a header line naming the columns)") from None
    header = [h.strip() for h in header]
    if any(c not in header for c in columns):
        raise _missing(path, columns, header, " (header, line 1)")
    index = [header.index(c) for c in columns]
    out: dict[str, list[str]] = {c: [] for c in columns}
    lines: list[int] = []
    end = reader.line_num  # the last line of the previous row (a quoted field may span lines)
    try:
        for row in reader:
            line, end = end + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip() and len(header) > 1):
                continue  # a blank line
            if len(row) <= max(index):
                raise TextDataError(
                    f"{path}: line {line} has {len(row)} field(s) but column {columns[index.index(max(index))]!r} "
                    f"is field {max(index) + 1} of the header"
                )
            for c, i in zip(columns, index, strict=True):
                out[c].append(row[i])
            lines.append(line)
    except csv.Error as error:
        raise TextDataError(f"{path}: line {reader.line_num}: {error}") from None
    return out, lines


def _read_jsonl(text: str, columns: Sequence[str], *, path: str) -> tuple[dict, list[int]]:
    out: dict[str, list[str]] = {c: [] for c in columns}
    lines: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as error:
            raise TextDataError(f"{path}: line {number} is not valid JSON: {error.msg}") from None
        if not isinstance(record, dict):
            raise TextDataError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
        if any(c not in record for c in columns):
            raise _missing(path, columns, list(record), f" (line {number})")
        for c in columns:
            value = record[c]
            if isinstance(value, (dict, list)):
                raise TextDataError(f"{path}: line {number}: column {c!r} holds a {type(value).__name__}, not a value")
            out[c].append("" if value is None else str(value))
        lines.append(number)
    return out, lines


def read_columns(
    path: str | os.PathLike,
    columns: Sequence[str],
    *,
    format: str | None = None,
    errors: str = "strict",
    allow_empty: bool | Sequence[str] = True,
) -> tuple[dict[str, list[str]], list[int]]:
    """The named columns of a CSV, TSV or JSONL file, as lists of strings.

    Args:
        path: the file. CSV and TSV files have a header line naming the columns; JSONL has one JSON
            object per line.
        columns: the names of the columns to read.
        format: ``"csv"``, ``"tsv"`` or ``"jsonl"``; default from the suffix (:func:`detect_format`).
        errors: ``"strict"``: bytes that are not UTF-8 are an error naming the line;
            ``"replace"``: they become U+FFFD.
        allow_empty: ``False`` (or a list of column names) makes an empty or all-whitespace value
            an error that lists the lines where it occurs.

    Returns:
        ``({column: values}, lines)``: the values in file order and the 1-based line number of
        each row. Blank lines are skipped.

    Raises:
        TextDataError: a missing file or column (the message lists the columns there are), bad
            UTF-8, a malformed row, or an empty value that is not allowed.

    Example:
        >>> cols, lines = read_columns("reviews.csv", ["text", "label"])  # doctest: +SKIP
        >>> cols["text"][0], lines[0]  # doctest: +SKIP
        ('a gripping film', 2)
    """
    path_str = str(path)
    if not columns:
        raise TextDataError("columns: expected at least one column name, got none")
    kind = detect_format(path, format)
    if not Path(path).is_file():
        raise TextDataError(f"path: no such file {path_str!r}")
    text = decode_lines(Path(path).read_bytes(), path=path_str, errors=errors)
    if kind == "jsonl":
        out, lines = _read_jsonl(text, columns, path=path_str)
    else:
        out, lines = _read_delimited(text, columns, path=path_str, delimiter="," if kind == "csv" else "\t")
    if allow_empty is not True:
        check = list(columns) if allow_empty is False else list(allow_empty)
        for c in check:
            empty = [line for line, value in zip(lines, out[c], strict=True) if not value.strip()]
            if empty:
                shown = ", ".join(map(str, empty[:10])) + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
                raise TextDataError(f"{path_str}: column {c!r} is empty on line(s) {shown}")
    return out, lines


def read_text_labels(
    path: str | os.PathLike,
    text_col: str = "text",
    label_col: str | None = "label",
    *,
    format: str | None = None,
    errors: str = "strict",
    allow_empty_text: bool = False,
) -> TextLabels:
    """Texts and labels from a CSV, TSV or JSONL file (see :func:`read_columns`).

    Args:
        path: the file.
        text_col: the column holding the text.
        label_col: the column holding the label, or ``None`` to read texts only (prediction).
        format: ``"csv"``, ``"tsv"`` or ``"jsonl"``; default from the suffix.
        errors: ``"strict"`` or ``"replace"`` for bytes that are not UTF-8.
        allow_empty_text: whether an empty text is allowed (default: an error listing the lines).
            An empty label is always an error.

    Returns:
        A :class:`TextLabels`.

    Example:
        >>> data = read_text_labels("reviews.tsv", "sentence", "polarity")  # doctest: +SKIP
        >>> len(data), data.labels[:2]  # doctest: +SKIP
        (10605, ['pos', 'neg'])
    """
    columns = [text_col] + ([label_col] if label_col is not None else [])
    not_empty = ([] if allow_empty_text else [text_col]) + ([label_col] if label_col is not None else [])
    out, lines = read_columns(path, columns, format=format, errors=errors, allow_empty=not_empty or True)
    labels = [v.strip() for v in out[label_col]] if label_col is not None else None
    return TextLabels(out[text_col], labels, lines, str(path))


__all__ = ["FORMATS", "TextDataError", "TextLabels", "decode_lines", "detect_format", "read_columns",
           "read_text_labels"]
