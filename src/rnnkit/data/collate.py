"""Batches of variable-length sequences: length buckets, right padding and ``lengths``.

The driver (:class:`rnnkit.Recurrent`) takes right-padded batch-first tensors with ``lengths``;
this module makes them, so no user code packs or pads:

* :func:`pad_sequences` — a list of ``(T_i,)`` id sequences or ``(T_i, F)`` feature sequences to
  one ``(B, T_max[, F])`` tensor plus ``lengths``;
* :class:`BucketBatchSampler` — batches of similar lengths (little padding), in a seeded order
  that changes every epoch;
* :class:`SequenceDataset` + :func:`collate` / :func:`sequence_loader` — a ``DataLoader`` whose
  batches are dicts ``{"inputs", "lengths"[, "targets"]}``, the shape every rnnkit sequence model
  reads.

Example:
    >>> padded, lengths = pad_sequences([[5, 6, 7], [8]])
    >>> padded.tolist(), lengths.tolist()
    ([[5, 6, 7], [8, 0, 0]], [3, 1])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler


def _as_tensor(sequence: Any, index: int, dtype: torch.dtype | None) -> Tensor:
    tensor = sequence if isinstance(sequence, Tensor) else torch.as_tensor(np.asarray(sequence))
    if dtype is not None:
        tensor = tensor.to(dtype)
    if tensor.dim() not in (1, 2):
        raise ValueError(
            f"sequences: item {index}: expected a (T,) or (T, F) sequence, got shape {tuple(tensor.shape)}"
        )
    if tensor.shape[0] == 0:
        raise ValueError(f"sequences: item {index} is empty (length 0); every sequence needs at least one step")
    return tensor


def pad_sequences(
    sequences: Sequence[Any], *, pad_value: float = 0, dtype: torch.dtype | None = None
) -> tuple[Tensor, Tensor]:
    """Right-pad sequences into one batch-first tensor.

    Args:
        sequences: ``B`` sequences, each ``(T_i,)`` (token ids) or ``(T_i, F)`` (features), as
            lists, arrays or tensors; all with the same trailing shape.
        pad_value: the value after each sequence's end (the tokenizer's ``pad_id`` for ids).
        dtype: convert to this dtype (default: as given; Python ints become int64).

    Returns:
        ``(padded, lengths)``: ``(B, T_max)`` or ``(B, T_max, F)``, and int64 ``(B,)`` lengths.

    Raises:
        ValueError: no sequences, an empty one, or mismatched feature sizes.

    Example:
        >>> x, n = pad_sequences([torch.ones(2, 3), torch.ones(4, 3)])
        >>> x.shape, n.tolist()
        (torch.Size([2, 4, 3]), [2, 4])
    """
    if len(sequences) == 0:
        raise ValueError("sequences: expected at least one sequence, got none")
    tensors = [_as_tensor(s, i, dtype) for i, s in enumerate(sequences)]
    trailing = tensors[0].shape[1:]
    for i, t in enumerate(tensors):
        if t.shape[1:] != trailing:
            raise ValueError(
                f"sequences: item {i} has trailing shape {tuple(t.shape[1:])}, item 0 has {tuple(trailing)}"
            )
    lengths = torch.tensor([t.shape[0] for t in tensors], dtype=torch.long)
    padded = tensors[0].new_full((len(tensors), int(lengths.max()), *trailing), pad_value)
    for i, t in enumerate(tensors):
        padded[i, : t.shape[0]] = t
    return padded, lengths


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose sequences have similar lengths, in a seeded order.

    Each epoch the indices are shuffled, cut into pools of ``batch_size * pool_batches``, each pool
    sorted by length and cut into batches, and the batches shuffled. Iterating again gives the
    next epoch's order; the same ``seed`` gives the same sequence of epochs.

    Args:
        lengths: the length of every sequence.
        batch_size: sequences per batch.
        shuffle: shuffle (else: batches of consecutive indices sorted by length, the same each epoch).
        seed: the seed of the order.
        pool_batches: how many batches' worth of sequences are sorted together (1: no bucketing).
        drop_last: drop a last batch smaller than ``batch_size``.

    Example:
        >>> sampler = BucketBatchSampler([5, 1, 4, 2], batch_size=2, shuffle=False)
        >>> list(sampler)
        [[1, 3], [2, 0]]
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        pool_batches: int = 50,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        if pool_batches < 1:
            raise ValueError(f"pool_batches: expected >= 1, got {pool_batches}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.pool_batches = pool_batches
        self.drop_last = drop_last
        self.generator = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.lengths)
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        pool = self.batch_size * (self.pool_batches if self.shuffle else max(n, 1))
        batches: list[list[int]] = []
        for start in range(0, n, pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            batches = [batches[i] for i in self.generator.permutation(len(batches))]
        yield from batches


class SequenceDataset(Dataset):
    """Sequences (and optional targets) for :func:`collate`.

    Args:
        sequences: ``(T_i,)`` id sequences or ``(T_i, F)`` feature sequences.
        targets: one target per sequence (a class index, or a multi-hot vector), or ``None``.
    """

    def __init__(self, sequences: Sequence[Any], targets: Sequence[Any] | Tensor | None = None) -> None:
        if targets is not None and len(targets) != len(sequences):
            raise ValueError(f"targets: expected {len(sequences)} (one per sequence), got {len(targets)}")
        self.sequences = sequences
        self.targets = targets

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        target = None if self.targets is None else self.targets[index]
        return self.sequences[index], target


def collate(items: Sequence[tuple[Any, Any]], *, pad_value: float = 0, dtype: torch.dtype | None = None) -> dict:
    """``[(sequence, target), ...]`` to ``{"inputs", "lengths"[, "targets"]}`` (see :func:`pad_sequences`)."""
    inputs, lengths = pad_sequences([s for s, _ in items], pad_value=pad_value, dtype=dtype)
    batch = {"inputs": inputs, "lengths": lengths}
    targets = [t for _, t in items]
    if targets and targets[0] is not None:
        batch["targets"] = torch.stack([torch.as_tensor(t) for t in targets])
    return batch


def sequence_loader(
    sequences: Sequence[Any],
    targets: Sequence[Any] | Tensor | None = None,
    *,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
    pad_value: float = 0,
    dtype: torch.dtype | None = None,
    pool_batches: int = 50,
) -> DataLoader:
    """A ``DataLoader`` of length-bucketed, padded batches ``{"inputs", "lengths"[, "targets"]}``.

    Args:
        sequences: id or feature sequences (see :func:`pad_sequences`).
        targets: one target per sequence, or ``None``.
        batch_size: sequences per batch.
        shuffle: a new seeded order each epoch (training); ``False`` for evaluation (batches of
            similar lengths; use ``pool_batches=1`` to keep the input order).
        seed: the seed of the order.
        pad_value: the padding value (the tokenizer's ``pad_id``).
        dtype: convert inputs to this dtype (``torch.float32`` for features).
        pool_batches: batches' worth of sequences sorted together (see :class:`BucketBatchSampler`).

    Returns:
        The loader; pass it to :meth:`rnnkit.Trainer.fit`.

    Example:
        >>> loader = sequence_loader([[3, 4], [5], [6, 7, 8]], [0, 1, 0], batch_size=2, shuffle=False)
        >>> [b["lengths"].tolist() for b in loader]
        [[1, 2], [3]]
    """
    lengths = [len(s) for s in sequences]
    if not shuffle and pool_batches == 1:
        sampler: Any = [list(range(i, min(i + batch_size, len(lengths)))) for i in range(0, len(lengths), batch_size)]
    else:
        sampler = BucketBatchSampler(lengths, batch_size, shuffle=shuffle, seed=seed, pool_batches=pool_batches)
    return DataLoader(
        SequenceDataset(sequences, targets),
        batch_sampler=sampler,
        collate_fn=functools.partial(collate, pad_value=pad_value, dtype=dtype),
    )


__all__ = ["BucketBatchSampler", "SequenceDataset", "collate", "pad_sequences", "sequence_loader"]
