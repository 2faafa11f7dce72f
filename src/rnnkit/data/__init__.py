"""Data: built-in datasets, readers and batching (layer 6 of docs/design.md)."""

from rnnkit.data.builtin import load_sunspots
from rnnkit.data.mnist import load_mnist_digits
from rnnkit.data.moving_digits import moving_digits

__all__ = ["load_mnist_digits", "load_sunspots", "moving_digits"]
