"""Datasets shipped inside the package (see README.md in this folder for their origin)."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np


def load_sunspots() -> tuple[list[str], np.ndarray]:
    """Monthly sunspot numbers, 1749-01 to 1983-12 (2,820 values, public domain).

    Returns:
        ``(months, values)``: month labels ``"YYYY-MM"`` and a float64 array.

    Example:
        >>> months, values = load_sunspots()
        >>> months[0], values[0], len(values)
        ('1749-01', 58.0, 2820)
    """
    text = resources.files(__name__).joinpath("sunspots.csv").read_text()
    rows = list(csv.reader(text.splitlines()))[1:]
    return [r[0] for r in rows], np.array([float(r[1]) for r in rows])
