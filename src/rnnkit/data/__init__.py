"""Data: built-in datasets, readers and batching (DESIGN.md layer 6)."""

from rnnkit.data.builtin import load_sunspots

__all__ = ["load_sunspots"]
