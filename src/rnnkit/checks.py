"""Argument checks shared by every layer (like :mod:`rnnkit.optional`, it imports nothing of rnnkit)."""

from __future__ import annotations

from typing import Any


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` if it is an ``int`` >= 1 (not a bool), else raise a ValueError naming ``name``.

    Args:
        name: the argument's name, first in the message.
        value: what was given.

    Returns:
        ``value``.

    Example:
        >>> check_positive_int("hidden_size", 0)
        Traceback (most recent call last):
        ValueError: hidden_size: expected a positive integer, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


__all__ = ["check_positive_int"]
