"""Parallel text: aligned source/target files or a two-column TSV, and length-bucketed batches.

The formats are the field's plainest: two UTF-8 files with one sentence per line, line ``i`` of
one the translation of line ``i`` of the other (what Moses, OpenNMT-py and JoeyNMT read), or one
file of ``source<TAB>target`` lines.

Documented behaviour for bad input:

* files of different line counts: :class:`ParallelDataError` naming both files and both counts;
* a TSV line without exactly one tab: :class:`ParallelDataError` naming the line;
* a pair with an empty side (blank line): dropped, with one warning that says how many and the
  first line numbers;
* a missing or empty file: :class:`ParallelDataError`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import Tensor


class ParallelDataError(ValueError):
    """Parallel data that cannot be read as pairs; the message names the file, the line, the counts."""


def _read_lines(path: str | os.PathLike, what: str) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise ParallelDataError(f"{what}: no such file: {path}")
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    if not lines:
        raise ParallelDataError(f"{what}: {path} is empty")
    return lines


def _drop_empty(pairs: list[tuple[str, str]], where: str) -> list[tuple[str, str]]:
    kept, empty = [], []
    for number, (source, target) in enumerate(pairs, start=1):
        if source.strip() and target.strip():
            kept.append((source.strip(), target.strip()))
        else:
            empty.append(number)
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (", ..." if len(empty) > 5 else "")
        warnings.warn(f"{where}: dropped {len(empty)} pair(s) with an empty side (line {shown})", stacklevel=3)
    if not kept:
        raise ParallelDataError(f"{where}: no pair has text on both sides")
    return kept


def read_parallel(source: str | os.PathLike, target: str | os.PathLike) -> list[tuple[str, str]]:
    """Pairs from two aligned files, one sentence per line.

    Args:
        source: the source-language file.
        target: the target-language file, line ``i`` translating line ``i`` of ``source``.

    Returns:
        ``[(source_sentence, target_sentence), ...]``, stripped, without pairs with an empty side.

    Raises:
        ParallelDataError: the files have different line counts (both counts are named), a file
            is missing or empty, or no pair is left.

    Example:
        >>> pairs = read_parallel("train.en", "train.es")  # doctest: +SKIP
    """
    src, tgt = _read_lines(source, "src"), _read_lines(target, "tgt")
    if len(src) != len(tgt):
        raise ParallelDataError(
            f"src and tgt: expected the same number of lines, got {len(src)} in {source} and {len(tgt)} in {target}"
        )
    return _drop_empty(list(zip(src, tgt, strict=True)), f"{source} / {target}")


def read_tsv(path: str | os.PathLike) -> list[tuple[str, str]]:
    """Pairs from a ``source<TAB>target`` file (no header).

    Args:
        path: the TSV file, one pair per line.

    Returns:
        ``[(source_sentence, target_sentence), ...]`` without pairs with an empty side.

    Raises:
        ParallelDataError: a line without exactly one tab (its number is named), a missing or
            empty file, or no pair left.

    Example:
        >>> pairs = read_tsv("pairs.tsv")  # doctest: +SKIP
    """
    pairs = []
    for number, line in enumerate(_read_lines(path, "data"), start=1):
        if not line.strip():
            pairs.append(("", ""))
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise ParallelDataError(
                f"data: {path} line {number}: expected 2 tab-separated fields (source, target), got {len(fields)}"
            )
        pairs.append((fields[0], fields[1]))
    return _drop_empty(pairs, str(path))


def pad_sequences(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[Tensor, Tensor]:
    """Right-padded ``(B, T)`` long tensor and ``(B,)`` lengths of token-id sequences."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    out = torch.full((len(sequences), int(lengths.max()) if len(sequences) else 0), pad_id, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        out[row, : len(sequence)] = torch.as_tensor(list(sequence), dtype=torch.long)
    return out, lengths


class BucketedPairs:
    """Batches of token-id pairs of similar lengths, reshuffled each pass (an iterable for the Trainer).

    Pairs are sorted by source length within windows of ``batch_size * 50`` shuffled pairs and cut
    into batches, and the batches are shuffled; the order comes from torch's global RNG, so the
    Trainer can resume it exactly. Each batch is a dict ``{"src", "src_lengths", "tgt_in", "tgt_out"}``:
    ``tgt_in`` starts with ``bos_id``, ``tgt_out`` ends with ``eos_id`` (teacher forcing).

    Args:
        pairs: ``[(source_ids, target_ids), ...]`` without BOS/EOS.
        batch_size: pairs per batch.
        pad_id, bos_id, eos_id: the special token ids.
        shuffle: reshuffle each pass (False: the given order, for validation).
    """

    def __init__(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]], *, batch_size: int, pad_id: int,
                 bos_id: int, eos_id: int, shuffle: bool = True) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
        if not pairs:
            raise ValueError("pairs: expected at least one pair, got none")
        empty = [i for i, (s, _t) in enumerate(pairs) if len(s) == 0]
        if empty:
            raise ValueError(f"pairs: source {empty[0]} has no token; every source needs at least one")
        self.pairs, self.batch_size, self.shuffle = list(pairs), batch_size, shuffle
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id

    def __len__(self) -> int:
        return math.ceil(len(self.pairs) / self.batch_size)

    def _order(self) -> list[list[int]]:
        n = len(self.pairs)
        if not self.shuffle:
            order = sorted(range(n), key=lambda i: len(self.pairs[i][0]))
            return [order[i: i + self.batch_size] for i in range(0, n, self.batch_size)]
        order = torch.randperm(n).tolist()
        window = self.batch_size * 50
        batches = []
        for start in range(0, n, window):
            chunk = sorted(order[start: start + window], key=lambda i: len(self.pairs[i][0]))
            batches += [chunk[i: i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        return [batches[i] for i in torch.randperm(len(batches)).tolist()]

    def collate(self, indices: Sequence[int]) -> dict[str, Tensor]:
        """The batch of the pairs at ``indices``."""
        src, src_lengths = pad_sequences([self.pairs[i][0] for i in indices], self.pad_id)
        tgt_in, _ = pad_sequences([[self.bos_id, *self.pairs[i][1]] for i in indices], self.pad_id)
        tgt_out, _ = pad_sequences([[*self.pairs[i][1], self.eos_id] for i in indices], self.pad_id)
        return {"src": src, "src_lengths": src_lengths, "tgt_in": tgt_in, "tgt_out": tgt_out}

    def __iter__(self) -> Iterator[dict[str, Tensor]]:
        for indices in self._order():
            yield self.collate(indices)


__all__ = ["BucketedPairs", "ParallelDataError", "pad_sequences", "read_parallel", "read_tsv"]
