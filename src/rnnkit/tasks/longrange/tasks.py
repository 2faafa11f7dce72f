"""The long-range dependency tasks for ``rnnkit train``: adding, copy memory, sequential and permuted MNIST.

Registered tasks (``rnnkit train --task adding --task.model indrnn --task.steps 500 ...``):
``adding``, ``copy``, ``smnist`` and ``psmnist``. Each builds a
:class:`~rnnkit.models.longrange.LongRangeModel` from a recipe of :data:`~rnnkit.models.longrange.RECIPES`
(the cell, its layers and its paper's initialisation) and the data of :mod:`rnnkit.data.longrange`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnkit.data.longrange import (
    COPY_ALPHABET,
    OnlineBatches,
    adding_problem,
    copy_memory,
    sequential_mnist,
)
from rnnkit.models.longrange import LongRangeModel, callbacks_for
from rnnkit.tasks import TaskSetup, register_task

# -------------------------------------------------------------------------------------------- tasks


@dataclass
class AddingConfig:
    """Settings of the ``adding`` task (Li et al. 2018: 128 units, batch 50)."""

    model: str = "indrnn"
    steps: int = 100
    hidden_size: int = 128
    num_layers: int | None = None
    chrono: bool = False
    batches_per_epoch: int = 100
    batch_size: int = 50
    test_size: int = 1000


@dataclass
class CopyConfig:
    """Settings of the ``copy`` task (Arjovsky et al. 2016: T blanks, 10 symbols of 8)."""

    model: str = "lstm"
    blanks: int = 100
    copy_length: int = 10
    hidden_size: int = 128
    num_layers: int | None = None
    chrono: bool = False
    batches_per_epoch: int = 100
    batch_size: int = 50
    test_size: int = 1000


@dataclass
class MNISTConfig:
    """Settings of the ``smnist`` / ``psmnist`` tasks (5,000 real digits: 4,000 train / 1,000 test)."""

    model: str = "lstm"
    hidden_size: int = 128
    num_layers: int | None = None
    chrono: bool = False
    permutation_seed: int = 0
    cache_dir: str | None = None


def _online_setup(model: LongRangeModel, make_batch, config: AddingConfig | CopyConfig, seed: int) -> TaskSetup:
    """Fresh training batches from ``make_batch(batch, generator)`` every step, and a fixed test set
    drawn once from a generator seeded apart from the training stream's."""
    train = OnlineBatches(make_batch, config.batch_size, config.batches_per_epoch, seed=seed)
    test = make_batch(config.test_size, torch.Generator().manual_seed(10_000 + seed))
    return TaskSetup(model=model, train_data=train, val_data=torch.utils.data.TensorDataset(*test),
                     callbacks=callbacks_for(model))


def build_adding(config: AddingConfig, *, seed: int = 0) -> TaskSetup:
    """Model, an online stream of training batches and a fixed test set for the adding problem."""
    steps = config.steps
    model = LongRangeModel(config.model, 2, config.hidden_size, 1, steps=steps, num_layers=config.num_layers,
                           chrono=config.chrono)
    return _online_setup(model, lambda b, g: adding_problem(b, steps, generator=g), config, seed)


def build_copy(config: CopyConfig, *, seed: int = 0) -> TaskSetup:
    """Model, an online stream of training batches and a fixed test set for the copy-memory task."""
    blanks, length = config.blanks, config.copy_length
    model = LongRangeModel(config.model, COPY_ALPHABET, config.hidden_size, COPY_ALPHABET,
                           steps=blanks + 2 * length, objective="classification", readout="every",
                           num_layers=config.num_layers, chrono=config.chrono, accuracy_steps=length)
    return _online_setup(model, lambda b, g: copy_memory(b, blanks, copy_length=length, generator=g), config, seed)


def _build_mnist(config: MNISTConfig, *, permute: bool) -> TaskSetup:
    train, test = sequential_mnist(permute=permute, permutation_seed=config.permutation_seed,
                                   cache_dir=config.cache_dir)
    model = LongRangeModel(config.model, 1, config.hidden_size, 10, steps=784, objective="classification",
                           num_layers=config.num_layers, chrono=config.chrono)
    return TaskSetup(model=model, train_data=train, val_data=test, callbacks=callbacks_for(model))


register_task("adding", AddingConfig, "long-range: the adding problem (sum of the two marked values), MSE")(
    build_adding)
register_task("copy", CopyConfig, "long-range: copy memory (recall 10 symbols after T blanks), cross-entropy")(
    build_copy)


@register_task("smnist", MNISTConfig, "long-range: sequential MNIST, 784 pixels one by one (5k real digits)")
def build_smnist(config: MNISTConfig, *, seed: int = 0) -> TaskSetup:
    """Sequential MNIST (row by row) on 4,000 training / 1,000 test digits."""
    return _build_mnist(config, permute=False)


@register_task("psmnist", MNISTConfig, "long-range: permuted sequential MNIST (a fixed pixel order, 5k digits)")
def build_psmnist(config: MNISTConfig, *, seed: int = 0) -> TaskSetup:
    """Permuted sequential MNIST (one fixed permutation) on 4,000 training / 1,000 test digits."""
    return _build_mnist(config, permute=True)


__all__ = [
    "AddingConfig",
    "CopyConfig",
    "MNISTConfig",
    "build_adding",
    "build_copy",
    "build_psmnist",
    "build_smnist",
]
