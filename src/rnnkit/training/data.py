"""Turning training data into batches that can be resumed exactly, on one process or several."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class ResumableSampler(Sampler[int]):
    """Seeded, optionally shuffled, optionally sharded order over ``n`` examples that can start mid-epoch.

    The order of epoch ``e`` is a permutation drawn from a generator seeded with ``seed + e`` (so
    it does not touch the global RNG), padded by wrapping around to a multiple of ``world_size``;
    process ``rank`` takes every ``world_size``-th index starting at ``rank``. With a per-process
    batch ``b``, the union of the ranks' ``i``-th batches is exactly the ``i``-th batch of
    ``b * world_size`` examples that one process would see.

    Args:
        n: examples in the dataset.
        seed: base seed of the order.
        shuffle: permute (else ``0, 1, ..., n - 1``).
        rank, world_size: this process and the number of processes.
    """

    def __init__(self, n: int, *, seed: int = 0, shuffle: bool = True, rank: int = 0, world_size: int = 1) -> None:
        self.n = n
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, *, start: int = 0) -> None:
        """Use epoch ``epoch``'s order and skip its first ``start`` indices (of this process)."""
        self.epoch = epoch
        self.start = start

    def __len__(self) -> int:
        return math.ceil(self.n / self.world_size) - self.start

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=generator).tolist()
        else:
            order = list(range(self.n))
        total = math.ceil(self.n / self.world_size) * self.world_size
        order += order[: total - len(order)]
        return iter(order[self.rank : total : self.world_size][self.start :])


class Batches:
    """The Trainer's view of training or validation data.

    A ``Dataset`` gets a :class:`DataLoader` over a :class:`ResumableSampler`, so resuming jumps
    straight to the first unseen batch. Any other iterable (a ready ``DataLoader``, a list of
    batches) is used as given; resuming mid-epoch re-creates its iterator under the global RNG
    state saved at the start of that epoch and draws and discards the batches already used — exact
    when its order depends only on that RNG (``DataLoader(shuffle=True)`` without its own
    generator qualifies) or on nothing (no shuffling).
    """

    def __init__(self, data: Any, *, batch_size: int, shuffle: bool, drop_last: bool, num_workers: int,
                 seed: int, rank: int = 0, world_size: int = 1, name: str = "train_data") -> None:
        self.sampler: ResumableSampler | None = None
        self.batch_size = batch_size
        if isinstance(data, Dataset) and not isinstance(data, torch.utils.data.IterableDataset):
            if not hasattr(data, "__len__"):
                raise TypeError(f"{name}: a map-style Dataset needs __len__")
            self.sampler = ResumableSampler(len(data), seed=seed, shuffle=shuffle, rank=rank, world_size=world_size)
            self.loader: Iterable[Any] = DataLoader(
                data, batch_size=batch_size, sampler=self.sampler, drop_last=drop_last, num_workers=num_workers
            )
        elif isinstance(data, Iterable) and not isinstance(data, (torch.Tensor, str, bytes)):
            if world_size > 1 and isinstance(data, DataLoader) and not _is_distributed(data):
                raise ValueError(
                    f"{name}: under DDP give a Dataset (the Trainer shards it) or a DataLoader with a "
                    "DistributedSampler; this DataLoader would feed every process the same batches"
                )
            self.loader = data
        else:
            raise TypeError(
                f"{name}: expected a torch Dataset, a DataLoader or another iterable of batches, "
                f"got {type(data).__name__}"
            )

    def __len__(self) -> int:
        """Batches per epoch (``TypeError`` for an iterable without a length)."""
        if self.sampler is not None:
            full = math.ceil(self.sampler.n / self.sampler.world_size)
            drop = getattr(self.loader, "drop_last", False)
            return full // self.batch_size if drop else math.ceil(full / self.batch_size)
        return len(self.loader)  # type: ignore[arg-type]

    def has_length(self) -> bool:
        try:
            len(self)
        except TypeError:
            return False
        return True

    def epoch(self, epoch: int, *, skip: int = 0) -> Iterator[Any]:
        """Iterate epoch ``epoch``, starting after its first ``skip`` batches."""
        if self.sampler is not None:
            self.sampler.set_epoch(epoch, start=skip * self.batch_size)
            return iter(self.loader)
        sampler = getattr(self.loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):  # a user's DistributedSampler reshuffles per epoch
            sampler.set_epoch(epoch)
        iterator = iter(self.loader)
        for _ in range(skip):
            next(iterator, None)
        return iterator


def _is_distributed(loader: DataLoader) -> bool:
    from torch.utils.data.distributed import DistributedSampler

    sampler = loader.batch_sampler.sampler if loader.batch_sampler is not None else loader.sampler
    return isinstance(sampler, (DistributedSampler, ResumableSampler))
